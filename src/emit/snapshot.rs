//! SCD2 snapshot statements: the first run's table, then closing changed
//! and deleted rows and inserting new versions.

use super::*;

/// The SCD2 statements of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSql {
    /// The first run: create the table from the current rows.
    pub create: Vec<String>,
    /// Later runs, in one transaction: close changed and deleted rows, then
    /// insert the new versions.
    pub update: Vec<String>,
}

impl Emitter<'_> {
    /// The SCD2 statements of a snapshot: `create` makes the table on the
    /// first run; `update`, run in one transaction on later runs, closes the
    /// current rows that changed (and, per `hard_deletes`, the ones whose key
    /// disappeared) and inserts a new current row for every key that has
    /// none. `now` is the run's timestamp as SQL, the same in every statement.
    ///
    /// Changes are compared with `IS DISTINCT FROM`, so NULL ↔ value is a
    /// change; a row is inserted only for a key without a current row, so
    /// there is exactly one current row per key.
    ///
    /// With the timestamp strategy the source may hold several versions of
    /// a key (its grain is the key and the timestamp, which the checker
    /// proves): every version newer than the latest one recorded is
    /// inserted, each valid until the next, so several changes between two
    /// runs are all kept.
    pub fn snapshot(&self, id: RelId, now: &str) -> Option<SnapshotSql> {
        let rel = self.ir.relation(id);
        let RelationKind::Snapshot(snap) = &rel.kind else {
            return None;
        };
        let target = physical_name(self.ir, id)?;
        let table = target.sql(self.d);
        let from = self.relation_source(snap.from);
        let (t, s, l) = (self.q("snapshot"), self.q("source"), self.q("latest"));
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let data: Vec<ColumnId> = rel
            .columns
            .values()
            .copied()
            .filter(|c| self.ir.column(*c).role != crate::ir::Role::Meta)
            .collect();
        let deletes_as_rows = rel.columns.contains_key("dbt_is_deleted");
        let text = self.d.type_name(Type::Text);
        let ts = self.d.type_name(Type::Timestamp);
        let keys: Vec<String> = snap.unique_key.iter().map(|k| col(*k)).collect();
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        let scd_id = |table: &str, time: &str| {
            let mut parts: Vec<String> = snap
                .unique_key
                .iter()
                .map(|k| format!("coalesce(CAST({table}.{} AS {text}), '')", col(*k)))
                .collect();
            parts.push(format!("CAST({time} AS {text})"));
            self.call("md5", &[parts.join(" || '|' || ")], "", Type::Text)
        };
        let (valid_to, deleted) = (self.q("dbt_valid_to"), self.q("dbt_is_deleted"));
        let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
        let insert =
            |select: String| format!("INSERT INTO {table} ({})\n{select}", names.join(", "));
        let current = format!("{t}.{valid_to} IS NULL");
        let in_source = format!(
            "EXISTS (SELECT 1 FROM {from} AS {s} WHERE {})",
            key_match(&s, &t)
        );
        // The row a source row becomes: its columns, then the metadata.
        let row = |updated_at: &str, valid_from: &str, valid_to: &str| -> String {
            let mut values: Vec<String> = data.iter().map(|c| format!("{s}.{}", col(*c))).collect();
            values.push(format!(
                "{} AS {}",
                scd_id(&s, valid_from),
                self.q("dbt_scd_id")
            ));
            values.push(format!("{updated_at} AS {}", self.q("dbt_updated_at")));
            values.push(format!("{valid_from} AS {}", self.q("dbt_valid_from")));
            values.push(format!("{valid_to} AS {}", self.q("dbt_valid_to")));
            if deletes_as_rows {
                values.push(format!("{} AS {deleted}", self.d.bool_literal(false)));
            }
            format!("SELECT\n  {}", values.join(",\n  "))
        };
        let no_end = format!("CAST(NULL AS {ts})");

        let mut update = Vec::new();
        let create = match &snap.strategy {
            crate::ir::SnapshotStrategy::Timestamp(c) => {
                let stamp = |table: &str| format!("CAST({table}.{} AS {ts})", col(*c));
                // Every version, with the time the next one replaced it.
                let next = self.q("shopc_next_version");
                let versions = format!(
                    "(SELECT {s}.*, lead({}) OVER (PARTITION BY {} ORDER BY {s}.{}) AS {next} FROM {from} AS {s})",
                    stamp(&s),
                    snap.unique_key
                        .iter()
                        .map(|k| format!("{s}.{}", col(*k)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    col(*c),
                );
                let chained = row(&stamp(&s), &stamp(&s), &format!("{s}.{next}"));
                // A current row with newer versions ends where the first begins
                // (a current row, unless a deletion, is the key's latest version).
                let live_current = if deletes_as_rows {
                    format!("{current} AND NOT {t}.{deleted}")
                } else {
                    current.clone()
                };
                let newer = format!(
                    "FROM {from} AS {s} WHERE {} AND {} > {t}.{}",
                    key_match(&s, &t),
                    stamp(&s),
                    self.q("dbt_updated_at")
                );
                update.push(format!(
                    "UPDATE {table} AS {t}\nSET {valid_to} = (SELECT min({}) {newer})\nWHERE {live_current} AND EXISTS (SELECT 1 {newer})",
                    stamp(&s),
                ));
                update.extend(self.snapshot_deletes(id, &from, now));
                if deletes_as_rows {
                    // A deletion row ends when its key is back.
                    update.push(format!(
                        "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND {t}.{deleted} AND {in_source}"
                    ));
                }
                // Every version newer than the latest recorded, or of a new key.
                let recorded = self.q("shopc_recorded");
                let live = if deletes_as_rows {
                    format!(" WHERE NOT {deleted}")
                } else {
                    String::new()
                };
                update.push(insert(format!(
                    "{chained}\nFROM {versions} AS {s}\nLEFT JOIN (SELECT {}, max({}) AS {recorded} FROM {table}{live} GROUP BY {}) AS {l} ON {}\nWHERE {l}.{recorded} IS NULL OR {} > {l}.{recorded}",
                    keys.join(", "),
                    self.q("dbt_updated_at"),
                    keys.join(", "),
                    key_match(&l, &s),
                    stamp(&s),
                )));
                // A key back after a deletion, unchanged: its latest version, from now.
                update.push(insert(format!(
                    "{}\nFROM {from} AS {s}\nWHERE NOT EXISTS (SELECT 1 FROM {from} AS {l} WHERE {} AND {l}.{} > {s}.{})\n  AND NOT EXISTS (SELECT 1 FROM {table} AS {t} WHERE {} AND {current})",
                    row(&stamp(&s), now, &no_end),
                    key_match(&l, &s),
                    col(*c),
                    col(*c),
                    key_match(&t, &s),
                )));
                vec![
                    self.create_schema(&target),
                    format!("CREATE TABLE {table} AS\n{chained}\nFROM {versions} AS {s}"),
                ]
            }
            strategy => {
                let cols: Vec<ColumnId> = match strategy {
                    crate::ir::SnapshotStrategy::Check(cols) => cols.clone(),
                    _ => data
                        .iter()
                        .copied()
                        .filter(|c| !snap.unique_key.contains(c))
                        .collect(),
                };
                let mut changed = self.distinct(&cols, &t, &s);
                if deletes_as_rows {
                    changed = format!("({changed} OR {t}.{deleted})");
                }
                update.push(format!(
                    "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nFROM {from} AS {s}\nWHERE {} AND {current} AND {changed}",
                    key_match(&t, &s)
                ));
                update.extend(self.snapshot_deletes(id, &from, now));
                update.push(insert(format!(
                    "{}\nFROM {from} AS {s}\nWHERE NOT EXISTS (SELECT 1 FROM {table} AS {t} WHERE {} AND {current})",
                    row(now, now, &no_end),
                    key_match(&t, &s)
                )));
                vec![
                    self.create_schema(&target),
                    format!(
                        "CREATE TABLE {table} AS\n{}\nFROM {from} AS {s}",
                        row(now, now, &no_end)
                    ),
                ]
            }
        };
        Some(SnapshotSql { create, update })
    }
    /// What a snapshot does with the current rows of keys gone from its
    /// source, per `hard_deletes`.
    pub(super) fn snapshot_deletes(&self, id: RelId, from: &str, now: &str) -> Vec<String> {
        let rel = self.ir.relation(id);
        let RelationKind::Snapshot(snap) = &rel.kind else {
            return Vec::new();
        };
        let Some(target) = physical_name(self.ir, id) else {
            return Vec::new();
        };
        let table = target.sql(self.d);
        let (t, s) = (&self.q("snapshot"), &self.q("source"));
        let no_end = format!("CAST(NULL AS {})", self.d.type_name(Type::Timestamp));
        let col = |c: ColumnId| self.q(&self.ir.column(c).name);
        let keys: Vec<String> = snap.unique_key.iter().map(|k| col(*k)).collect();
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        let (valid_to, deleted) = (self.q("dbt_valid_to"), self.q("dbt_is_deleted"));
        let current = format!("{t}.{valid_to} IS NULL");
        let gone = format!(
            "NOT EXISTS (SELECT 1 FROM {from} AS {s} WHERE {})",
            key_match(s, t)
        );
        match snap.hard_deletes {
            crate::ir::HardDeletes::Ignore => Vec::new(),
            crate::ir::HardDeletes::Invalidate => vec![format!(
                "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND {gone}"
            )],
            crate::ir::HardDeletes::NewRecord => {
                let text = self.d.type_name(Type::Text);
                // A deletion is a row too: the key, NULLs, and the flag.
                let mut values: Vec<String> = rel
                    .columns
                    .values()
                    .copied()
                    .filter(|c| self.ir.column(*c).role != crate::ir::Role::Meta)
                    .map(|c| {
                        if snap.unique_key.contains(&c) {
                            format!("{t}.{}", col(c))
                        } else {
                            format!("CAST(NULL AS {})", self.d.type_name(self.ir.column(c).ty))
                        }
                    })
                    .collect();
                let tombstone_id = self.call(
                    "md5",
                    &[format!(
                        "{} || '|deleted|' || CAST({now} AS {text})",
                        snap.unique_key
                            .iter()
                            .map(|k| format!("coalesce(CAST({t}.{} AS {text}), '')", col(*k)))
                            .collect::<Vec<_>>()
                            .join(" || '|' || ")
                    )],
                    "",
                    Type::Text,
                );
                values.extend([
                    tombstone_id,
                    now.to_string(),
                    now.to_string(),
                    no_end,
                    self.d.bool_literal(true).to_string(),
                ]);
                let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
                let latest = self.q("latest");
                vec![
                    format!(
                        "UPDATE {table} AS {t}\nSET {valid_to} = {now}\nWHERE {current} AND NOT {t}.{deleted} AND {gone}"
                    ),
                    format!(
                        "INSERT INTO {table} ({})\nSELECT {}\nFROM {table} AS {t}\nWHERE NOT {t}.{deleted} AND {t}.{valid_to} = (SELECT max({latest}.{valid_to}) FROM {table} AS {latest} WHERE {})\n  AND NOT EXISTS (SELECT 1 FROM {table} AS {latest} WHERE {} AND {latest}.{valid_to} IS NULL)\n  AND {gone}",
                        names.join(", "),
                        values.join(", "),
                        key_match(&latest, t),
                        key_match(&latest, t),
                    ),
                ]
            }
        }
    }
    /// `(a.x IS DISTINCT FROM b.x OR …)`: NULL-safe inequality.
    pub(super) fn distinct(&self, cols: &[ColumnId], left: &str, right: &str) -> String {
        if cols.is_empty() {
            return self.d.bool_literal(false).to_string();
        }
        let parts: Vec<String> = cols
            .iter()
            .map(|c| {
                let c = self.q(&self.ir.column(*c).name);
                format!("{left}.{c} IS DISTINCT FROM {right}.{c}")
            })
            .collect();
        format!("({})", parts.join(" OR "))
    }
}
