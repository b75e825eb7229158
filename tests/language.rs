//! Star columns: `o.*`, `o.* except (…)`, `o.* rename (a as b)`, expanded
//! at resolution from the typed columns of what the model reads, so the
//! manifest, the docs and the grain algebra see each column; and doc
//! blocks, written once and used by many descriptions; and `full join`.
#![allow(clippy::disallowed_methods)]

use shopc::diagnostic::Code;
use shopc::ir::types::Type;
use shopc::span::SourceDb;

use crate::common;

const SOURCES: &str = r#"
source raw {
  table orders { expect_key = [order_id]
    columns {
      ## The order's id.
      order_id: integer
      customer_id: integer
      ## placed, shipped or returned.
      status: text
      amount: numeric(12, 2)
    }
  }
  table customers { expect_key = [customer_id]
    columns { customer_id: integer, email: text } }
}
"#;

fn compile(models: &str) -> (shopc::Compilation, SourceDb) {
    common::compile(SOURCES, models)
}

fn problems(models: &str) -> (Vec<Code>, String) {
    let (compilation, db) = compile(models);
    common::problems(&compilation, &db)
}

/// The model's columns: name, type and doc, in order.
fn columns(models: &str, model: &str) -> Vec<(String, Type, Option<String>)> {
    let (compilation, db) = compile(models);
    let (codes, text) = common::problems(&compilation, &db);
    assert!(codes.is_empty(), "{text}");
    let ir = &compilation.ir;
    let rel = ir.get(model).unwrap();
    rel.columns
        .values()
        .map(|c| {
            let c = ir.column(*c);
            (c.name.clone(), c.ty, c.doc.clone())
        })
        .collect()
}

fn names(columns: &[(String, Type, Option<String>)]) -> Vec<&str> {
    columns.iter().map(|(n, _, _)| n.as_str()).collect()
}

#[test]
fn a_star_is_every_column_in_order_typed_and_documented() {
    let cols = columns(
        "model m {\n  grain = [order_id]\n  from raw.orders o\n  columns { o.* }\n}\n",
        "m",
    );
    assert_eq!(
        names(&cols),
        ["order_id", "customer_id", "status", "amount"]
    );
    assert_eq!(cols[3].1, Type::Numeric(Some((12, 2))));
    assert_eq!(cols[0].2.as_deref(), Some("The order's id."));
    assert_eq!(cols[2].2.as_deref(), Some("placed, shipped or returned."));
}

#[test]
fn except_and_rename_and_stars_beside_columns() {
    let models = "model m {\n  from raw.orders o\n  left join raw.customers c on c.customer_id = o.customer_id\n  \
        columns {\n    o.* except (customer_id, amount) rename (status as order_status)\n    c.* rename (customer_id as buyer_id)\n    \
        doubled = o.amount * 2\n  }\n}\n";
    let cols = columns(models, "m");
    assert_eq!(
        names(&cols),
        ["order_id", "order_status", "buyer_id", "email", "doubled"]
    );
    assert_eq!(cols[1].2.as_deref(), Some("placed, shipped or returned."));
    // Emitted as the columns themselves, on every dialect.
    let (compilation, _) = compile(models);
    let rel = compilation.ir.get("m").unwrap().id;
    for sql in crate::emit::selects(&compilation.ir, rel) {
        assert!(!sql.contains(".*"), "{sql}");
    }
    // The grain algebra sees the expanded key: declared and proven.
    let proven = "model m {\n  grain = [order_id]\n  from raw.orders o\n  dimensions { o.* except (amount) }\n  measures { amount = o.amount }\n}\n";
    assert_eq!(problems(proven).0, []);
}

