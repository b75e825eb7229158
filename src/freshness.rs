//! Source freshness: how long ago each source table was last loaded
//! (`max(loaded_at)` against the warehouse's own clock, both in UTC), and
//! whether that is past its `warn_after` or `error_after`. IO module.
//!
//! A timestamp without a time zone is read as UTC, as the snapshot and the
//! date functions read them.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::time::Instant;

use crate::emit::{Emitter, physical_name};
use crate::ir::{Ir, RelId, RelationKind};
use crate::warehouse::Warehouse;

/// How one table's freshness ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Error,
    /// No `loaded_at` or no thresholds: nothing to measure against.
    Skipped,
    /// The query failed (no such table, no permission…).
    RuntimeError,
}

impl Status {
    /// As `sources.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::RuntimeError => "runtime_error",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
            Status::Skipped => "SKIP",
            Status::RuntimeError => "ERROR",
        }
    }
}

/// One source table's freshness, as `target/sources.json` records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Freshness {
    #[serde(skip)]
    pub relation: RelId,
    /// `raw.raw_orders`.
    pub name: String,
    /// Where it was read: `dev_alice_raw.raw_orders`.
    pub physical: String,
    pub status: Status,
    /// The latest `loaded_at`, as the warehouse wrote it.
    pub max_loaded_at: Option<String>,
    /// The warehouse's clock when it was asked.
    pub snapshotted_at: Option<String>,
    /// Seconds between the two (negative when the load is in the future).
    pub age_seconds: Option<i64>,
    pub warn_after_seconds: Option<u64>,
    pub error_after_seconds: Option<u64>,
    pub seconds: f64,
    /// What the line said after the status.
    pub message: String,
}

/// The freshness of `tables` (source tables; others are left out), one
/// progress line each, in the order given.
pub fn check(
    ir: &Ir,
    warehouse: &mut dyn Warehouse,
    tables: &[RelId],
    color: bool,
    out: &mut dyn Write,
) -> Vec<Freshness> {
    let tables: Vec<RelId> = tables
        .iter()
        .copied()
        .filter(|id| matches!(ir.relation(*id).kind, RelationKind::Table(_)))
        .collect();
    let emitter = Emitter::new(ir, warehouse.dialect());
    let printer = crate::run::Printer::new(tables.len(), color);
    let mut results = Vec::new();
    for id in tables {
        let started = Instant::now();
        let result = measure(ir, &emitter, warehouse, id, started);
        printer.line(
            out,
            result.status.word(),
            "freshness of",
            &result.physical,
            &result.message,
        );
        results.push(result);
    }
    results
}

fn measure(
    ir: &Ir,
    emitter: &Emitter<'_>,
    warehouse: &mut dyn Warehouse,
    id: RelId,
    started: Instant,
) -> Freshness {
    let rel = ir.relation(id);
    let RelationKind::Table(table) = &rel.kind else {
        unreachable!("only source tables are measured")
    };
    let physical = physical_name(ir, id).map_or_else(|| rel.name.clone(), |p| p.display());
    let criteria = table.freshness;
    let mut result = Freshness {
        relation: id,
        name: rel.name.clone(),
        physical,
        status: Status::Skipped,
        max_loaded_at: None,
        snapshotted_at: None,
        age_seconds: None,
        warn_after_seconds: criteria.and_then(|c| c.warn_after),
        error_after_seconds: criteria.and_then(|c| c.error_after),
        seconds: 0.0,
        message: String::new(),
    };
    let thresholds = criteria.filter(|c| c.warn_after.is_some() || c.error_after.is_some());
    let query = emitter.freshness_query(id);
    let (Some(query), Some(criteria)) = (query, thresholds) else {
        result.message = if table.loaded_at.is_none() {
            "no loaded_at column: declare `loaded_at = COLUMN` on the source or table".into()
        } else {
            "no thresholds: declare `freshness = { warn_after = \"12h\", error_after = \"24h\" }`"
                .into()
        };
        return result;
    };
    let rows = warehouse.query(&query);
    result.seconds = started.elapsed().as_secs_f64();
    let row = match rows {
        Ok(rows) => rows.rows.into_iter().next().unwrap_or_default(),
        Err(e) => {
            result.status = Status::RuntimeError;
            result.message = e.to_string().lines().next().unwrap_or_default().to_string();
            return result;
        }
    };
    let field = |i: usize| row.get(i).cloned().flatten();
    result.max_loaded_at = field(0);
    result.snapshotted_at = field(1);
    let limits = limits_words(criteria.warn_after, criteria.error_after);
    let (Some(loaded), Some(now)) = (
        result.max_loaded_at.as_deref().and_then(parse_timestamp),
        result.snapshotted_at.as_deref().and_then(parse_timestamp),
    ) else {
        result.status = Status::Error;
        result.message = match (&result.max_loaded_at, field(2).as_deref()) {
            (None, Some("0")) => format!("no rows: never loaded ({limits})"),
            (None, _) => format!("every loaded_at is NULL ({limits})"),
            (Some(text), _) => format!("cannot read `{text}` as a timestamp"),
        };
        return result;
    };
    let age = (now - loaded).num_seconds();
    result.age_seconds = Some(age);
    let past = |limit: Option<u64>| limit.is_some_and(|l| age > 0 && age as u64 > l);
    result.status = if past(criteria.error_after) {
        Status::Error
    } else if past(criteria.warn_after) {
        Status::Warn
    } else {
        Status::Pass
    };
    result.message = if age < 0 {
        format!(
            "loaded {} in the future ({limits})",
            duration_words(-age as u64)
        )
    } else {
        format!("loaded {} ago ({limits})", duration_words(age as u64))
    };
    result
}

