//! The derived tests the checker makes unnecessary.
//!
//! A model's declared grain implies two kinds of test (`emit::data_tests`):
//! its columns are unique together, and none of them is NULL. The first is
//! what G001 proves from the query (`group by` and `dedupe on` make a key;
//! `from` and to-one joins keep the key of what they read; a union keeps
//! its branches' keys apart by a discriminator); the second is what
//! `check::nullability` proves of how each column is computed. A test of a
//! proven fact can only pass, so `shopc build` and `shopc test` report it
//! `PROVEN` instead of scanning for it, and `--verify-proofs` runs it
//! anyway (shopc's own CI builds ShopCo so, which is how a wrong proof would
//! be found).
//!
//! A proof rests on claims that are tested where they are made: a source
//! table's `expect_key`, the declared grains and blocking `not_null` tests
//! of the models it reads, each run right after its relation is built
//! (a failure skips everything downstream). It never rests on the model's
//! own tests. An incremental model's table holds the rows of many runs,
//! not of one query, so its tests always run; so do a source table's, which
//! are the claims themselves.

use crate::check::{grain, grain::Grains, nullability::Nullability};
use crate::ir::{ColumnId, Ir, Materialized, RelId, RelationKind};

/// What the checker proves of a model's declared grain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrainProof {
    /// Why the grain's columns are unique together, in a few words for a
    /// progress line (`group by order_id`), when that is proven.
    pub unique: Option<String>,
    /// The grain's columns proven never NULL.
    pub not_null: Vec<ColumnId>,
}

/// What is proven of model `id`'s declared grain; nothing for a relation
/// without one, an incremental model or an incomplete one.
pub fn grain_proof(ir: &Ir, grains: &Grains, nullability: &Nullability, id: RelId) -> GrainProof {
    let rel = ir.relation(id);
    let RelationKind::Model(model) = &rel.kind else {
        return GrainProof::default();
    };
    let Some(declared) = &model.grain else {
        return GrainProof::default();
    };
    if !rel.complete || matches!(model.materialized, Materialized::Incremental(_)) {
        return GrainProof::default();
    }
    let keys = |exprs: &[crate::ir::Expr]| {
        exprs
            .iter()
            .map(|e| crate::ir::print::show(ir, &model.query, e))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unique = grain::declared_holds(ir, grains, id).then(|| {
        let q = &model.query;
        if model.union.is_some() {
            "the union's branches are keyed and kept apart".to_string()
        } else if !q.group_by.is_empty() {
            format!("group by {}", keys(&q.group_by))
        } else if let Some(dedupe) = &q.dedupe {
            format!("dedupe on {}", keys(&dedupe.keys))
        } else {
            let from = &q.scans[0];
            let derived = grains.models.get(&id);
            let to_one = derived.is_some_and(|d| {
                d.joins
                    .iter()
                    .all(|j| matches!(j, grain::Cardinality::ToOne { .. }))
            });
            match (
                grains.of(from.relation),
                derived.and_then(|d| d.query.as_ref()),
            ) {
                (grain::Grain::Key(key), _) if to_one => format!(
                    "{} is unique on {}{}",
                    ir.relation(from.relation).name,
                    crate::ir::print::names(ir, key),
                    if q.joins.is_empty() {
                        ""
                    } else {
                        ", joins to-one"
                    }
                ),
                // To-many joins: the keys of the scans together.
                (_, Some(key)) => {
                    let columns: Vec<String> = key
                        .iter()
                        .map(|(scan, c)| format!("{}.{}", q.scans[*scan].alias, ir.column(*c).name))
                        .collect();
                    format!(
                        "unique on {}, the keys of what it joins",
                        columns.join(", ")
                    )
                }
                _ => "the keys of what it reads".to_string(),
            }
        }
    });
    GrainProof {
        unique,
        not_null: declared
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| nullability.proven(*c))
            .collect(),
    }
}