#[test]
fn wrong_stars_are_reported_where_they_are() {
    let cases: &[(&str, &[Code])] = &[
        // No relation with that alias.
        ("columns { x.* }", &[Code::R006]),
        // A column it does not have, left out or renamed.
        ("columns { o.* except (nope) }", &[Code::R002]),
        ("columns { o.* rename (nope as yes) }", &[Code::R002]),
        // Two outputs of one name.
        ("columns { o.*, status = o.status }", &[Code::R003]),
        ("columns { o.* rename (status as order_id) }", &[Code::R003]),
    ];
    for (columns, expected) in cases {
        let source = format!("model m {{\n  from raw.orders o\n  {columns}\n}}\n");
        let (codes, text) = problems(&source);
        assert_eq!(&codes, expected, "{source}\n{text}");
    }
    // `*` is not an expression: `count(*)` aside, `o.*` stands alone.
    let (codes, _) = problems("model m {\n  from raw.orders o\n  columns { x = o.* }\n}\n");
    assert_eq!(codes, [Code::P001]);
}

const REVENUE: &str =
    "## Σ quantity × unit price − discount,\n## shipped or completed orders only.\ndoc revenue\n\n";

#[test]
fn a_doc_block_is_written_once_and_used_anywhere() {
    let models = format!(
        "{REVENUE}## Orders. doc(revenue)\nmodel m {{\n  from raw.orders o\n  columns {{\n    ## doc(revenue)\n    amount = o.amount\n    ## Before discounts: doc(revenue) (not undoc(revenue), nor doc())\n    gross = o.amount\n  }}\n}}\n\
         model n {{\n  from m\n  columns {{ m.* }}\n}}\n"
    );
    let text = "Σ quantity × unit price − discount,\nshipped or completed orders only.";
    let cols = columns(&models, "m");
    assert_eq!(cols[0].2.as_deref(), Some(text));
    assert_eq!(
        cols[1].2.as_deref(),
        Some(format!("Before discounts: {text} (not undoc(revenue), nor doc())").as_str())
    );
    // A star carries the text, not the reference.
    assert_eq!(columns(&models, "n")[0].2.as_deref(), Some(text));
    let (compilation, _) = compile(&models);
    let m = compilation.ir.get("m").unwrap();
    assert_eq!(m.doc.as_deref(), Some(format!("Orders. {text}").as_str()));
    // An unknown name is R013, a second block of one name R003.
    let (codes, text) = problems(&format!(
        "{REVENUE}model m {{\n  from raw.orders o\n  columns {{\n    ## doc(revenu)\n    amount = o.amount\n  }}\n}}\n"
    ));
    assert_eq!(codes, [Code::R013], "{text}");
    assert!(text.contains("did you mean `revenue`"), "{text}");
    let (codes, _) = problems(&format!("{REVENUE}{REVENUE}"));
    assert_eq!(codes, [Code::R003]);
}

const BOTH: &str = "model both {\n  from raw.orders o\n  full join raw.customers c on c.customer_id = o.customer_id\n";