/// `warn after 12h, error after 1d`.
fn limits_words(warn: Option<u64>, error: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(w) = warn {
        parts.push(format!("warn after {}", duration_words(w)));
    }
    if let Some(e) = error {
        parts.push(format!("error after {}", duration_words(e)));
    }
    parts.join(", ")
}

/// A duration in its two largest units: `2h 13m`, `3d 4h`, `45s`.
pub fn duration_words(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let Some(first) = units.iter().position(|(size, _)| seconds >= *size) else {
        return "0s".into();
    };
    let (size, unit) = units[first];
    let mut text = format!("{}{unit}", seconds / size);
    if let Some((next, unit)) = units.get(first + 1) {
        let n = (seconds % size) / next;
        if n > 0 {
            text.push_str(&format!(" {n}{unit}"));
        }
    }
    text
}

/// A timestamp as warehouses write one as text: `2024-06-29 00:00:00`,
/// with fractions of a second, a `T`, or an offset (`+00`, `+02:00`).
fn parse_timestamp(text: &str) -> Option<chrono::NaiveDateTime> {
    let text = text.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    // An offset of hours only (`+00`, as PostgreSQL writes it) gets minutes.
    let padded = match text.rfind(['+', '-']) {
        Some(i) if i > 10 && text.len() - i == 3 => format!("{text}:00"),
        _ => text.to_string(),
    };
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(&padded, format) {
            return Some(t.naive_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_two_units() {
        assert_eq!(duration_words(0), "0s");
        assert_eq!(duration_words(45), "45s");
        assert_eq!(duration_words(2 * 3600 + 13 * 60 + 5), "2h 13m");
        assert_eq!(duration_words(86_400), "1d");
        assert_eq!(duration_words(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(duration_words(12 * 3600), "12h");
        assert_eq!(duration_words(61), "1m 1s");
    }

    #[test]
    fn statuses_are_named_as_serialized() {
        use Status::*;
        for status in [Pass, Warn, Error, Skipped, RuntimeError] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.name());
        }
    }

    #[test]
    fn timestamps_as_warehouses_write_them() {
        let at = |s| parse_timestamp(s).map(|t| t.to_string());
        assert_eq!(at("2024-06-29 00:00:00").unwrap(), "2024-06-29 00:00:00");
        assert_eq!(
            at("2024-06-29 01:02:03.250").unwrap(),
            "2024-06-29 01:02:03.250"
        );
        assert_eq!(at("2024-06-29 02:00:00+02").unwrap(), "2024-06-29 00:00:00");
        assert_eq!(at("2024-06-29T00:00:00").unwrap(), "2024-06-29 00:00:00");
        assert_eq!(at("2024-06-29").unwrap(), "2024-06-29 00:00:00");
        assert_eq!(at("yesterday"), None);
    }
}
