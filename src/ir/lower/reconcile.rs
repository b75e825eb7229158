//! `reconcile` items: the totals that must agree.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn lower_reconciles(&mut self) {
        for def in std::mem::take(&mut self.reconciles) {
            let mut terms = Vec::new();
            let mut complete = true;
            for term in &def.terms {
                match self.reconcile_term(term) {
                    Some(t) => terms.push(t),
                    None => complete = false,
                }
            }
            if def.terms.len() < 2 {
                self.push(Problem::InvalidTest {
                    span: def.name.span,
                    test: "reconcile".into(),
                    reason: "a reconciliation compares at least two totals, one per line: `relation.column [where condition]`".into(),
                });
                continue;
            }
            if complete {
                let doc = self.resolve_doc(def.doc.clone(), def.name.span);
                self.ir.reconciles.push(Reconcile {
                    name: def.name.name.clone(),
                    doc,
                    span: def.span,
                    terms,
                });
            }
        }
    }

    pub(super) fn reconcile_term(&mut self, term: &ast::ReconcileTerm) -> Option<ReconcileTerm> {
        let (column, parts) = term.path.split_last()?;
        if parts.is_empty() {
            self.push(Problem::InvalidTest {
                span: term.span,
                test: "reconcile".into(),
                reason: format!(
                    "name the relation and the column: `relation.{}`",
                    column.name
                ),
            });
            return None;
        }
        let relation = ast::RelationRef {
            span: parts[0].span.to(parts[parts.len() - 1].span),
            parts: parts.to_vec(),
        };
        let rel = self.resolve_relation(&relation)?;
        let column_id = self.output_column(rel, &column.name, column.span)?;
        let ty = self.ir.column(column_id).ty;
        if !ty.is_numeric() && !ty.is_wildcard() {
            self.push(Problem::ArgumentType {
                span: column.span,
                function: "sum".into(),
                position: 1,
                expected: Param::Numeric.describe().into(),
                found: ty.to_string(),
                cast_to: Param::Numeric.cast_to().map(str::to_string),
                defined: None,
            });
            return None;
        }
        let mut query = Query::default();
        query.scans.push(Scan {
            relation: rel,
            alias: relation.dotted(),
            span: relation.span,
        });
        if let Some(filter) = &term.filter {
            let scope = Scope {
                scans: &query.scans,
                silent: !self.ir.relation(rel).complete,
                params: None,
            };
            let filter = self.condition(
                &scope,
                ROW_CX("in a reconciliation's `where`"),
                filter,
                "a `where` condition",
            );
            query.filter = Some(filter);
        }
        Some(ReconcileTerm {
            query,
            column: column_id,
            label: self
                .db
                .snippet(term.span)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            span: term.span,
        })
    }
}
