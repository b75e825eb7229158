//! The project's functions (`fn`) and `surrogate_key`: checked at the
//! definition and at every call, inlined so that types, nullability and the
//! grain algebra see through them, emitted on every dialect, and built on
//! DuckDB with the values dbt_utils gives.
#![allow(clippy::disallowed_methods)]

use shopc::diagnostic::Code;
use shopc::emit::{Dialect, Emitter};
use shopc::ir::types::Type;
use shopc::ir::{ExprKind, Ir};
use shopc::span::SourceDb;

use crate::common;

const SOURCES: &str = r#"
source raw {
  table orders { expect_key = [order_id]
    columns { order_id: integer, amount_cents: integer, status: text, ordered_at: timestamp } }
  table items { expect_key = [order_id, line]
    columns { order_id: integer, line: integer, sku: text, quantity: integer } }
}
"#;

const CENTS: &str =
    "fn cents_to_dollars(cents: numeric) -> numeric(16, 2) = cast(cents / 100 as numeric(16, 2))\n";

fn compile(models: &str) -> (shopc::Compilation, SourceDb) {
    common::compile(SOURCES, models)
}

/// The codes of the problems, in order, and the rendered text.
fn problems(models: &str) -> (Vec<Code>, String) {
    let (compilation, db) = compile(models);
    common::problems(&compilation, &db)
}

fn clean(models: &str) -> shopc::Compilation {
    let (compilation, db) = compile(models);
    let (codes, text) = common::problems(&compilation, &db);
    assert!(codes.is_empty(), "{text}");
    compilation
}

fn column<'a>(ir: &'a Ir, model: &str, name: &str) -> &'a shopc::ir::Column {
    let rel = ir.get(model).unwrap();
    ir.column(rel.columns[name])
}

#[test]
fn a_call_has_the_declared_type_and_is_the_body_on_every_dialect() {
    let models = format!(
        "{CENTS}\nmodel orders {{\n  from raw.orders o\n  columns {{\n    order_id = o.order_id\n    amount = cents_to_dollars(o.amount_cents)\n    doubled = cents_to_dollars(o.amount_cents * 2)\n  }}\n}}\n"
    );
    let compilation = clean(&models);
    let ir = &compilation.ir;
    let amount = column(ir, "orders", "amount");
    assert_eq!(amount.ty, Type::Numeric(Some((16, 2))));
    // Inlined: the column is the cast of the body, with the argument in it.
    let expr = amount.expr.as_ref().unwrap();
    assert!(matches!(expr.kind, ExprKind::Cast { .. }), "{expr:?}");
    assert_eq!(ir.functions.len(), 1);
    assert_eq!(ir.functions[0].name, "cents_to_dollars");
    let rel = ir.get("orders").unwrap().id;
    for sql in crate::emit::selects(ir, rel) {
        assert!(!sql.contains("cents_to_dollars"), "{sql}");
        assert!(sql.contains("/ CAST(100 AS"), "{sql}");
    }
}

#[test]
fn a_narrower_body_is_cast_to_the_declared_type_and_functions_call_functions() {
    let models = "fn next(x: bigint) -> bigint = x + 1\nfn after_next(x: integer) -> bigint = next(next(x))\n\
        model m {\n  from raw.orders o\n  columns { order_id = o.order_id, n = after_next(o.order_id) }\n}\n";
    let compilation = clean(models);
    let n = column(&compilation.ir, "m", "n");
    assert_eq!(n.ty, Type::BigInt);
    let sql =
        Emitter::new(&compilation.ir, Dialect::DuckDb).select(compilation.ir.get("m").unwrap().id);
    assert_eq!(sql.matches("+ 1)").count(), 2, "{sql}");
    // A bigint argument does not narrow to an integer parameter.
    let (codes, _) = problems(
        "fn half(x: integer) -> double = x / 2\nmodel m {\n  from raw.orders o\n  columns { order_id = o.order_id, h = half(count(o.order_id) over ()) }\n}\n",
    );
    assert_eq!(codes, [Code::T001]);
}

#[test]
fn nullability_sees_through_a_call() {
    let models = "fn or_zero(x: integer) -> integer = coalesce(x, 0)\nfn plus(x: integer) -> integer = x + 1\n\
        model m {\n  from raw.orders o\n  columns { order_id = o.order_id, a = or_zero(o.amount_cents), b = plus(o.amount_cents), c = plus(o.order_id) }\n}\n";
    let compilation = clean(models);
    let ir = &compilation.ir;
    let never = |name: &str| {
        let rel = ir.get("m").unwrap();
        compilation
            .analysis
            .nullability
            .never_null(rel.columns[name])
    };
    assert!(never("a"), "coalesce(x, 0) is never NULL");
    assert!(!never("b"), "x + 1 of a column that may be NULL may be");
    // The order id is the source's key, tested not NULL.
    assert_eq!(never("c"), never("order_id"));
}

