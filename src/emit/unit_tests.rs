//! The SQL of a unit test: tables of the given rows, the model's query
//! reading them, and the expected rows, all on DuckDB.

use super::*;
use crate::ir::{ColumnId, Literal, UnitTest};

/// The values of one row, by column; a column left out is NULL.
pub type Values = Vec<(ColumnId, Literal)>;

/// What running a unit test takes.
#[derive(Debug)]
pub struct UnitTestSql {
    /// Create and fill a table for each relation the query reads.
    pub setup: Vec<String>,
    /// The model's query over those tables: the compared columns, as text.
    pub actual: String,
    /// The expected rows as the same columns, as text; `None` when no
    /// column is compared (only the number of rows is).
    pub expected: Option<String>,
    /// The compared columns, in the model's order.
    pub columns: Vec<String>,
}

/// The schema the given tables are created in.
const GIVEN: &str = "given";

impl Emitter<'_> {
    /// The SQL of `test`, on an emitter for DuckDB. `given` holds the rows
    /// of each given relation (read from CSV files where the test says so),
    /// `expect` the rows expected.
    pub fn unit_test(
        ir: &Ir,
        test: &UnitTest,
        given: &[(RelId, Vec<Values>)],
        expect: &[Values],
    ) -> UnitTestSql {
        let inputs = test.inputs(ir);
        let table = |id: RelId| PhysicalName {
            schema: GIVEN.into(),
            name: ir.relation(id).name.replace('.', "__"),
        };
        let reads = inputs.iter().map(|id| (*id, table(*id))).collect();
        let e = Emitter::new(ir, Dialect::DuckDb).reading(reads);
        let mut setup = vec![format!("CREATE SCHEMA IF NOT EXISTS {}", e.q(GIVEN))];
        for &id in &inputs {
            let rel = ir.relation(id);
            let name = table(id).sql(e.d);
            let columns: Vec<String> = rel
                .columns
                .values()
                .map(|c| {
                    let c = ir.column(*c);
                    format!("{} {}", e.q(&c.name), e.d.type_name(c.ty))
                })
                .collect();
            setup.push(format!("CREATE TABLE {name} ({})", columns.join(", ")));
            let rows = given
                .iter()
                .find(|(g, _)| *g == id)
                .map_or(&[][..], |(_, rows)| rows.as_slice());
            if !rows.is_empty() {
                let ids: Vec<ColumnId> = rel.columns.values().copied().collect();
                let names: Vec<String> = ids.iter().map(|c| e.q(&ir.column(*c).name)).collect();
                setup.push(format!(
                    "INSERT INTO {name} ({}) VALUES\n{}",
                    names.join(", "),
                    e.rows(&ids, rows).join(",\n")
                ));
            }
        }
        let model = ir.relation(test.model);
        let compared: Vec<ColumnId> = model
            .columns
            .values()
            .copied()
            .filter(|c| expect.iter().any(|row| row.iter().any(|(v, _)| v == c)))
            .collect();
        let columns: Vec<String> = compared
            .iter()
            .map(|c| ir.column(*c).name.clone())
            .collect();
        let text = |name: &str| format!("CAST({} AS VARCHAR)", e.q(name));
        let listed: Vec<String> = columns.iter().map(|n| text(n)).collect();
        let actual = format!(
            "SELECT {} FROM (\n{}\n) AS {}",
            if listed.is_empty() {
                "1".to_string()
            } else {
                listed.join(", ")
            },
            e.select(test.model),
            e.q("actual")
        );
        // `expect = []` names no column: only the count of rows is compared.
        let expected = (!compared.is_empty()).then(|| {
            let names: Vec<String> = columns.iter().map(|n| e.q(n)).collect();
            format!(
                "SELECT {} FROM (VALUES\n{}\n) AS {}({})",
                listed.join(", "),
                e.rows(&compared, expect).join(",\n"),
                e.q("expected"),
                names.join(", ")
            )
        });
        UnitTestSql {
            setup,
            actual,
            expected,
            columns,
        }
    }

    /// `(v1, v2, …)` for each row, a value per column of `columns`, cast to
    /// its type; NULL where the row has none.
    fn rows(&self, columns: &[ColumnId], rows: &[Values]) -> Vec<String> {
        rows.iter()
            .map(|row| {
                let values: Vec<String> = columns
                    .iter()
                    .map(|c| {
                        let value = row
                            .iter()
                            .find(|(v, _)| v == c)
                            .map_or("NULL".to_string(), |(_, l)| self.literal(l));
                        format!(
                            "CAST({value} AS {})",
                            self.d.type_name(self.ir.column(*c).ty)
                        )
                    })
                    .collect();
                format!("({})", values.join(", "))
            })
            .collect()
    }
}
