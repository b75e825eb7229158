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
            Type::Numeric(Some((p, s))) => write!(f, "numeric({p}, {s})"),
            other => f.write_str(other.plain_name().unwrap_or_default()),
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
    /// Its name, as it is displayed, unless it has parameters
    /// (`numeric(38, 2)`).
    pub fn plain_name(self) -> Option<&'static str> {
        Some(match self {
            Type::Unknown => "unknown",
            Type::Null => "null",
            Type::Boolean => "boolean",
            Type::Integer => "integer",
            Type::BigInt => "bigint",
            Type::Numeric(None) => "numeric",
            Type::Numeric(Some(_)) => return None,
            Type::Double => "double",
            Type::Text => "text",
            Type::Date => "date",
            Type::Timestamp => "timestamp",
            Type::TimestampTz => "timestamptz",
        })
    }

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

/// Whether text is a day of the calendar every warehouse keeps, written
/// `YYYY-MM-DD`: year 0001 to 9999 (PostgreSQL has no year 0), a month's
/// own days (no `2023-02-29`).
pub fn is_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    if !(b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()))
    {
        return false;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    year >= 1 && (1..=days).contains(&day)
}

/// Whether text is an ISO timestamp: a date, then optionally a time
/// (`HH:MM`, `HH:MM:SS`, up to six digits of a second after a point, after
/// a space or `T`) and a zone (`Z`, `+HH`, `+HH:MM`, `+HHMM`).
pub fn is_iso_timestamp(text: &str) -> bool {
    iso_timestamp_zone(text).is_some()
}

/// [`is_iso_timestamp`], and whether the timestamp names a zone.
pub fn iso_timestamp_zone(text: &str) -> Option<bool> {
    if !text.get(..10).is_some_and(is_iso_date) {
        return None;
    }
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(false);
    }
    let rest = rest.strip_prefix([' ', 'T'])?;
    let two = |s: &str, max: u32| -> bool {
        s.len() == 2
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| n <= max)
    };
    // The time: up to where a zone starts.
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let clock_ok = match parts.as_slice() {
        [h, m] => two(h, 23) && two(m, 59) && fraction.is_none(),
        [h, m, s] => two(h, 23) && two(m, 59) && two(s, 59),
        _ => false,
    };
    let fraction_ok = fraction
        .is_none_or(|f| (1..=6).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    if !(clock_ok && fraction_ok) {
        return None;
    }
    if zone.is_empty() {
        return Some(false);
    }
    if zone == "Z" {
        return Some(true);
    }
    let offset = &zone[1..];
    let ok = match offset.len() {
        2 => two(offset, 15),
        4 => two(&offset[..2], 15) && two(&offset[2..], 59),
        5 => offset.as_bytes()[2] == b':' && two(&offset[..2], 15) && two(&offset[3..], 59),
        _ => false,
    };
    ok.then_some(true)
}

#[cfg(test)]
mod tests {
    use super::Type::*;
    use super::*;

    #[test]
    fn dates_and_timestamps_are_the_calendars() {
        for good in ["2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31"] {
            assert!(is_iso_date(good), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "0000-01-01",
            "2024-13-01",
            "2024-1-01",
        ] {
            assert!(!is_iso_date(bad), "{bad}");
        }
        assert_eq!(iso_timestamp_zone("2024-01-01"), Some(false));
        assert_eq!(iso_timestamp_zone("2024-01-01 10:00"), Some(false));
        assert_eq!(
            iso_timestamp_zone("2024-01-01T10:00:59.123456"),
            Some(false)
        );
        assert_eq!(iso_timestamp_zone("2024-01-01 10:00:00Z"), Some(true));
        assert_eq!(iso_timestamp_zone("2024-01-01 10:00:00+02:00"), Some(true));
        assert_eq!(iso_timestamp_zone("2024-01-01 10:00:00-0530"), Some(true));
        assert_eq!(iso_timestamp_zone("2024-01-01 10:00:00+02"), Some(true));
        for bad in [
            "2024-01-01 24:00:00",
            "2024-01-01 10:60",
            "2024-01-01 10:00:00.1234567",
            "2024-01-01 10",
            "2024-01-01 99:99",
            "2024-01-01 10:00:00+2",
            "2024-01-01  10:00:00",
            "2024-02-30 10:00:00",
        ] {
            assert_eq!(iso_timestamp_zone(bad), None, "{bad}");
        }
    }

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
