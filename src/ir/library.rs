//! The typed standard library of functions, as a data table.
//!
//! Each entry says what a function is (scalar, aggregate, window), which
//! arguments it takes and what it returns. The checker reads the table; the
//! emitter (later) maps each name to its spelling per dialect.

use super::types::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    Scalar,
    /// Collapses rows: only in outputs (and `having`).
    Aggregate,
    /// Needs `over (...)`: only in outputs.
    Window,
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Any,
    Text,
    Numeric,
    Integer,
    Boolean,
    Temporal,
    /// Text or a temporal value (for `date(...)`).
    TextOrTemporal,
    /// A string literal naming a date part: `'day'`, `'month'`…
    DatePart,
    /// An integer written out (`2`, `-1`): `round`'s digits, which every
    /// dialect's rounding formula writes twice.
    Digits,
    /// A part of a surrogate key: a value whose text every warehouse
    /// writes alike (text, an integer, a date, a boolean), so that the key
    /// hashes to the same value everywhere.
    KeyPart,
}

impl Param {
    pub fn describe(self) -> &'static str {
        match self {
            Param::Any => "any value",
            Param::Text => "text",
            Param::Numeric => "a number",
            Param::Integer => "an integer",
            Param::Boolean => "a boolean",
            Param::Temporal => "a date or timestamp",
            Param::TextOrTemporal => "text, a date or a timestamp",
            Param::DatePart => "a date part such as 'day' or 'month'",
            Param::Digits => "a whole number written out, such as `2`",
            Param::KeyPart => "text, an integer, a date or a boolean",
        }
    }

    /// A type of the language that an argument can be cast to for this
    /// parameter (a name T006 accepts), for help messages.
    pub fn cast_to(self) -> Option<&'static str> {
        match self {
            Param::Text | Param::TextOrTemporal | Param::KeyPart => Some("text"),
            Param::Numeric => Some("numeric(18, 2)"),
            Param::Integer => Some("integer"),
            Param::Boolean => Some("boolean"),
            Param::Temporal => Some("timestamp"),
            Param::Any | Param::DatePart | Param::Digits => None,
        }
    }

    pub fn accepts(self, ty: Type) -> bool {
        ty.is_wildcard()
            || match self {
                Param::Any => true,
                Param::Text | Param::DatePart => ty == Type::Text,
                Param::Numeric => ty.is_numeric(),
                Param::Integer | Param::Digits => ty.is_integer(),
                Param::Boolean => ty == Type::Boolean,
                Param::Temporal => ty.is_temporal(),
                Param::TextOrTemporal => ty == Type::Text || ty.is_temporal(),
                Param::KeyPart => {
                    matches!(ty, Type::Text | Type::Date | Type::Boolean) || ty.is_integer()
                }
            }
    }
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Fixed(Type),
    /// The type of argument n.
    Arg(usize),
    /// The common type of all arguments (they must unify).
    Common,
    /// The common type of the first two arguments (they must unify).
    CommonOfTwo,
    Sum,
    Avg,
}

#[derive(Debug)]
pub struct Func {
    pub name: &'static str,
    pub kind: FuncKind,
    pub params: &'static [Param],
    /// How many of `params` are required; the rest are optional.
    pub required: usize,
    /// The last parameter repeats.
    pub variadic: bool,
    pub ret: Ret,
    /// When the result can be NULL.
    pub nulls: Nulls,
    /// Distinct arguments give distinct results (`surrogate_key`): the
    /// grain algebra lets the result stand for its arguments.
    pub injective: bool,
}

/// When a function's result can be NULL, for the nullability analysis
/// (`check::nullability`). Aggregates other than `count` are NULL over no
/// rows, which the analysis adds on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// NULL exactly when an argument is NULL: most functions.
    Strict,
    /// Never NULL: `count`, `row_number`…
    Never,
    /// NULL only when every argument is: `coalesce`.
    AllArgs,
    /// May be NULL whatever the arguments: `nullif`, `lag`, a sample
    /// standard deviation of one row.
    Maybe,
}

/// Index of a function in [`FUNCTIONS`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuncId(pub u16);

impl std::fmt::Debug for FuncId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", FUNCTIONS[self.0 as usize].name)
    }
}

impl FuncId {
    pub fn func(self) -> &'static Func {
        &FUNCTIONS[self.0 as usize]
    }
}

