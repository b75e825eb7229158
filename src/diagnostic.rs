//! Diagnostics: the rendered form of a [`Problem`](crate::problem::Problem).
//!
//! A [`Diagnostic`] is plain data (code, severity, title, labels, notes,
//! help). It is written to a terminal with codespan-reporting by [`render`]
//! and to machines as JSON by [`to_json`]; an editor integration would convert
//! the same value.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use serde::Serialize;

use crate::span::{SourceDb, Span};

macro_rules! codes {
    ($($code:ident => $title:literal,)*) => {
        /// Stable diagnostic codes. Each has a doc in `docs/codes/CODE.md`,
        /// shown by `shopc explain CODE`, and a fixture in `tests/diagnostics/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Code { $($code,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }

            /// A short name of the rule, used in `shopc explain` listings.
            pub fn title(self) -> &'static str {
                match self { $(Code::$code => $title,)* }
            }

            /// The documentation of the code (markdown).
            pub fn doc(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(concat!("../docs/codes/", stringify!($code), ".md")),)*
                }
            }

            /// [`Code::doc`] as readers get it (`shopc explain`, the
            /// editor's link): without the markers of generated lists,
            /// which are for the repository.
            pub fn explanation(self) -> String {
                let lines: Vec<&str> =
                    self.doc().lines().filter(|l| !l.starts_with("<!--")).collect();
                format!("{}\n", lines.join("\n").trim_end())
            }
        }
    };
}

codes! {
    F001 => "unreadable-file",
    F002 => "invalid-utf8",
    F003 => "file-too-large",
    F004 => "empty-project",
    F005 => "unmatched-seed",
    F006 => "duplicate-seed",
    F007 => "missing-seed",
    F008 => "sql-file",
    P001 => "syntax-error",
    P002 => "invalid-literal",
    P003 => "expression-too-deep",
    C001 => "invalid-project-file",
    C002 => "unknown-project-key",
    C003 => "unknown-setting",
    C004 => "invalid-setting-value",
    C005 => "duplicate-setting",
    C006 => "unknown-layer",
    C007 => "unknown-test",
    C008 => "invalid-test",
    C009 => "invalid-environment",
    C010 => "invalid-hook",
    C011 => "invalid-notification",
    C012 => "secret-in-project-file",
    R001 => "unknown-relation",
    R002 => "unknown-column",
    R003 => "duplicate-definition",
    R004 => "dependency-cycle",
    R005 => "ambiguous-column",
    R006 => "unknown-alias",
    R007 => "missing-from",
    R008 => "misplaced-clause",
    R009 => "no-columns",
    R010 => "unknown-variable",
    R011 => "reserved-name",
    R012 => "builtin-name",
    R013 => "unknown-doc",
    R014 => "union-columns",
    T001 => "argument-type",
    T002 => "operator-type",
    T003 => "incomparable-types",
    T004 => "unknown-function",
    T005 => "argument-count",
    T006 => "unknown-type",
    T007 => "condition-not-boolean",
    T008 => "misplaced-aggregate",
    T009 => "mismatched-branches",
    T010 => "window-misuse",
    T011 => "mixed-aggregation",
    T012 => "recursive-function",
    T013 => "return-type",
    T014 => "expansion-too-large",
    T015 => "union-type",
    T016 => "row-value",
    G001 => "grain-not-proven",
    G002 => "not-grouped",
    G003 => "snapshot-grain",
    J001 => "fan-out",
    J002 => "row-loss",
    J003 => "join-claim",
    M001 => "sum-of-non-additive",
    M002 => "sum-across-dimension",
    I001 => "nullable-unique-key",
    E001 => "unsupported-option",
    E002 => "name-too-long",
}

impl Code {
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text) || c.title() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub title: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, severity: Severity) -> Diagnostic {
        Diagnostic {
            code,
            severity,
            title: String::new(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    pub fn with_optional_primary(self, span: Option<Span>, message: String) -> Self {
        match span {
            Some(span) => self.with_primary(span, message),
            None => self.with_note(message),
        }
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The primary span, if the diagnostic points into a file.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    fn to_codespan(&self) -> cs::Diagnostic<crate::span::FileId> {
        let severity = match self.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let labels = self
            .labels
            .iter()
            .map(|l| {
                let style = if l.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                cs::Label::new(style, l.span.file, l.span.range()).with_message(&l.message)
            })
            .collect();
        let mut notes = self.notes.clone();
        if let Some(help) = &self.help {
            notes.push(format!("help: {help}"));
        }
        cs::Diagnostic::new(severity)
            .with_code(self.code.as_str())
            .with_message(&self.title)
            .with_labels(labels)
            .with_notes(notes)
    }
}

/// Renders diagnostics for a terminal (or, with `color: false`, for a file or
/// a snapshot).
pub fn render(db: &SourceDb, diagnostics: &[Diagnostic], color: bool) -> String {
    use codespan_reporting::term::termcolor::{Ansi, NoColor};
    let config = term::Config::default();
    let mut out = Vec::new();
    for diagnostic in diagnostics {
        let cs = diagnostic.to_codespan();
        let result = if color {
            term::emit_to_write_style(&mut Ansi::new(&mut out), &config, db, &cs)
        } else {
            term::emit_to_write_style(&mut NoColor::new(&mut out), &config, db, &cs)
        };
        if let Err(error) = result {
            // A label outside its file is a compiler bug; show the message anyway.
            out.extend_from_slice(
                format!(
                    "{}[{}]: {} (could not show source: {error})\n",
                    severity_word(diagnostic.severity),
                    diagnostic.code,
                    diagnostic.title
                )
                .as_bytes(),
            );
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[derive(Serialize)]
struct JsonPosition {
    line: usize,
    column: usize,
    offset: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    start: JsonPosition,
    end: JsonPosition,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

/// The machine form of diagnostics: one JSON object per diagnostic.
pub fn to_json(db: &SourceDb, diagnostic: &Diagnostic) -> serde_json::Value {
    let position = |span: Span, offset: usize| {
        let (line, column) = db.get(span.file).line_col(offset);
        JsonPosition {
            line,
            column,
            offset,
        }
    };
    let labels: Vec<JsonLabel> = diagnostic
        .labels
        .iter()
        .map(|l| JsonLabel {
            file: &db.get(l.span.file).path,
            start: position(l.span, l.span.start as usize),
            end: position(l.span, l.span.end as usize),
            message: &l.message,
            primary: l.primary,
        })
        .collect();
    let primary = labels.iter().find(|l| l.primary);
    let json = JsonDiagnostic {
        code: diagnostic.code.as_str(),
        severity: diagnostic.severity,
        message: &diagnostic.title,
        file: primary.map(|l| l.file),
        line: primary.map(|l| l.start.line),
        column: primary.map(|l| l.start.column),
        labels,
        notes: &diagnostic.notes,
        help: diagnostic.help.as_deref(),
    };
    serde_json::to_value(json).unwrap_or(serde_json::Value::Null)
}