#[test]
fn a_full_join_keeps_both_sides_and_says_what_that_does_to_grain_and_nulls() {
    // Every column of both sides may be NULL, the sources' keys too.
    let (compilation, db) = compile(&format!(
        "{BOTH}  columns {{ order_id = o.order_id, customer_id = c.customer_id }}\n}}\n\
         model plain {{\n  from raw.orders o\n  columns {{ order_id = o.order_id }}\n}}\n"
    ));
    let (codes, text) = common::problems(&compilation, &db);
    assert!(codes.is_empty(), "{text}");
    let ir = &compilation.ir;
    let never = |model: &str, column: &str| {
        let rel = ir.get(model).unwrap();
        compilation
            .analysis
            .nullability
            .never_null(rel.columns[column])
    };
    assert!(never("plain", "order_id"));
    assert!(!never("both", "order_id") && !never("both", "customer_id"));
    // No grain survives it: a declared one is G001, which says why.
    let (codes, text) = problems(&format!(
        "{BOTH}  grain = [order_id]\n  columns {{ order_id = o.order_id }}\n}}\n"
    ));
    assert_eq!(codes, [Code::G001], "{text}");
    assert!(
        text.contains("a full join: the grain is not kept"),
        "{text}"
    );
    assert!(text.contains("group by coalesce(x.key, c.key)"), "{text}");
    // Grouping on the coalesced key makes one again.
    let grouped = format!(
        "{BOTH}  grain = [customer_id]\n  group by coalesce(o.customer_id, c.customer_id)\n  \
         columns {{ customer_id = coalesce(o.customer_id, c.customer_id), orders = count(o.order_id) }}\n}}\n"
    );
    let (compilation, db) = compile(&grouped);
    let (codes, text) = common::problems(&compilation, &db);
    assert!(codes.is_empty(), "{text}");
    let rel = compilation.ir.get("both").unwrap().id;
    for sql in crate::emit::selects(&compilation.ir, rel) {
        assert!(sql.contains("FULL JOIN"), "{sql}");
    }
    // Built on DuckDB: customers without orders and orders without a
    // customer are both there.
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"both\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        ("models/sources.shop", SOURCES),
        ("models/both.shop", &grouped),
        (
            "seeds/orders.csv",
            "order_id,customer_id,status,amount\n1,10,placed,5.00\n2,10,placed,7.50\n3,30,placed,1.00\n",
        ),
        ("seeds/customers.csv", "customer_id,email\n10,a@x\n20,b@x\n"),
    ]);
    common::build(dir.path(), &[]);
    let db = common::database_at(&dir.path().join("target/both.duckdb"));
    let mut statement = db
        .prepare("SELECT customer_id, orders FROM main.both ORDER BY customer_id")
        .unwrap();
    let rows: Vec<(i64, i64)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, [(10, 2), (20, 0), (30, 1)]);
}

/// Two branches of one shape, told apart by `channel`.
const BRANCHES: &str = "model web {\n  from raw.orders o\n  columns { order_id = o.order_id, amount = o.amount, channel = 'web' }\n}\n\
    model store {\n  from raw.customers c\n  columns { order_id = c.customer_id, amount = cast(null as numeric(14, 4)), channel = 'store' }\n}\n";

#[test]
fn a_union_matches_columns_by_name_and_proves_its_grain_from_a_discriminator() {
    let models = format!(
        "{BRANCHES}model all_orders {{\n  grain = [channel, order_id]\n  union all (web, store)\n}}\n"
    );
    let cols = columns(&models, "all_orders");
    assert_eq!(names(&cols), ["order_id", "amount", "channel"]);
    // numeric(12, 2) ∪ numeric(14, 4) is numeric(14, 4).
    assert_eq!(cols[1].1, Type::Numeric(Some((14, 4))));
    let (compilation, _) = compile(&models);
    let ir = &compilation.ir;
    let rel = ir.get("all_orders").unwrap();
    let never = |column: &str| {
        compilation
            .analysis
            .nullability
            .never_null(rel.columns[column])
    };
    assert!(never("order_id") && never("channel"));
    assert!(!never("amount"), "NULL in the store branch");
    for sql in crate::emit::selects(ir, rel.id) {
        assert!(sql.contains("UNION ALL"), "{sql}");
    }
    // Without the discriminator in the grain, rows of both branches may
    // share an `order_id`: G001 says so, and what to add.
    let (codes, text) = problems(&format!(
        "{BRANCHES}model all_orders {{\n  grain = [order_id]\n  union all (web, store)\n}}\n"
    ));
    assert_eq!(codes, [Code::G001], "{text}");
    assert!(
        text.contains("rows of different branches may have the same key"),
        "{text}"
    );
    assert!(text.contains("a different constant in each"), "{text}");
    // One constant in both branches tells nothing apart.
    let same = BRANCHES.replace("'store'", "'web'");
    let (codes, text) = problems(&format!(
        "{same}model all_orders {{\n  grain = [channel, order_id]\n  union all (web, store)\n}}\n"
    ));
    assert_eq!(codes, [Code::G001], "{text}");
    // A branch without a grain, and a grain that leaves a branch's out.
    let (codes, text) = problems(&format!(
        "{BRANCHES}model lines {{\n  from raw.orders o\n  columns {{ order_id = o.customer_id, amount = o.amount, channel = 'line' }}\n}}\n\
         model all_orders {{\n  grain = [channel, order_id]\n  union all (web, store, lines)\n}}\n"
    ));
    assert_eq!(codes, [Code::G001], "{text}");
    assert!(text.contains("`lines` has no known grain"), "{text}");
    // `union` removes duplicates: every column together is a key.
    let (codes, text) = problems(&format!(
        "{same}model all_orders {{\n  grain = [order_id, amount, channel]\n  union (web, store)\n}}\n"
    ));
    assert!(codes.is_empty(), "{text}");
    // But not a key of fewer columns: two branches may hold one order_id
    // with different amounts, and both rows are kept.
    let (codes, text) = problems(&format!(
        "{same}model all_orders {{\n  grain = [order_id]\n  union (web, store)\n}}\n"
    ));
    assert_eq!(codes, [Code::G001], "{text}");
    // Unions of unions: the discriminator's values are each branch's set.
    let nested = format!(
        "{BRANCHES}model app {{\n  from raw.orders o\n  columns {{ order_id = o.order_id, amount = o.amount, channel = 'app' }}\n}}\n\
         model offline {{\n  grain = [channel, order_id]\n  union all (store)\n}}\n\
         model online {{\n  grain = [channel, order_id]\n  union all (web, app)\n}}\n\
         model everything {{\n  grain = [channel, order_id]\n  union all (online, offline)\n}}\n"
    );
    let (codes, text) = problems(&nested);
    assert!(codes.is_empty(), "{text}");
    let overlapping = nested.replace("union all (online, offline)", "union all (online, web)");
    assert_eq!(problems(&overlapping).0, [Code::G001]);
}