#[test]
fn calls_are_checked_against_the_definition() {
    let models = format!(
        "{CENTS}\nmodel m {{\n  from raw.orders o\n  columns {{ order_id = o.order_id, a = cents_to_dollars(o.status), b = cents_to_dollars(1, 2) }}\n}}\n"
    );
    let (codes, text) = problems(&models);
    assert_eq!(codes, [Code::T001, Code::T005], "{text}");
    assert!(
        text.contains("argument 1 is text, `cents_to_dollars` expects numeric (parameter `cents`)"),
        "{text}"
    );
    assert!(
        text.contains("convert it first, e.g. `cast(... as numeric)`"),
        "{text}"
    );
    assert_eq!(
        text.matches("`cents_to_dollars` is defined here").count(),
        2,
        "{text}"
    );
}

#[test]
fn definitions_are_checked_once_whether_called_or_not() {
    let cases: &[(&str, &[Code])] = &[
        // The body sees its parameters and nothing else.
        ("fn f(x: integer) -> integer = x + y\n", &[Code::R002]),
        ("fn f(x: integer) -> integer = o.x\n", &[Code::R002]),
        // A scalar: no aggregates, no windows.
        ("fn f(x: integer) -> bigint = sum(x)\n", &[Code::T008]),
        (
            "fn f(x: integer) -> bigint = row_number() over (order by x)\n",
            &[Code::T010],
        ),
        // Its type is the declared one, or narrower.
        ("fn f(x: integer) -> boolean = x * 2\n", &[Code::T013]),
        ("fn f(x: numeric) -> integer = x\n", &[Code::T013]),
        ("fn f(x: integer) -> numeric(12, 2) = x\n", &[]),
        ("fn f(x: date) -> timestamp = x\n", &[]),
        ("fn f() -> integer = null\n", &[]),
        // Names: unique, not the library's, parameters unique.
        (
            "fn f(x: integer) -> integer = x\nfn F(y: integer) -> integer = y\n",
            &[Code::R003],
        ),
        ("fn coalesce(x: integer) -> integer = x\n", &[Code::R012]),
        ("fn var(x: integer) -> integer = x\n", &[Code::R012]),
        ("fn f(x: integer, x: text) -> integer = 1\n", &[Code::R003]),
        ("fn f(x: intger) -> integer = 1\n", &[Code::T006]),
        // Recursion, direct or not, reported once at the call that loops.
        ("fn f(x: integer) -> integer = f(x)\n", &[Code::T012]),
        (
            "fn f(x: integer) -> integer = g(x)\nfn g(x: integer) -> integer = h(x)\nfn h(x: integer) -> integer = f(x) + 1\n",
            &[Code::T012],
        ),
    ];
    for (source, expected) in cases {
        let (codes, text) = problems(source);
        assert_eq!(&codes, expected, "{source}\n{text}");
    }
    let (_, text) = problems(
        "fn f(x: integer) -> integer = g(x)\nfn g(x: integer) -> integer = f(x)\n\
         model m {\n  from raw.orders o\n  columns { order_id = o.order_id, a = f(o.order_id), b = g(1) }\n}\n",
    );
    assert!(
        text.contains("this call closes the loop f → g → f"),
        "{text}"
    );
    // The models that call a broken function are not reported again.
    assert_eq!(text.matches("error[").count(), 1, "{text}");
}

#[test]
fn an_expansion_is_bounded_before_it_is_built() {
    let nested = |levels: usize| {
        format!(
            "fn twice(x: text) -> text = x || x\nmodel m {{\n  from raw.orders o\n  columns {{ order_id = o.order_id, loud = {}o.status{} }}\n}}\n",
            "twice(".repeat(levels),
            ")".repeat(levels)
        )
    };
    // 2^15 copies of the argument fit; 2^17 do not, and are reported at
    // the call that crosses the bound (the calls around it start again
    // from that call's error).
    assert!(problems(&nested(15)).0.is_empty());
    let (codes, text) = problems(&nested(20));
    assert_eq!(codes, [Code::T014], "{text}");
    assert!(
        text.contains("inlined, this call would be 131,071 nodes"),
        "{text}"
    );
    // Deep bodies count their levels too.
    let deep = format!(
        "fn deep(x: integer) -> integer = {}x{}\nmodel m {{\n  from raw.orders o\n  columns {{ order_id = o.order_id, d = deep(deep(deep(o.order_id))) }}\n}}\n",
        "(1 + ".repeat(400),
        ")".repeat(400)
    );
    let (codes, text) = problems(&deep);
    assert_eq!(codes, [Code::T014], "{text}");
}