/// Date parts accepted by `date_trunc`, `date_diff`, `date_add` and `date_part`.
pub const DATE_PARTS: &[&str] = &[
    "year", "quarter", "month", "week", "day", "hour", "minute", "second",
];

use FuncKind::{Aggregate as A, Scalar as S, Window as W};
use Param::*;

const fn f(
    name: &'static str,
    kind: FuncKind,
    params: &'static [Param],
    required: usize,
    variadic: bool,
    ret: Ret,
) -> Func {
    Func {
        name,
        kind,
        params,
        required,
        variadic,
        ret,
        nulls: Nulls::Strict,
        injective: false,
    }
}

impl Func {
    const fn nulls(self, nulls: Nulls) -> Func {
        Func { nulls, ..self }
    }
    const fn injective(self) -> Func {
        Func {
            injective: true,
            ..self
        }
    }
}

pub static FUNCTIONS: &[Func] = &[
    // text
    f("lower", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("upper", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("trim", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("ltrim", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("rtrim", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("initcap", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    f("length", S, &[Text], 1, false, Ret::Fixed(Type::Integer)),
    f(
        "replace",
        S,
        &[Text, Text, Text],
        3,
        false,
        Ret::Fixed(Type::Text),
    ),
    f(
        "substr",
        S,
        &[Text, Integer, Integer],
        2,
        false,
        Ret::Fixed(Type::Text),
    ),
    f(
        "left",
        S,
        &[Text, Integer],
        2,
        false,
        Ret::Fixed(Type::Text),
    ),
    f(
        "right",
        S,
        &[Text, Integer],
        2,
        false,
        Ret::Fixed(Type::Text),
    ),
    f(
        "split_part",
        S,
        &[Text, Text, Integer],
        3,
        false,
        Ret::Fixed(Type::Text),
    ),
    f(
        "starts_with",
        S,
        &[Text, Text],
        2,
        false,
        Ret::Fixed(Type::Boolean),
    ),
    f("concat", S, &[Any], 1, true, Ret::Fixed(Type::Text)),
    f("md5", S, &[Text], 1, false, Ret::Fixed(Type::Text)),
    // dbt_utils' `generate_surrogate_key`, the same text on every dialect:
    // md5 of the parts as text, NULL as `_dbt_utils_surrogate_key_null_`,
    // joined by `-` (`emit::expr`). Never NULL.
    f(
        "surrogate_key",
        S,
        &[KeyPart],
        1,
        true,
        Ret::Fixed(Type::Text),
    )
    .nulls(Nulls::Never)
    .injective(),
    // any type
    f("coalesce", S, &[Any], 1, true, Ret::Common).nulls(Nulls::AllArgs),
    f("nullif", S, &[Any, Any], 2, false, Ret::CommonOfTwo).nulls(Nulls::Maybe),
    f("greatest", S, &[Any], 1, true, Ret::Common),
    f("least", S, &[Any], 1, true, Ret::Common),
    // numbers
    f("abs", S, &[Numeric], 1, false, Ret::Arg(0)),
    f("round", S, &[Numeric, Digits], 1, false, Ret::Arg(0)),
    f("floor", S, &[Numeric], 1, false, Ret::Arg(0)),
    f("ceil", S, &[Numeric], 1, false, Ret::Arg(0)),
    f("sqrt", S, &[Numeric], 1, false, Ret::Fixed(Type::Double)),
    f("ln", S, &[Numeric], 1, false, Ret::Fixed(Type::Double)),
    f("exp", S, &[Numeric], 1, false, Ret::Fixed(Type::Double)),
    f(
        "power",
        S,
        &[Numeric, Numeric],
        2,
        false,
        Ret::Fixed(Type::Double),
    ),
    // dates
    f(
        "date",
        S,
        &[TextOrTemporal],
        1,
        false,
        Ret::Fixed(Type::Date),
    ),
    f(
        "date_trunc",
        S,
        &[DatePart, Temporal],
        2,
        false,
        Ret::Arg(1),
    ),
    f(
        "date_diff",
        S,
        &[DatePart, Temporal, Temporal],
        3,
        false,
        Ret::Fixed(Type::BigInt),
    ),
    f(
        "date_add",
        S,
        &[DatePart, Integer, Temporal],
        3,
        false,
        Ret::Arg(2),
    ),
    f(
        "date_part",
        S,
        &[DatePart, Temporal],
        2,
        false,
        Ret::Fixed(Type::Integer),
    ),
    f("current_date", S, &[], 0, false, Ret::Fixed(Type::Date)),
    // The clock is UTC on every warehouse: a timestamp without time zone.
    f(
        "current_timestamp",
        S,
        &[],
        0,
        false,
        Ret::Fixed(Type::Timestamp),
    ),
    // aggregates
    f("count", A, &[Any], 0, false, Ret::Fixed(Type::BigInt)).nulls(Nulls::Never),
    f("sum", A, &[Numeric], 1, false, Ret::Sum),
    f("avg", A, &[Numeric], 1, false, Ret::Avg),
    f("min", A, &[Any], 1, false, Ret::Arg(0)),
    f("max", A, &[Any], 1, false, Ret::Arg(0)),
    f("any_value", A, &[Any], 1, false, Ret::Arg(0)),
    f(
        "bool_and",
        A,
        &[Boolean],
        1,
        false,
        Ret::Fixed(Type::Boolean),
    ),
    f(
        "bool_or",
        A,
        &[Boolean],
        1,
        false,
        Ret::Fixed(Type::Boolean),
    ),
    f("stddev", A, &[Numeric], 1, false, Ret::Fixed(Type::Double)).nulls(Nulls::Maybe),
    // window functions
    f("row_number", W, &[], 0, false, Ret::Fixed(Type::BigInt)).nulls(Nulls::Never),
    f("rank", W, &[], 0, false, Ret::Fixed(Type::BigInt)).nulls(Nulls::Never),
    f("dense_rank", W, &[], 0, false, Ret::Fixed(Type::BigInt)).nulls(Nulls::Never),
    f("ntile", W, &[Integer], 1, false, Ret::Fixed(Type::BigInt)).nulls(Nulls::Never),
    f("percent_rank", W, &[], 0, false, Ret::Fixed(Type::Double)).nulls(Nulls::Never),
    f("lag", W, &[Any, Integer], 1, false, Ret::Arg(0)).nulls(Nulls::Maybe),
    f("lead", W, &[Any, Integer], 1, false, Ret::Arg(0)).nulls(Nulls::Maybe),
    f("first_value", W, &[Any], 1, false, Ret::Arg(0)),
    f("last_value", W, &[Any], 1, false, Ret::Arg(0)),
];

/// Looks a function up by name (case-insensitive).
pub fn lookup(name: &str) -> Option<FuncId> {
    FUNCTIONS
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(name))
        .map(|i| FuncId(i as u16))
}

/// Every function name, for "did you mean".
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

impl Func {
    /// The parameter expected at argument `i`, if any.
    pub fn param(&self, i: usize) -> Option<Param> {
        match self.params.get(i) {
            Some(p) => Some(*p),
            None if self.variadic => self.params.last().copied(),
            None => None,
        }
    }

    /// The accepted argument count, in words.
    pub fn arity(&self) -> String {
        let max = self.params.len();
        if self.variadic {
            format!("at least {}", self.required.max(1))
        } else if self.required == max {
            format!("{max}")
        } else {
            format!("{} to {max}", self.required)
        }
    }

    pub fn accepts_count(&self, n: usize) -> bool {
        n >= self.required && (self.variadic || n <= self.params.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for func in FUNCTIONS {
            assert!(seen.insert(func.name), "{} twice", func.name);
            assert_eq!(func.name, func.name.to_ascii_lowercase());
            assert!(func.required <= func.params.len());
        }
    }

    /// T001's help suggests `cast(… as TYPE)`: each such type is one the
    /// language accepts, and what it gives fits the parameter.
    #[test]
    fn cast_hints_are_types_that_fit() {
        for param in [
            Param::Any,
            Param::Text,
            Param::Numeric,
            Param::Integer,
            Param::Boolean,
            Param::Temporal,
            Param::TextOrTemporal,
            Param::DatePart,
            Param::KeyPart,
        ] {
            let Some(hint) = param.cast_to() else {
                continue;
            };
            let (name, params) = match hint.split_once('(') {
                Some((name, rest)) => (
                    name,
                    rest.trim_end_matches(')')
                        .split(',')
                        .map(|p| p.trim().parse::<u32>().unwrap())
                        .collect::<Vec<_>>(),
                ),
                None => (hint, Vec::new()),
            };
            let ty = Type::from_name(name, &params).unwrap_or_else(|e| panic!("{hint}: {e}"));
            assert!(param.accepts(ty), "{param:?} does not accept {hint}");
        }
    }
}
