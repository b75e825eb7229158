//! Column types and how they combine.

use std::fmt;

/// The type of a column or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// Could not be determined because of an earlier error; never reported.
    Unknown,
    /// The type of a bare `null`: fits anywhere.
    Null,
    Boolean,
    Integer,
    BigInt,
    /// `numeric(precision, scale)`; `None` when unconstrained.
    Numeric(Option<(u8, u8)>),
    Double,
    Text,
    Date,
    Timestamp,
    TimestampTz,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Unknown => f.write_str("unknown"),
            Type::Null => f.write_str("null"),
            Type::Boolean => f.write_str("boolean"),
            Type::Integer => f.write_str("integer"),
            Type::BigInt => f.write_str("bigint"),
            Type::Numeric(None) => f.write_str("numeric"),
            Type::Numeric(Some((p, s))) => write!(f, "numeric({p}, {s})"),
            Type::Double => f.write_str("double"),
            Type::Text => f.write_str("text"),
            Type::Date => f.write_str("date"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::TimestampTz => f.write_str("timestamptz"),
        }
    }
}

/// The names types can be written with, for "did you mean".
pub const TYPE_NAMES: &[&str] = &[
    "text",
    "varchar",
    "string",
    "integer",
    "int",
    "bigint",
    "numeric",
    "decimal",
    "double",
    "float",
    "boolean",
    "bool",
    "date",
    "timestamp",
    "timestamptz",
];

impl Type {
    /// Resolves a type as written. `Err` carries the reason for a bad name or
    /// bad parameters.
    pub fn from_name(name: &str, params: &[u32]) -> Result<Type, &'static str> {
        let plain = |t: Type| {
            if params.is_empty() {
                Ok(t)
            } else {
                Err("this type takes no parameters")
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "text" | "varchar" | "string" => plain(Type::Text),
            "integer" | "int" => plain(Type::Integer),
            "bigint" => plain(Type::BigInt),
            "double" | "float" => plain(Type::Double),
            "boolean" | "bool" => plain(Type::Boolean),
            "date" => plain(Type::Date),
            "timestamp" => plain(Type::Timestamp),
            "timestamptz" => plain(Type::TimestampTz),
            "numeric" | "decimal" => match params {
                [] => Ok(Type::Numeric(None)),
                [p] if (1..=38).contains(p) => Ok(Type::Numeric(Some((*p as u8, 0)))),
                [p, s] if (1..=38).contains(p) && s <= p => {
                    Ok(Type::Numeric(Some((*p as u8, *s as u8))))
                }
                _ => Err("numeric takes a precision from 1 to 38 and a scale no larger than it"),
            },
            _ => Err("unknown type"),
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Type::Integer | Type::BigInt | Type::Numeric(_) | Type::Double
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Type::Integer | Type::BigInt)
    }

    pub fn is_temporal(self) -> bool {
        matches!(self, Type::Date | Type::Timestamp | Type::TimestampTz)
    }

    /// `Unknown` and `Null` fit any expectation: the first was already
    /// reported, the second takes the type of its context.
    pub fn is_wildcard(self) -> bool {
        matches!(self, Type::Unknown | Type::Null)
    }

    fn numeric_rank(self) -> u8 {
        match self {
            Type::Integer => 1,
            Type::BigInt => 2,
            Type::Numeric(_) => 3,
            Type::Double => 4,
            _ => 0,
        }
    }

    /// The common type of two values that meet (in a comparison, a `case`,
    /// `coalesce`…), or `None` when they cannot.
    pub fn unify(self, other: Type) -> Option<Type> {
        use Type::*;
        Some(match (self, other) {
            (Unknown, _) | (_, Unknown) => Unknown,
            (Null, t) | (t, Null) => t,
            (a, b) if a == b => a,
            (Numeric(a), Numeric(b)) => Numeric(match (a, b) {
                (Some((pa, sa)), Some((pb, sb))) => {
                    let scale = sa.max(sb);
                    let integer_digits = (pa - sa).max(pb - sb);
                    Some(((integer_digits + scale).min(38), scale))
                }
                _ => None,
            }),
            (a, b) if a.is_numeric() && b.is_numeric() => {
                if a.numeric_rank() >= b.numeric_rank() {
                    a
                } else {
                    b
                }
            }
            (Date, Timestamp) | (Timestamp, Date) => Timestamp,
            (Date | Timestamp, TimestampTz) | (TimestampTz, Date | Timestamp) => TimestampTz,
            _ => return None,
        })
    }

    /// The type of `sum` over values of this type.
    pub fn sum(self) -> Type {
        match self {
            Type::Integer => Type::BigInt,
            Type::BigInt => Type::Numeric(Some((38, 0))),
            Type::Numeric(Some((_, s))) => Type::Numeric(Some((38, s))),
            other => other,
        }
    }

    /// The type of `avg` over values of this type.
    /// `avg` is `sum / count`, and `/` is double division.
    pub fn avg(self) -> Type {
        match self {
            Type::Unknown | Type::Null => self,
            _ => Type::Double,
        }
    }
}

/// Whether text is an ISO date, `YYYY-MM-DD` (month 1–12, day 1–31).
pub fn is_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && matches!(text[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(text[8..10].parse::<u8>(), Ok(1..=31))
}

/// Whether text is an ISO timestamp: a date, then a time and an optional zone.
pub fn is_iso_timestamp(text: &str) -> bool {
    text.get(..10).is_some_and(is_iso_date)
        && text[10..]
            .chars()
            .all(|c| c.is_ascii_digit() || " T:.+-Z".contains(c))
}

#[cfg(test)]
mod tests {
    use super::Type::*;
    use super::*;

    #[test]
    fn unify_widens_numbers_and_time() {
        assert_eq!(Integer.unify(BigInt), Some(BigInt));
        assert_eq!(Integer.unify(Double), Some(Double));
        assert_eq!(
            Numeric(Some((12, 2))).unify(Numeric(Some((10, 4)))),
            Some(Numeric(Some((14, 4))))
        );
        assert_eq!(Date.unify(Timestamp), Some(Timestamp));
        assert_eq!(Null.unify(Text), Some(Text));
        assert_eq!(Date.unify(Text), None);
        assert_eq!(Boolean.unify(Integer), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            Type::from_name("numeric", &[12, 2]),
            Ok(Numeric(Some((12, 2))))
        );
        assert_eq!(Type::from_name("INT", &[]), Ok(Integer));
        assert!(Type::from_name("numeric", &[2, 5]).is_err());
        assert!(Type::from_name("text", &[3]).is_err());
        assert!(Type::from_name("money", &[]).is_err());
    }
}
