//! Incremental models: the MERGE / INSERT that adds a run's new rows.

use super::*;

impl Emitter<'_> {
    /// The statements that bring an incremental model's existing table up
    /// to date (one transaction), or `None` for other models. The first
    /// build, and `--full-refresh`, use [`Emitter::build`].
    ///
    /// - merge: `MERGE` the model's rows (since the target's latest `since`,
    ///   minus `lookback`, when `since` is set) on `unique_key`;
    /// - append: `INSERT` the rows newer than the target's latest `since`;
    ///   with a `unique_key`, the rows within `lookback` of it whose key is
    ///   not loaded yet.
    pub fn incremental(&self, id: RelId) -> Option<Vec<String>> {
        let rel = self.ir.relation(id);
        let RelationKind::Model(model) = &rel.kind else {
            return None;
        };
        let Materialized::Incremental(inc) = &model.materialized else {
            return None;
        };
        let target = physical_name(self.ir, id)?.sql(self.d);
        let (t, s) = (self.q("target"), self.q("source"));
        let names: Vec<String> = rel.columns.keys().map(|n| self.q(n)).collect();
        let keys: Vec<String> = inc.unique_key.iter().map(|k| self.q(k)).collect();
        let since = inc.since.as_ref().map(|since| {
            let ty = rel
                .columns
                .get(since)
                .map_or(Type::Timestamp, |c| self.ir.column(*c).ty);
            (self.q(since), ty)
        });
        let latest = |since: &str| format!("(SELECT max({since}) FROM {target})");
        let window = |since: &str, ty: Type| -> String {
            let latest = latest(since);
            match inc.lookback {
                Some(seconds) if seconds > 0 => format!(
                    ">= {}",
                    self.call(
                        "date_add",
                        &["'second'".into(), format!("-{seconds}"), latest],
                        "SECOND",
                        ty
                    )
                ),
                _ => format!("> {latest}"),
            }
        };
        let select = self.select(id);
        let key_match = |left: &str, right: &str| key_match(&keys, left, right);
        match inc.strategy {
            crate::ir::IncrementalStrategy::Merge => {
                let source = match &since {
                    Some((since, ty)) => format!(
                        "SELECT * FROM (\n{}\n) AS {s}\nWHERE {s}.{since} {} OR {} IS NULL",
                        indent(&select),
                        window(since, *ty),
                        latest(since)
                    ),
                    None => select,
                };
                let updates: Vec<String> = names
                    .iter()
                    .filter(|n| !keys.contains(n))
                    .map(|n| format!("{n} = {s}.{n}"))
                    .collect();
                let values: Vec<String> = names.iter().map(|n| format!("{s}.{n}")).collect();
                let mut merge = format!(
                    "MERGE INTO {target} AS {t}\nUSING (\n{}\n) AS {s}\nON {}",
                    indent(&source),
                    key_match(&t, &s)
                );
                if !updates.is_empty() {
                    let _ = write!(
                        merge,
                        "\nWHEN MATCHED THEN UPDATE SET {}",
                        updates.join(", ")
                    );
                }
                let _ = write!(
                    merge,
                    "\nWHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                    names.join(", "),
                    values.join(", ")
                );
                Some(vec![merge])
            }
            crate::ir::IncrementalStrategy::Append => {
                let (since, ty) = since?;
                let mut filter = if keys.is_empty() {
                    format!(
                        "({s}.{since} > {} OR {} IS NULL)",
                        latest(&since),
                        latest(&since)
                    )
                } else {
                    format!(
                        "({s}.{since} {} OR {} IS NULL)",
                        window(&since, ty),
                        latest(&since)
                    )
                };
                if !keys.is_empty() {
                    let _ = write!(
                        filter,
                        "\n  AND NOT EXISTS (SELECT 1 FROM {target} AS {t} WHERE {})",
                        key_match(&t, &s)
                    );
                }
                let columns: Vec<String> = names.iter().map(|n| format!("{s}.{n}")).collect();
                Some(vec![format!(
                    "INSERT INTO {target} ({})\nSELECT {}\nFROM (\n{}\n) AS {s}\nWHERE {filter}",
                    names.join(", "),
                    columns.join(", "),
                    indent(&select)
                )])
            }
        }
    }
}