#[test]
fn wrong_unions_are_reported_at_the_branch() {
    let cases: &[(&str, &[Code])] = &[
        // A branch with other names, or another type.
        (
            "model b {\n  from raw.orders o\n  columns { order_id = o.order_id, total = o.amount, channel = 'b' }\n}\n",
            &[Code::R014],
        ),
        (
            "model b {\n  from raw.orders o\n  columns { order_id = o.order_id, amount = o.status, channel = 'b' }\n}\n",
            &[Code::T015],
        ),
    ];
    for (b, expected) in cases {
        let models = format!(
            "model a {{\n  from raw.orders o\n  columns {{ order_id = o.order_id, amount = o.amount, channel = 'a' }}\n}}\n{b}model u {{\n  union all (a, b)\n}}\n"
        );
        let (codes, text) = problems(&models);
        assert_eq!(&codes, expected, "{models}\n{text}");
    }
    // A union model has no other clause and no columns of its own.
    let (codes, text) = problems(&format!(
        "{BRANCHES}model u {{\n  union all (web, store)\n  where web.amount > 0\n  columns {{ x = 1 }}\n}}\n"
    ));
    assert_eq!(codes, [Code::R008, Code::R008], "{text}");
    // An unknown branch is R001, once.
    let (codes, text) = problems(&format!(
        "{BRANCHES}model u {{\n  union all (web, shop)\n}}\n"
    ));
    assert_eq!(codes, [Code::R001], "{text}");
}

#[test]
fn a_union_builds_the_rows_of_every_branch() {
    let models = format!(
        "{BRANCHES}model all_orders {{\n  grain = [channel, order_id]\n  union all (web, store)\n}}\n\
         model by_channel {{\n  grain = [channel]\n  from all_orders a\n  group by a.channel\n  \
         columns {{ channel = a.channel, orders = count(a.order_id), amount = sum(a.amount) }}\n}}\n"
    );
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"unions\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        ("models/sources.shop", SOURCES),
        ("models/unions.shop", &models),
        (
            "seeds/orders.csv",
            "order_id,customer_id,status,amount\n1,10,placed,5.00\n2,10,placed,7.50\n",
        ),
        (
            "seeds/customers.csv",
            "customer_id,email\n1,a@x\n20,b@x\n30,c@x\n",
        ),
    ]);
    common::build(dir.path(), &[]);
    let db = common::database_at(&dir.path().join("target/unions.duckdb"));
    let mut statement = db
        .prepare(
            "SELECT channel, orders, CAST(amount AS DOUBLE) FROM main.by_channel ORDER BY channel",
        )
        .unwrap();
    let rows: Vec<(String, i64, Option<f64>)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [("store".into(), 3, None), ("web".into(), 2, Some(12.5))]
    );
}