#[test]
fn a_surrogate_key_stands_for_the_columns_it_hashes() {
    let items = |columns: &str, grain: &str| {
        format!(
            "model m {{\n  grain = [{grain}]\n  from raw.items i\n  columns {{ {columns}, quantity = i.quantity }}\n}}\n"
        )
    };
    // Declared and proven from [order_id, line], with or without the
    // columns themselves among the outputs.
    clean(&items(
        "item_key = surrogate_key(i.order_id, i.line)",
        "item_key",
    ));
    clean(&items(
        "order_id = i.order_id, line = i.line, item_key = surrogate_key(i.order_id, i.line)",
        "item_key",
    ));
    // More parts than the key is fine; fewer is not; nor is another hash.
    clean(&items(
        "item_key = surrogate_key(i.sku, i.order_id, i.line)",
        "item_key",
    ));
    let (codes, _) = problems(&items("item_key = surrogate_key(i.order_id)", "item_key"));
    assert_eq!(codes, [Code::G001]);
    let (codes, _) = problems(&items(
        "item_key = md5(concat(i.order_id, '-', i.line))",
        "item_key",
    ));
    assert_eq!(codes, [Code::G001]);
    // A part of the key as is, the rest hashed.
    clean(&items(
        "order_id = i.order_id, line_key = surrogate_key(i.line, i.sku)",
        "order_id, line_key",
    ));
    // Derived without a declaration, after a group by too.
    let compilation = clean(
        "model d {\n  from raw.items i\n  columns { item_key = surrogate_key(i.order_id, i.line), quantity = i.quantity }\n}\n\
         model g {\n  from raw.items i\n  group by i.order_id, i.sku\n  columns { key = surrogate_key(i.order_id, i.sku), units = sum(i.quantity) }\n}\n",
    );
    let ir = &compilation.ir;
    for (model, key) in [("d", "item_key"), ("g", "key")] {
        let rel = ir.get(model).unwrap();
        assert_eq!(
            compilation.analysis.grains.of(rel.id),
            &shopc::check::grain::Grain::Key(vec![rel.columns[key]]),
            "{model}"
        );
    }
    // dbt_utils' formula on every dialect, each part written once.
    let rel = ir.get("d").unwrap();
    for sql in crate::emit::selects(ir, rel.id) {
        assert_eq!(
            sql.matches("'_dbt_utils_surrogate_key_null_'").count(),
            2,
            "{sql}"
        );
        assert_eq!(sql.matches("|| '-' ||").count(), 1, "{sql}");
        assert!(sql.to_lowercase().contains("md5("), "{sql}");
    }
    // Never NULL, text, and only of types every warehouse writes alike.
    assert!(
        compilation
            .analysis
            .nullability
            .never_null(rel.columns["item_key"])
    );
    assert_eq!(column(ir, "d", "item_key").ty, Type::Text);
    let (codes, text) = problems(
        "model m {\n  from raw.orders o\n  columns { k = surrogate_key(o.order_id, o.ordered_at) }\n}\n",
    );
    assert_eq!(codes, [Code::T001], "{text}");
    assert!(
        text.contains("text, an integer, a date or a boolean"),
        "{text}"
    );
}

#[test]
fn built_on_duckdb_a_call_gives_the_bodys_value_and_keys_are_dbt_utils_keys() {
    let dir = common::project(&[
        ("shop.toml", "name = \"functions\"\n"),
        ("models/sources.shop", SOURCES),
        (
            "models/models.shop",
            &format!(
                "{CENTS}\nmodel orders {{\n  materialized = \"table\"\n  from raw.orders o\n  columns {{ order_id = o.order_id, amount = cents_to_dollars(o.amount_cents) }}\n}}\n\
                 model items {{\n  materialized = \"table\"\n  grain = [item_key]\n  from raw.items i\n  columns {{ item_key = surrogate_key(i.order_id, i.line, i.sku), order_id = i.order_id, line = i.line }}\n}}\n"
            ),
        ),
        (
            "seeds/orders.csv",
            "order_id,amount_cents,status,ordered_at\n1,1999,paid,2024-01-01 10:00:00\n2,5,paid,2024-01-02 10:00:00\n3,,paid,2024-01-03 10:00:00\n",
        ),
        (
            "seeds/items.csv",
            "order_id,line,sku,quantity\n1,1,10,2\n1,2,,1\n2,1,20,1\n",
        ),
    ]);
    let root = dir.path();
    common::build(root, &[]);
    let db = common::database_at(&root.join("target/functions.duckdb"));
    let rows = |sql: &str| -> Vec<String> {
        let mut statement = db.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_else(|| "NULL".into()))
            .collect()
    };
    assert_eq!(
        rows("SELECT CAST(amount AS VARCHAR) FROM main.orders ORDER BY order_id"),
        ["19.99", "0.05", "NULL"]
    );
    // md5 of `1-1-10`, `1-2-_dbt_utils_surrogate_key_null_` and `2-1-20`,
    // as Python's hashlib computes them: what
    // dbt_utils.generate_surrogate_key gives for the same columns.
    assert_eq!(
        rows("SELECT item_key FROM main.items ORDER BY order_id, line"),
        [
            "af6861ab7f6434469ba3070aff721557",
            "26f2d5677ded2906429a9f6ed7774b21",
            "3747f15b4d5155723bae885b64cc5967",
        ]
    );
}
