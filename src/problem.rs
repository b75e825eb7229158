//! Everything the compiler can complain about, as data.
//!
//! Phases push [`Problem`]s: variants that hold spans and facts, no wording.
//! All wording lives in [`Problem::to_diagnostic`], the one place that turns a
//! problem into a [`Diagnostic`] with a code, a title, labels, notes and help.

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::span::Span;

/// What kind of thing a name names, for messages about names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Relation,
    Source,
    Column,
    Alias,
    Setting,
    Reconcile,
    Function,
    Parameter,
    Doc,
    UnitTest,
}

impl NameKind {
    fn word(self) -> &'static str {
        match self {
            NameKind::Relation => "relation",
            NameKind::Source => "source",
            NameKind::Column => "column",
            NameKind::Alias => "alias",
            NameKind::Setting => "setting",
            NameKind::Reconcile => "reconciliation",
            NameKind::Function => "function",
            NameKind::Parameter => "parameter",
            NameKind::Doc => "doc block",
            NameKind::UnitTest => "unit test",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    // ---- files (F)
    /// A file of the project could not be read at all.
    UnreadableFile {
        path: String,
        reason: String,
    },
    /// A file is not valid UTF-8; `span` points at the first bad byte.
    InvalidUtf8 {
        span: Span,
    },
    /// A file is larger than the compiler accepts.
    FileTooLarge {
        span: Span,
        size: u64,
        limit: u64,
    },
    /// A CSV in the seeds folder whose name is no source table's.
    UnmatchedSeed {
        span: Span,
        table: String,
        suggestion: Option<String>,
    },
    /// Two CSVs (in different subfolders) for one source table.
    DuplicateSeed {
        table: String,
        first: Span,
        second: Span,
    },
    /// A table of a source whose other tables are seeded has no CSV: it is
    /// read from the warehouse as it is.
    MissingSeed {
        span: Span,
        table: String,
        file: String,
    },
    /// A `.sql` file among the model files: shopc reads only `.shop` files.
    SqlFile {
        span: Span,
    },
    /// The project has no `.shop` files under its model paths (`files` is
    /// 0), or its files define nothing.
    EmptyProject {
        paths: Vec<String>,
        files: usize,
    },

    // ---- parse (P)
    Syntax {
        span: Span,
        expected: Vec<String>,
        found: String,
        /// What the author probably meant, when the input looks like SQL or
        /// Jinja from a dbt project.
        hint: Option<&'static str>,
    },
    InvalidLiteral {
        span: Span,
        reason: String,
    },
    /// More syntax errors in a file than are reported one by one.
    MoreSyntaxErrors {
        span: Span,
        count: usize,
    },
    /// The file ends inside an item: `open` is the innermost bracket that
    /// is never closed.
    Unclosed {
        open: Span,
        end: Span,
        bracket: char,
    },
    /// An expression nested deeper than the compiler accepts; `span` is
    /// where the limit was crossed.
    TooDeep {
        span: Span,
        limit: usize,
    },

    // ---- config (C)
    InvalidProjectFile {
        span: Option<Span>,
        message: String,
    },
    UnknownProjectKey {
        span: Option<Span>,
        message: String,
    },
    /// An environment of shop.toml whose name or schema rule no warehouse
    /// would accept.
    InvalidEnvironment {
        span: Span,
        message: String,
        help: Option<String>,
    },
    /// A `[notifications.NAME]` of shop.toml that cannot be sent: an
    /// unknown kind, event or environment.
    InvalidNotification {
        span: Span,
        message: String,
        help: Option<String>,
    },
    /// A secret (a webhook URL) written in shop.toml instead of read from
    /// the environment. The file's text is masked where it is shown.
    SecretInProjectFile {
        span: Span,
        key: String,
        example: String,
    },
    /// An `on_run_start` / `on_run_end` statement of shop.toml that cannot
    /// be run: empty, or a placeholder that does not exist.
    InvalidHook {
        span: Span,
        message: String,
        help: Option<String>,
    },
    UnknownSetting {
        span: Span,
        key: String,
        item: &'static str,
        known: &'static [&'static str],
        suggestion: Option<String>,
    },
    InvalidSetting {
        span: Span,
        key: String,
        expected: String,
        found: String,
    },
    DuplicateSetting {
        key: String,
        first: Span,
        second: Span,
    },
    UnknownLayer {
        span: Span,
        name: String,
        known: Vec<String>,
        suggestion: Option<String>,
    },
    UnknownTest {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    InvalidTest {
        span: Span,
        test: String,
        reason: String,
    },

    // ---- resolve (R)
    UnknownRelation {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    UnknownColumn {
        span: Span,
        name: String,
        relation: String,
        suggestion: Option<String>,
    },
    Duplicate {
        kind: NameKind,
        name: String,
        first: Span,
        second: Span,
    },
    Cycle {
        path: Vec<(String, Span)>,
    },
    AmbiguousColumn {
        span: Span,
        name: String,
        candidates: Vec<String>,
    },
    UnknownQualifier {
        span: Span,
        name: String,
        known: Vec<String>,
        suggestion: Option<String>,
    },
    MissingFrom {
        span: Span,
        item: &'static str,
    },
    MisplacedClause {
        span: Span,
        clause: &'static str,
        reason: &'static str,
        other: Option<Span>,
    },
    NoColumns {
        span: Span,
    },
    UnknownVar {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    /// A relation's physical name ends with the suffix of the tables shopc
    /// builds beside the ones they replace.
    ReservedName {
        span: Span,
        name: String,
    },
    /// A name in a function's body that is none of its parameters.
    UnknownParameter {
        span: Span,
        name: String,
        function: String,
        params: Vec<String>,
        suggestion: Option<String>,
    },
    /// A function of the project named like one of the library's.
    BuiltinName {
        span: Span,
        name: String,
    },
    /// `doc(NAME)` in a doc comment, and no `doc NAME` block.
    UnknownDoc {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    /// A union branch whose column names are not those of the first branch.
    UnionColumns {
        span: Span,
        relation: String,
        first: (Span, String),
        missing: Vec<String>,
        extra: Vec<String>,
    },

    // ---- types (T)
    ArgumentType {
        span: Span,
        function: String,
        position: usize,
        expected: String,
        found: String,
        /// A type of the language to cast the argument to, when one fits.
        cast_to: Option<String>,
        /// Where the function is defined, for a function of the project.
        defined: Option<Span>,
    },
    OperatorType {
        span: Span,
        op: &'static str,
        lhs: (Span, String),
        rhs: (Span, String),
        expected: &'static str,
    },
    IncomparableTypes {
        span: Span,
        lhs: (Span, String),
        rhs: (Span, String),
    },
    UnknownFunction {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    ArgumentCount {
        span: Span,
        function: String,
        expected: String,
        found: usize,
        defined: Option<Span>,
    },
    UnknownType {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    NotBoolean {
        span: Span,
        context: &'static str,
        found: String,
    },
    AggregateNotAllowed {
        span: Span,
        function: String,
        context: &'static str,
    },
    MismatchedBranches {
        span: Span,
        first: (Span, String),
        other: (Span, String),
    },
    WindowMisuse {
        span: Span,
        function: String,
        reason: &'static str,
    },
    MixedAggregation {
        aggregate: Span,
        plain: Span,
        column: String,
    },
    /// A function of the project that calls itself, directly or through
    /// others: `path` is the chain of calls, ending where it began.
    RecursiveFunction {
        span: Span,
        function: String,
        defined: Span,
        path: Vec<String>,
    },
    /// A function's body has another type than the one it declares.
    ReturnType {
        span: Span,
        function: String,
        declared: (Span, String),
        found: String,
    },
    /// A value of a unit test's row that is not of its column's type.
    RowValue {
        span: Span,
        column: String,
        ty: String,
        found: String,
    },
    /// A column whose type in a union branch does not unify with the first.
    UnionType {
        span: Span,
        column: String,
        relation: String,
        found: String,
        first: (Span, String, String),
    },
    /// A call whose inlined body would be too large or too deep.
    ExpansionTooLarge {
        span: Span,
        function: String,
        defined: Span,
        nodes: usize,
        depth: usize,
    },

    // ---- joins (J)
    /// A duplicate-sensitive aggregate over rows that a to-many join repeats.
    FanOut {
        aggregate: Span,
        function: String,
        alias: String,
        join: Span,
        join_alias: String,
    },

    /// An inner to-one join drops the rows that find no match (a warning).
    RowLoss {
        join: Span,
        alias: String,
        relation: String,
        left_alias: String,
    },

    /// `join one` on a join the proof says is to-many.
    JoinClaimBroken {
        claim: Span,
        join: Span,
        alias: String,
        relation: String,
        /// The joined relation's grain, when it has one.
        key: Option<Vec<String>>,
        equated: Vec<String>,
    },

    // ---- measures (M)
    /// `sum` over a column that is an average, a ratio, a distinct count…
    SumOfNonAdditive {
        aggregate: Span,
        column: String,
        relation: String,
        /// Why it is not additive: "an average", "a ratio"…
        reason: String,
        /// Where the column is defined.
        defined: Option<Span>,
    },
    /// `sum` of a semi-additive measure across the dimension it must not be
    /// summed over.
    SumAcrossDimension {
        aggregate: Span,
        column: String,
        relation: String,
        dimension: String,
        /// The `group by` that leaves the dimension out, if any.
        group_by: Option<Span>,
    },

    // ---- incremental (I)
    /// An incremental model's `unique_key` (or a snapshot's) that can be
    /// NULL: a merge never matches a NULL key, so it inserts those rows again
    /// on every run.
    NullableKey {
        /// The setting that names the key.
        setting: Span,
        key: String,
        relation: String,
        /// `"an incremental model"` or `"a snapshot"`.
        kind: &'static str,
        /// Where the NULL comes from, and why: the chain from the key to
        /// the model that makes it NULL-able.
        because: Vec<(Span, String)>,
    },

    // ---- emission (E)
    /// A physical option the target dialect does not have (a warning).
    UnsupportedOption {
        span: Span,
        option: &'static str,
        model: String,
        dialect: &'static str,
    },
    /// A physical name (or the name of the table built beside it) longer
    /// than the warehouse keeps: PostgreSQL cuts names at 63 bytes, so
    /// `NAME__shopc_new` could become `NAME`.
    NameTooLong {
        span: Span,
        name: String,
        /// The name's bytes, with a run's scratch suffix for a table.
        bytes: usize,
        limit: usize,
        dialect: &'static str,
        /// A table's name, counted with the suffix of its scratch table.
        scratch: bool,
    },

    // ---- grain (G)
    /// In a grouped model, an output that is neither aggregated, a group
    /// key, nor determined by the keys.
    NotGrouped {
        column: String,
        reference: Span,
        group_by: Span,
    },
    /// A snapshot whose source can hold several rows per key (per key and
    /// timestamp, with the timestamp strategy).
    SnapshotGrain {
        key: Span,
        snapshot: String,
        unique_key: Vec<String>,
        /// The timestamp column, with the timestamp strategy.
        timestamp: Option<String>,
        /// Where the source is defined, its name, and its grain if known.
        from: Box<(Span, String, Option<Vec<String>>)>,
    },
    /// A declared grain that the derivation does not prove.
    GrainNotProven {
        declared: Span,
        model: String,
        columns: Vec<String>,
        cause: Box<GrainBreak>,
    },
}

/// Why a declared grain could not be proven: the facts, not the words.
#[derive(Debug, Clone, PartialEq)]
pub enum GrainBreak {
    /// The relation read by `from` has no known grain.
    UnknownSource { span: Span, relation: String },
    /// A join can match several rows of its relation per row.
    ToManyJoin {
        span: Span,
        alias: String,
        relation: String,
        key: Option<Vec<String>>,
        equated: Vec<String>,
    },
    /// `group by` or `dedupe` on something other than plain columns.
    ExpressionKey { span: Span },
    /// A full join: rows of one side only have the other's key NULL.
    FullJoin { span: Span, alias: String },
    /// A union branch without a known grain inside the declared columns.
    UnionBranch {
        span: Span,
        relation: String,
        grain: Option<Vec<String>>,
    },
    /// Union branches whose rows may share the declared key: no declared
    /// column is a different constant in each branch.
    UnionOverlap { span: Span },
    /// The derived grain exists but is not covered by the declaration, or its
    /// columns are not all outputs.
    Other {
        span: Span,
        derived: Option<Vec<String>>,
        /// When the derived grain is not made of outputs: the query's grain
        /// (`i.order_id`), and the declared columns computed from it.
        query: Option<(Vec<String>, Vec<String>)>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> Option<String> {
    suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
}

fn list(items: &[String]) -> String {
    let shown: Vec<String> = items.iter().take(12).map(|s| format!("`{s}`")).collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl Problem {
    pub fn code(&self) -> Code {
        use Problem::*;
        match self {
            UnreadableFile { .. } => Code::F001,
            InvalidUtf8 { .. } => Code::F002,
            FileTooLarge { .. } => Code::F003,
            EmptyProject { .. } => Code::F004,
            UnmatchedSeed { .. } => Code::F005,
            DuplicateSeed { .. } => Code::F006,
            MissingSeed { .. } => Code::F007,
            SqlFile { .. } => Code::F008,
            Syntax { .. } => Code::P001,
            InvalidLiteral { .. } => Code::P002,
            TooDeep { .. } => Code::P003,
            Unclosed { .. } | MoreSyntaxErrors { .. } => Code::P001,
            InvalidProjectFile { .. } => Code::C001,
            UnknownProjectKey { .. } => Code::C002,
            InvalidEnvironment { .. } => Code::C009,
            InvalidHook { .. } => Code::C010,
            InvalidNotification { .. } => Code::C011,
            SecretInProjectFile { .. } => Code::C012,
            UnknownSetting { .. } => Code::C003,
            InvalidSetting { .. } => Code::C004,
            DuplicateSetting { .. } => Code::C005,
            UnknownLayer { .. } => Code::C006,
            UnknownTest { .. } => Code::C007,
            InvalidTest { .. } => Code::C008,
            UnknownRelation { .. } => Code::R001,
            UnknownColumn { .. } => Code::R002,
            Duplicate { .. } => Code::R003,
            Cycle { .. } => Code::R004,
            AmbiguousColumn { .. } => Code::R005,
            UnknownQualifier { .. } => Code::R006,
            MissingFrom { .. } => Code::R007,
            MisplacedClause { .. } => Code::R008,
            NoColumns { .. } => Code::R009,
            UnknownVar { .. } => Code::R010,
            ReservedName { .. } => Code::R011,
            UnknownParameter { .. } => Code::R002,
            BuiltinName { .. } => Code::R012,
            UnknownDoc { .. } => Code::R013,
            UnionColumns { .. } => Code::R014,
            ArgumentType { .. } => Code::T001,
            OperatorType { .. } => Code::T002,
            IncomparableTypes { .. } => Code::T003,
            UnknownFunction { .. } => Code::T004,
            ArgumentCount { .. } => Code::T005,
            UnknownType { .. } => Code::T006,
            NotBoolean { .. } => Code::T007,
            AggregateNotAllowed { .. } => Code::T008,
            MismatchedBranches { .. } => Code::T009,
            WindowMisuse { .. } => Code::T010,
            MixedAggregation { .. } => Code::T011,
            RecursiveFunction { .. } => Code::T012,
            ReturnType { .. } => Code::T013,
            ExpansionTooLarge { .. } => Code::T014,
            UnionType { .. } => Code::T015,
            RowValue { .. } => Code::T016,
            GrainNotProven { .. } => Code::G001,
            NotGrouped { .. } => Code::G002,
            SnapshotGrain { .. } => Code::G003,
            FanOut { .. } => Code::J001,
            RowLoss { .. } => Code::J002,
            JoinClaimBroken { .. } => Code::J003,
            SumOfNonAdditive { .. } => Code::M001,
            SumAcrossDimension { .. } => Code::M002,
            NullableKey { .. } => Code::I001,
            UnsupportedOption { .. } => Code::E001,
            NameTooLong { .. } => Code::E002,
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Problem::RowLoss { .. }
            | Problem::UnsupportedOption { .. }
            | Problem::MissingSeed { .. }
            | Problem::SqlFile { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The one place where problems get their words.
    pub fn to_diagnostic(&self) -> Diagnostic {
        use Problem::*;
        let d = Diagnostic::new(self.code(), self.severity());
        match self {
            UnreadableFile { path, reason } => d
                .with_title(format!("cannot read `{path}`"))
                .with_note(reason.clone()),
            InvalidUtf8 { span } => d
                .with_title("file is not valid UTF-8")
                .with_primary(*span, "this byte does not start a UTF-8 character")
                .with_help("save the file as UTF-8"),
            FileTooLarge { span, size, limit } => d
                .with_title("file is too large to compile")
                .with_primary(*span, format!("this file has {size} bytes"))
                .with_note(format!("the limit is {limit} bytes per `.shop` file"))
                .with_help("split the models across several files"),
            EmptyProject { paths, files } => {
                let d = if *files == 0 {
                    d.with_title("the project has no `.shop` files")
                        .with_note(format!("looked under: {}", list(paths)))
                } else {
                    d.with_title("the project defines nothing")
                        .with_note(format!("{files} `.shop` file(s), none defines a source, model or snapshot"))
                };
                d.with_help("add a model file, or set `paths.models` in shop.toml")
            }
            UnmatchedSeed {
                span,
                table,
                suggestion,
            } => d
                .with_title(format!("no source table is named `{table}`"))
                .with_primary(*span, "this seed fills no source table")
                .with_note("a seed CSV fills the source table of its name, whose columns a `source` block declares")
                .with_optional_help(did_you_mean(suggestion).or(Some(format!(
                    "declare `table {table} {{ columns {{ … }} }}` in a source, or move the file out of the seeds folder"
                )))),
            DuplicateSeed {
                table,
                first,
                second,
            } => d
                .with_title(format!("two seed files fill `{table}`"))
                .with_primary(*second, "this file")
                .with_secondary(*first, "and this one")
                .with_help("keep one of them: a table is filled from one CSV"),
            MissingSeed { span, table, file } => d
                .with_title(format!("`{table}` has no seed file"))
                .with_primary(*span, format!("no `{file}` in the seeds folder"))
                .with_note("the other tables of its source are seeded; this one is read from the warehouse as it is")
                .with_help(format!("add `{file}`, or load the table into the warehouse before building")),
            SqlFile { span } => d
                .with_title("a `.sql` file among the models is not read")
                .with_primary(*span, "shopc reads `.shop` files only")
                .with_help("write the model in a `.shop` file: `model NAME { from RELATION alias  columns { … } }`; `shopc explain F008` shows how a dbt model translates"),
            Syntax {
                span,
                expected,
                found,
                hint,
            } => {
                let label = if expected.is_empty() {
                    format!("unexpected {found}")
                } else {
                    format!("expected {}", or_list(expected))
                };
                d.with_title(format!("syntax error: unexpected {found}"))
                    .with_primary(*span, label)
                    .with_optional_help(hint.map(str::to_string))
            }
            InvalidLiteral { span, reason } => d
                .with_title("invalid literal")
                .with_primary(*span, reason.clone()),
            MoreSyntaxErrors { span, count } => d
                .with_title(format!(
                    "{count} more syntax error{} in this file",
                    if *count == 1 { "" } else { "s" }
                ))
                .with_primary(*span, "the last one is in the item that starts here")
                .with_note(format!(
                    "the first {} are reported one by one; every item was parsed",
                    crate::syntax::MAX_SYNTAX_ERRORS
                ))
                .with_help("fix the first errors: the rest often follow from them"),
            Unclosed { open, end, bracket } => {
                let close = match bracket {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                d.with_title(format!("syntax error: `{bracket}` is never closed"))
                    .with_primary(*open, format!("this `{bracket}` has no matching `{close}`"))
                    .with_secondary(*end, "the file ends here")
                    .with_help(format!("add `{close}` where the block or list ends"))
            }
            TooDeep { span, limit } => d
                .with_title(format!("expression nested deeper than {limit} levels"))
                .with_primary(*span, format!("level {} starts here", limit + 1))
                .with_note(format!(
                    "every parenthesis, call, `case` and operator of a chain (`a + b + …`, `- - x`) is a level; \
                     {limit} is also DuckDB's `max_expression_depth`"
                ))
                .with_help(
                    "compute parts of it as columns of an upstream model, or write a long chain of `or` \
                     as `x in (…)`; the item is skipped until then",
                ),
            InvalidProjectFile { span, message } => d
                .with_title("invalid shop.toml")
                .with_optional_primary(*span, message.clone()),
            UnknownProjectKey { span, message } => d
                .with_title("unknown key in shop.toml")
                .with_optional_primary(*span, message.clone())
                .with_help("remove the key or fix its spelling; shop.toml accepts only documented keys"),
            InvalidEnvironment {
                span,
                message,
                help,
            } => d
                .with_title("invalid environment in shop.toml")
                .with_primary(*span, message.clone())
                .with_optional_help(help.clone()),
            InvalidNotification {
                span,
                message,
                help,
            } => d
                .with_title("invalid notification in shop.toml")
                .with_primary(*span, message.clone())
                .with_optional_help(help.clone()),
            SecretInProjectFile { span, key, example } => d
                .with_title(format!("`{key}` is a secret, written in shop.toml"))
                .with_primary(*span, "read it from the environment instead (shown masked)")
                .with_note(
                    "shop.toml is committed with the project: a webhook URL in it is readable by \
                     everyone who can read the repository, and can post as the team",
                )
                .with_help(format!("write `{example}`, and set the variable where shopc runs")),
            InvalidHook {
                span,
                message,
                help,
            } => d
                .with_title("invalid hook in shop.toml")
                .with_primary(*span, message.clone())
                .with_optional_help(help.clone()),
            UnknownSetting {
                span,
                key,
                item,
                known,
                suggestion,
            } => {
                let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
                d.with_title(format!("unknown setting `{key}` in a {item}"))
                    .with_primary(*span, "not a setting of this item")
                    .with_note(format!("a {item} accepts: {}", list(&known)))
                    .with_optional_help(did_you_mean(suggestion))
            }
            InvalidSetting {
                span,
                key,
                expected,
                found,
            } => d
                .with_title(format!("invalid value for `{key}`"))
                .with_primary(*span, format!("expected {expected}, found {found}")),
            DuplicateSetting { key, first, second } => d
                .with_title(format!("`{key}` is set twice"))
                .with_primary(*second, "set again here")
                .with_secondary(*first, "first set here")
                .with_help("keep one of the two"),
            UnknownLayer {
                span,
                name,
                known,
                suggestion,
            } => d
                .with_title(format!("unknown layer `{name}`"))
                .with_primary(*span, "not a layer of shop.toml")
                .with_note(if known.is_empty() {
                    "shop.toml declares no layers".to_string()
                } else {
                    format!("layers: {}", list(known))
                })
                .with_optional_help(did_you_mean(suggestion).or(Some(
                    "declare it as `[layers.NAME]` in shop.toml".to_string(),
                ))),
            UnknownTest {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("unknown test `{name}`"))
                .with_primary(*span, "not a known test")
                .with_note(format!("tests: {}", crate::ir::TEST_NAMES.join(", ")))
                .with_optional_help(did_you_mean(suggestion)),
            InvalidTest { span, test, reason } => d
                .with_title(format!("invalid arguments to test `{test}`"))
                .with_primary(*span, reason.clone()),
            UnknownRelation {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("unknown relation `{name}`"))
                .with_primary(*span, "no source table, model or snapshot has this name")
                .with_optional_help(did_you_mean(suggestion)),
            UnknownColumn {
                span,
                name,
                relation,
                suggestion,
            } => d
                .with_title(format!("unknown column `{name}`"))
                .with_primary(
                    *span,
                    match relation.as_str() {
                        "" => "no relation is read here: a series' bounds are constants".to_string(),
                        relation => format!("`{relation}` has no column `{name}`"),
                    },
                )
                .with_optional_help(did_you_mean(suggestion)),
            Duplicate {
                kind,
                name,
                first,
                second,
            } => d
                .with_title(format!("the {} `{name}` is defined twice", kind.word()))
                .with_primary(*second, "defined again here")
                .with_secondary(*first, "first defined here")
                .with_help(format!("rename one of them: a {} name must be unique", kind.word())),
            Cycle { path } => {
                let names: Vec<&str> = path.iter().map(|(n, _)| n.as_str()).collect();
                let mut chain = names.join(" → ");
                if let Some(first) = names.first() {
                    chain.push_str(" → ");
                    chain.push_str(first);
                }
                let mut d = d.with_title(format!("dependency cycle: {chain}"));
                for (i, (name, span)) in path.iter().enumerate() {
                    let next = &path[(i + 1) % path.len()].0;
                    let message = if name == next {
                        format!("`{name}` reads itself")
                    } else {
                        format!("`{name}` reads `{next}`")
                    };
                    d = if i == 0 {
                        d.with_primary(*span, message)
                    } else {
                        d.with_secondary(*span, message)
                    };
                }
                d.with_help("a model can only read relations built before it; break the cycle")
            }
            AmbiguousColumn {
                span,
                name,
                candidates,
            } => d
                .with_title(format!("column `{name}` is ambiguous"))
                .with_primary(*span, format!("found in {}", list(candidates)))
                .with_help(format!(
                    "qualify it, e.g. `{}.{name}`",
                    candidates.first().map(String::as_str).unwrap_or("alias")
                )),
            UnknownQualifier {
                span,
                name,
                known,
                suggestion,
            } => d
                .with_title(format!("unknown table alias `{name}`"))
                .with_primary(*span, "no relation in `from` or `join` has this alias")
                .with_note(format!("in scope: {}", list(known)))
                .with_optional_help(did_you_mean(suggestion)),
            MissingFrom { span, item } => d
                .with_title(format!("this {item} has no `from`"))
                .with_primary(*span, format!("a {item} must read a relation"))
                .with_help("add `from RELATION alias`"),
            MisplacedClause {
                span,
                clause,
                reason,
                other,
            } => {
                let d = d
                    .with_title(format!("misplaced `{clause}`"))
                    .with_primary(*span, *reason);
                match other {
                    Some(other) => d.with_secondary(*other, "conflicts with this"),
                    None => d,
                }
            }
            NoColumns { span } => d
                .with_title("model has no columns")
                .with_primary(*span, "this model selects nothing")
                .with_help("add a `columns`, `dimensions` or `measures` block"),
            UnknownVar {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("unknown variable `{name}`"))
                .with_primary(*span, "not declared under `[vars]` in shop.toml")
                .with_optional_help(did_you_mean(suggestion)),
            ReservedName { span, name } => d
                .with_title(format!("`{name}` contains `{}`, which shopc reserves", crate::ir::SCRATCH_SUFFIX))
                .with_primary(*span, "a reserved name")
                .with_note(format!(
                    "shopc builds each table as `NAME{}` (in a run, `NAME{0}_` and the run's id) beside \
                     the one it replaces, and drops such tables left by an interrupted run, so another \
                     relation's build could drop this one",
                    crate::ir::SCRATCH_SUFFIX
                ))
                .with_help("rename it"),
            ArgumentType {
                span,
                function,
                position,
                expected,
                found,
                cast_to,
                defined,
            } => {
                let d = d
                    .with_title(format!("wrong argument type for `{function}`"))
                    .with_primary(
                        *span,
                        format!("argument {position} is {found}, `{function}` expects {expected}"),
                    )
                    .with_help(match cast_to {
                        Some(ty) => format!("convert it first, e.g. `cast(... as {ty})`"),
                        None => format!("pass {expected}"),
                    });
                match defined {
                    Some(at) => d.with_secondary(*at, format!("`{function}` is defined here")),
                    None => d,
                }
            }
            OperatorType {
                span,
                op,
                lhs,
                rhs,
                expected,
            } => d
                .with_title(format!("`{op}` cannot combine {} and {}", lhs.1, rhs.1))
                .with_primary(*span, format!("`{op}` needs {expected}"))
                .with_secondary(lhs.0, format!("this is {}", lhs.1))
                .with_secondary(rhs.0, format!("this is {}", rhs.1)),
            IncomparableTypes { span, lhs, rhs } => d
                .with_title(format!("cannot compare {} with {}", lhs.1, rhs.1))
                .with_primary(*span, "these values have incompatible types")
                .with_secondary(lhs.0, format!("this is {}", lhs.1))
                .with_secondary(rhs.0, format!("this is {}", rhs.1))
                .with_help("cast one side, or use a typed literal such as `date '2024-01-31'`"),
            UnknownFunction {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("unknown function `{name}`"))
                .with_primary(*span, "not in the standard library")
                .with_optional_help(did_you_mean(suggestion).or(Some(
                    "for a warehouse-only function use `sql(\"...\") : TYPE`".to_string(),
                ))),
            ArgumentCount {
                span,
                function,
                expected,
                found,
                defined,
            } => {
                let d = d
                    .with_title(format!("wrong number of arguments to `{function}`"))
                    .with_primary(*span, format!("expected {expected}, found {found}"));
                match defined {
                    Some(at) => d.with_secondary(*at, format!("`{function}` is defined here")),
                    None => d,
                }
            }
            UnknownType {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("unknown type `{name}`"))
                .with_primary(*span, "not a type")
                .with_note("types: text, integer (int), bigint, numeric(p, s), double, boolean, date, timestamp, timestamptz")
                .with_optional_help(did_you_mean(suggestion)),
            NotBoolean {
                span,
                context,
                found,
            } => d
                .with_title(format!("{context} must be a boolean"))
                .with_primary(*span, format!("this is {found}"))
                .with_help("compare it with something, e.g. `x = 1` or `x is not null`"),
            AggregateNotAllowed {
                span,
                function,
                context,
            } => d
                .with_title(format!("aggregate `{function}` is not allowed {context}"))
                .with_primary(*span, "aggregates are computed after rows are filtered and grouped")
                .with_help("aggregate in a `measures` block, or filter aggregates with `having`"),
            MismatchedBranches { span, first, other } => d
                .with_title(format!("branches have incompatible types: {} and {}", first.1, other.1))
                .with_primary(*span, "every branch must have one type")
                .with_secondary(first.0, format!("this is {}", first.1))
                .with_secondary(other.0, format!("this is {}", other.1))
                .with_help("cast the branches to one type"),
            WindowMisuse {
                span,
                function,
                reason,
            } => d
                .with_title(format!("misused `{function}`"))
                .with_primary(*span, *reason),
            GrainNotProven {
                declared,
                model,
                columns,
                cause,
            } => {
                let grain = format!("[{}]", columns.join(", "));
                let d = d
                    .with_title(format!("the grain {grain} of `{model}` is not proven"))
                    .with_primary(*declared, format!("declared: one row per {grain}"));
                match cause.as_ref() {
                    GrainBreak::FullJoin { span, alias } => d
                        .with_secondary(*span, "a full join: the grain is not kept")
                        .with_note(
                            "rows of one side without a match have the other side's columns NULL, so neither side's key identifies every row",
                        )
                        .with_help(format!(
                            "make the grain again: `group by coalesce(x.key, {alias}.key)` with an output computing the same `coalesce`, or `dedupe on` it"
                        )),
                    GrainBreak::UnionBranch { span, relation, grain } => match grain {
                        Some(grain) => d
                            .with_secondary(*span, format!("the grain of `{relation}` is [{}]", grain.join(", ")))
                            .with_note("a union is unique on a set of columns only when each branch is")
                            .with_help(format!("add [{}] to the grain", grain.join(", "))),
                        None => d
                            .with_secondary(*span, format!("`{relation}` has no known grain"))
                            .with_note("a union is unique on a set of columns only when each branch is")
                            .with_help(format!("declare the grain of `{relation}`")),
                    },
                    GrainBreak::UnionOverlap { span } => d
                        .with_secondary(*span, "rows of different branches may have the same key")
                        .with_note("each branch is unique on these columns, but nothing tells one branch's rows from another's")
                        .with_help("give each branch a column that is a different constant in each (`channel = 'web'`), and add it to the grain"),
                    GrainBreak::UnknownSource { span, relation } => d
                        .with_secondary(*span, format!("`{relation}` has no known grain"))
                        .with_help(format!(
                            "declare the grain of `{relation}` (or `expect_key` on a source), or establish it here with `dedupe on ... keep latest by ...` or `group by`"
                        )),
                    GrainBreak::ToManyJoin {
                        span,
                        alias,
                        relation,
                        key,
                        equated,
                    } => {
                        let why = match key {
                            Some(key) => format!(
                                "the grain of `{relation}` is [{}] but the join only matches on [{}]",
                                key.join(", "),
                                equated.join(", ")
                            ),
                            None => format!("`{relation}` has no known grain, so any number of rows may match"),
                        };
                        d.with_secondary(*span, format!("this join is to-many: each row can match several `{alias}` rows"))
                            .with_note(why)
                            .with_help(format!(
                                "aggregate `{relation}` to the join key first (a model with `group by`), join on its whole grain, or declare the finer grain this join produces"
                            ))
                    }
                    GrainBreak::ExpressionKey { span } => d
                        .with_secondary(*span, "keys here are expressions, not columns")
                        .with_help("output each key unchanged as a column (`month = date_trunc('month', o.ordered_at)` for that `group by` key), or compute it as a column in an upstream model and group or dedupe on that column"),
                    GrainBreak::Other {
                        span,
                        derived,
                        query,
                    } => {
                        let d = d.with_secondary(*span, "the grain is decided here");
                        match (derived, query) {
                            (Some(derived), _) => d
                                .with_note(format!("the derived grain is [{}]", derived.join(", ")))
                                .with_help(format!("declare `grain = [{}]`", derived.join(", "))),
                            (None, Some((key, computed))) => {
                                let key = key.join(", ");
                                let d = d.with_note(format!(
                                    "the derived grain is [{key}], and not every one of those is an output column as it is"
                                ));
                                if computed.is_empty() {
                                    d.with_help(format!("output [{key}] as columns and declare them as the grain"))
                                } else {
                                    let computed: Vec<String> = computed.iter().map(|c| format!("`{c}`")).collect();
                                    d.with_help(format!(
                                        "{} is computed from [{key}], and shopc does not prove a computed column unique: \
                                         output [{key}] as columns beside it and declare those as the grain",
                                        computed.join(", ")
                                    ))
                                }
                            }
                            (None, None) => d.with_help("output every column of the grain, unchanged, so that it can be traced"),
                        }
                    }
                }
            }
            SnapshotGrain {
                key,
                snapshot,
                unique_key,
                timestamp,
                from,
            } => {
                let (from_span, from, grain) = from.as_ref();
                let key_list = format!("[{}]", unique_key.join(", "));
                let d = d
                    .with_title(format!(
                        "`{from}` can hold several rows per key of the snapshot `{snapshot}`"
                    ))
                    .with_primary(*key, format!("one current row per {key_list}"))
                    .with_secondary(
                        *from_span,
                        match grain {
                            Some(grain) => format!("one row per [{}]", grain.join(", ")),
                            None => "no known grain".to_string(),
                        },
                    );
                match timestamp {
                    Some(ts) => d
                        .with_note(format!(
                            "the timestamp strategy records every version of a key: it needs one row per {key_list} and `{ts}`, so that each version has its own validity"
                        ))
                        .with_help(format!(
                            "give `{from}` a grain of [{}, {ts}] or finer-keyed rows deduplicated to it (`dedupe on ... keep latest by ...`), or key the snapshot on its grain",
                            unique_key.join(", ")
                        )),
                    None => d
                        .with_note("a check snapshot compares one row per key with the current version: with several, the comparison and the new current row are ambiguous")
                        .with_help(format!(
                            "deduplicate `{from}` to one row per {key_list} (`dedupe on ... keep latest by ...`), or record every version with `strategy = {{ timestamp = ... }}` over one row per key and version"
                        )),
                }
            }
            NotGrouped {
                column,
                reference,
                group_by,
            } => d
                .with_title(format!("`{column}` is neither grouped nor aggregated"))
                .with_primary(*reference, "this value can differ between the rows of one group")
                .with_secondary(*group_by, "one row per value of these keys")
                .with_help("add it to `group by`, aggregate it (`max(...)`, `any_value(...)`), or join its relation on the group key"),
            FanOut {
                aggregate,
                function,
                alias,
                join,
                join_alias,
            } => d
                .with_title(format!("`{function}` double counts: rows of `{alias}` are repeated by a to-many join"))
                .with_primary(*aggregate, format!("each `{alias}` row is counted once per matching `{join_alias}` row"))
                .with_secondary(*join, "this join is to-many")
                .with_help(format!(
                    "aggregate `{alias}` at its own grain before the join (in another model), or, if duplicates are meant to be ignored, use min, max, any_value or count(distinct ...)"
                )),
            JoinClaimBroken {
                claim,
                join,
                alias,
                relation,
                key,
                equated,
            } => {
                let d = d
                    .with_title(format!("`join one` claims one `{alias}` row per row, but the join is to-many"))
                    .with_primary(*claim, "claimed here")
                    .with_secondary(*join, format!("each row can match several `{alias}` rows"));
                match key {
                    Some(key) => {
                        let missing: Vec<&String> = key.iter().filter(|k| !equated.contains(k)).collect();
                        d.with_note(format!(
                            "the grain of `{relation}` is [{}]; the condition equates [{}]",
                            key.join(", "),
                            equated.join(", ")
                        ))
                        .with_help(format!(
                            "equate the rest of the grain ({}) in `on`, or join a model at the grain of the condition",
                            missing.iter().map(|m| format!("`{alias}.{m}`")).collect::<Vec<_>>().join(", ")
                        ))
                    }
                    None => d
                        .with_note(format!("`{relation}` has no known grain: nothing proves one row per key"))
                        .with_help(format!("declare `grain` on `{relation}` (or `expect_key` on a source table), or write `join many`")),
                }
            }
            SumOfNonAdditive {
                aggregate,
                column,
                relation,
                reason,
                defined,
            } => {
                let d = d
                    .with_title(format!("`{column}` of `{relation}` is {reason}: summing it is meaningless"))
                    .with_primary(*aggregate, format!("sums {reason}"));
                let d = match defined {
                    Some(span) => d.with_secondary(*span, format!("`{column}` is defined here")),
                    None => d,
                };
                d.with_note("a sum of averages, ratios or distinct counts is not the average, ratio or distinct count of the whole")
                    .with_help("sum the additive parts it is computed from, then combine them: for an average order value, `sum(revenue) / sum(orders)`")
            }
            SumAcrossDimension {
                aggregate,
                column,
                relation,
                dimension,
                group_by,
            } => {
                let d = d
                    .with_title(format!("`{column}` of `{relation}` cannot be summed across `{dimension}`"))
                    .with_primary(*aggregate, format!("adds up values of different `{dimension}`s"));
                let d = match group_by {
                    Some(span) => d.with_secondary(*span, format!("`{dimension}` is not a key here")),
                    None => d,
                };
                d.with_note(format!("`{column}` is semi-additive: it adds up within one `{dimension}`, not across them (like a balance over time)"))
                    .with_help(format!("group by `{dimension}` too, or take one value per key first (the latest `{dimension}`)"))
            }
            RowLoss {
                join,
                alias,
                relation,
                left_alias,
            } => d
                .with_title(format!("this inner join drops `{left_alias}` rows that have no `{alias}`"))
                .with_primary(*join, format!("rows without a match in `{relation}` disappear here"))
                .with_note(format!(
                    "a derived test (`join_relationships_...`, severity warn) counts the `{left_alias}` rows that find no `{alias}`"
                ))
                .with_help("use `left join` to keep them, or filter them out explicitly with `where` if dropping them is the intent"),
            UnsupportedOption {
                span,
                option,
                model,
                dialect,
            } => d
                .with_title(format!("{dialect} has no `{option}`: `{model}` is built without it"))
                .with_primary(*span, format!("ignored on {dialect}"))
                .with_note(match *option {
                    "cluster_by" => "cluster keys are written as `CLUSTER BY` on Snowflake and BigQuery and as indexes on PostgreSQL",
                    _ => "partitioning is written as `PARTITION BY` on BigQuery only",
                })
                .with_help(format!("nothing to do if the model also targets a warehouse that has it; otherwise remove `{option}`")),
            NameTooLong {
                span,
                name,
                bytes,
                limit,
                dialect,
                scratch,
            } => d
                .with_title(if *scratch {
                    format!(
                        "`{name}` is too long for {dialect}: {bytes} bytes with `{}_` and a run's id, \
                         over the {limit} bytes {dialect} keeps",
                        crate::ir::SCRATCH_SUFFIX
                    )
                } else {
                    format!("`{name}` is {bytes} bytes, longer than the {limit} bytes {dialect} keeps")
                })
                .with_primary(*span, format!("too long for {dialect}"))
                .with_note(format!(
                    "{dialect} cuts longer names without an error, so two names could become one: \
                     the table a run writes beside the old one (`NAME{}_` and the run's id) could be the old one",
                    crate::ir::SCRATCH_SUFFIX
                ))
                .with_help(format!(
                    "shorten the name to at most {} bytes (a source table can keep its name and set a shorter `identifier`)",
                    limit - crate::ir::SCRATCH_SUFFIX_BYTES
                )),
            NullableKey {
                setting,
                key,
                relation,
                kind,
                because,
            } => because
                .iter()
                .fold(
                    d.with_title(format!("the unique key `{key}` of `{relation}` can be NULL"))
                        .with_primary(*setting, format!("{kind} keyed on `{key}`")),
                    |d, (span, reason)| d.with_secondary(*span, reason.clone()),
                )
                .with_note("a merge matches rows on `key = key`, which is never true for NULL: every run would insert the NULL-keyed rows again, as duplicates")
                .with_help(format!(
                    "keep only rows with a key (`where ... is not null`), give it a default with `coalesce(...)`, or merge on a column that cannot be NULL; a `not_null({key})` test or a declared grain upstream also guarantees it"
                )),
            MixedAggregation {
                aggregate,
                plain,
                column,
            } => d
                .with_title(format!("`{column}` is not aggregated and there is no `group by`"))
                .with_primary(*plain, "this column is computed per row")
                .with_secondary(*aggregate, "but this aggregate collapses all rows into one")
                .with_help("add `group by` with the per-row columns as keys, or aggregate this column too"),
            UnknownParameter {
                span,
                name,
                function,
                params,
                suggestion,
            } => d
                .with_title(format!("`{name}` is not a parameter of `{function}`"))
                .with_primary(*span, "not a parameter")
                .with_note(if params.is_empty() {
                    format!("`{function}` has no parameters: a function's body sees its parameters and nothing else")
                } else {
                    format!(
                        "a function's body sees its parameters and nothing else; `{function}` has {}",
                        params.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                    )
                })
                .with_optional_help(did_you_mean(suggestion)),
            UnknownDoc {
                span,
                name,
                suggestion,
            } => d
                .with_title(format!("no doc block `{name}`"))
                .with_primary(*span, format!("its description uses `doc({name})`"))
                .with_note(format!(
                    "a doc block is the `##` lines above `doc {name}`, anywhere in the project"
                ))
                .with_optional_help(did_you_mean(suggestion)),
            UnionColumns {
                span,
                relation,
                first,
                missing,
                extra,
            } => {
                let d = d
                    .with_title(format!("`{relation}` does not have the columns of `{}`", first.1))
                    .with_primary(*span, match (missing.is_empty(), extra.is_empty()) {
                        (false, true) => format!("it has no {}", list(missing)),
                        (true, false) => format!("it also has {}", list(extra)),
                        _ => format!("it has no {}, and it also has {}", list(missing), list(extra)),
                    })
                    .with_secondary(first.0, "the first branch, whose columns the union has");
                d.with_note("the branches of a union are matched by column name: each must have the same columns")
                    .with_help("write a model that selects the same columns from it, and union that")
            }
            BuiltinName { span, name } => d
                .with_title(format!("`{name}` is a function of the standard library"))
                .with_primary(*span, "a built-in name")
                .with_note("a function of the project cannot take the name of a built-in one: every call would be ambiguous")
                .with_help("rename it"),
            RecursiveFunction {
                span,
                function,
                defined,
                path,
            } => d
                .with_title(format!("`{function}` calls itself"))
                .with_primary(*span, if path.len() > 2 {
                    format!("this call closes the loop {}", path.join(" → "))
                } else {
                    format!("`{function}` is called inside its own body")
                })
                .with_secondary(*defined, format!("`{function}` is defined here"))
                .with_note("functions are inlined where they are called, so one that calls itself would never end")
                .with_help("write the repeated step out, or use a `case` over the cases"),
            RowValue {
                span,
                column,
                ty,
                found,
            } => d
                .with_title(format!("`{column}` is {ty}, and this is {found}"))
                .with_primary(*span, format!("not a value of type {ty}"))
                .with_help(match ty.as_str() {
                    "date" => "write a date as a string: \"2024-01-31\"".to_string(),
                    "timestamp" | "timestamptz" => {
                        "write a timestamp as a string: \"2024-01-31 12:00:00\"".to_string()
                    }
                    _ => format!("write a {ty}, or `null`"),
                }),
            UnionType {
                span,
                column,
                relation,
                found,
                first,
            } => d
                .with_title(format!("`{column}` is {found} in `{relation}` but {} in `{}`", first.2, first.1))
                .with_primary(*span, format!("`{column}` is {found} here"))
                .with_secondary(first.0, format!("and {} here", first.2))
                .with_help("cast the column to one type in the branch models"),
            ReturnType {
                span,
                function,
                declared,
                found,
            } => d
                .with_title(format!("`{function}` returns {found}, not {}", declared.1))
                .with_primary(*span, format!("this body is {found}"))
                .with_secondary(declared.0, format!("declared to return {}", declared.1))
                .with_help(format!("cast the body, `cast(... as {})`, or declare the type it has", declared.1)),
            ExpansionTooLarge {
                span,
                function,
                defined,
                nodes,
                depth,
            } => d
                .with_title(format!("calling `{function}` here would make an expression too large"))
                .with_primary(*span, format!(
                    "inlined, this call would be {} nodes, {depth} levels deep",
                    crate::docs::thousands(*nodes as u64)
                ))
                .with_secondary(*defined, format!("`{function}` is defined here"))
                .with_note(format!(
                    "a call is replaced by the function's body, with each parameter replaced by its argument: \
                     a parameter used twice copies its argument twice, so nested calls grow fast. \
                     An inlined call may have at most {} nodes and {} levels",
                    crate::docs::thousands(crate::ir::MAX_EXPANSION as u64),
                    crate::docs::thousands(crate::syntax::MAX_DEPTH as u64)
                ))
                .with_help("compute the argument in a column of an upstream model, and pass that column"),
        }
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