#[test]
fn series_are_relations_without_a_table_with_a_proven_grain() {
    use crate::postgres::SPINES;
    let (compilation, db) = common::compile(SOURCES, SPINES);
    let (codes, text) = common::problems(&compilation, &db);
    assert!(codes.is_empty(), "{text}");
    let ir = &compilation.ir;
    for model in ["numbers", "days", "months", "weeks", "hours"] {
        let rel = ir.get(model).unwrap();
        // Parsed on all four dialects; a series is no node of its own.
        crate::emit::selects(ir, rel.id);
        assert_eq!(rel.deps, []);
    }
    assert_eq!(ir.get("numbers").unwrap().columns.len(), 2);
    assert_eq!(
        ir.column(ir.get("days").unwrap().columns["day"]).ty,
        Type::Date
    );
    assert_eq!(
        ir.column(ir.get("hours").unwrap().columns["at"]).ty,
        Type::Timestamp
    );
    let never = |m: &str, c: &str| {
        compilation
            .analysis
            .nullability
            .never_null(ir.get(m).unwrap().columns[c])
    };
    assert!(never("days", "day") && never("numbers", "doubled"));
    // Built on DuckDB: both bounds included.
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"spines\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        ("models/s.shop", SPINES),
    ]);
    common::build(dir.path(), &[]);
    let db = common::database_at(&dir.path().join("target/spines.duckdb"));
    let days: Vec<String> = db
        .prepare("SELECT CAST(day AS VARCHAR) FROM main.days ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        days,
        [
            "2024-02-27",
            "2024-02-28",
            "2024-02-29",
            "2024-03-01",
            "2024-03-02"
        ]
    );
    let n: Vec<(i64, i64)> = db
        .prepare("SELECT n, doubled FROM main.numbers ORDER BY 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(n, [(1, 2), (2, 4), (3, 6), (4, 8), (5, 10)]);
    // A spine joined to facts: every day, with or without orders.
    let joined = "model daily {\n  grain = [day]\n  from date_spine('day', date '2024-01-01', date '2024-01-03') d\n  \
        left join raw.orders o on o.order_id = date_part('day', d.date_day)\n  group by d.date_day\n  \
        columns { day = d.date_day, orders = count(o.order_id) }\n}\n";
    assert_eq!(problems(joined).0, []);
}

#[test]
fn wrong_series_are_reported_at_their_bounds() {
    let cases: &[(&str, &[Code])] = &[
        ("range(1)", &[Code::T005]),
        ("range('a', 2)", &[Code::T001]),
        ("range(1, 2.5)", &[Code::T001]),
        (
            "date_spine('fortnight', date '2024-01-01', date '2024-02-01')",
            &[Code::T001],
        ),
        (
            "date_spine(day, date '2024-01-01', date '2024-02-01')",
            &[Code::R002],
        ),
        ("date_spine('day', 1, 2)", &[Code::T001, Code::T001]),
        // The bounds are constants: they see no relation.
        ("range(0, o.amount)", &[Code::R006]),
    ];
    for (series, expected) in cases {
        let source = format!("model m {{\n  from {series} s\n  columns {{ x = 1 }}\n}}\n");
        let (codes, text) = problems(&source);
        assert_eq!(&codes, expected, "{source}\n{text}");
    }
    let (_, text) = problems("model m {\n  from range(0, n) s\n  columns { x = 1 }\n}\n");
    assert!(
        text.contains("no relation is read here: a series' bounds are constants"),
        "{text}"
    );
    // A relation named like a series is still a relation.
    let (codes, text) = problems(
        "model range {\n  from raw.orders o\n  columns { id = o.order_id }\n}\nmodel m {\n  from range r\n  columns { id = r.id }\n}\n",
    );
    assert!(codes.is_empty(), "{text}");
}
