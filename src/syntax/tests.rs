use super::ast::*;
use super::parse_file;
use crate::problem::Problem;
use crate::span::FileId;

fn parse_ok(text: &str) -> File {
    let parsed = parse_file(FileId(0), text);
    assert!(
        parsed.problems.is_empty(),
        "unexpected problems: {:#?}",
        parsed.problems
    );
    parsed.file
}

/// Parses `model m { from t columns { x = EXPR } }` and prints EXPR grouped.
fn expr(text: &str) -> String {
    let file = parse_ok(&format!(
        "model m {{\n from t\n columns {{ x = {text} }}\n}}"
    ));
    let Item::Model(model) = &file.items[0] else {
        panic!("not a model")
    };
    let Block::Output { columns, .. } = &model.blocks[0] else {
        panic!("not columns")
    };
    let Output::Column(column) = &columns[0] else {
        panic!("not a column")
    };
    column.expr.to_string()
}

#[test]
fn shopco_files_parse() {
    for text in [
        include_str!("../../shopco_models/sources/raw.shop"),
        include_str!("../../shopco_models/models/staging/stg_customers.shop"),
        include_str!("../../shopco_models/snapshots/customers_snapshot.shop"),
    ] {
        parse_ok(text);
    }
}

#[test]
fn precedence() {
    assert_eq!(expr("1 + 2 * 3"), "(1 + (2 * 3))");
    assert_eq!(expr("a or b and not c"), "(a or (b and (not c)))");
    assert_eq!(expr("-a.x::text || 'b'"), "((-cast(a.x as text)) || 'b')");
    assert_eq!(
        expr("a = 1 and b is not null"),
        "((a = 1) and (b is not null))"
    );
    assert_eq!(
        expr("x between 1 and 2 + 3 and y"),
        "((x between 1 and (2 + 3)) and y)"
    );
    assert_eq!(expr("a - b - c"), "((a - b) - c)");
    assert_eq!(
        expr("a like 'x%' or a not ilike 'y'"),
        "((a like 'x%') or (a not ilike 'y'))"
    );
    assert_eq!(expr("s not in ('a', 'b')"), "(s not in ('a', 'b'))");
    // Prefixes and postfixes against infix operators, as SQL binds them.
    assert_eq!(expr("not a = b"), "(not (a = b))");
    assert_eq!(expr("not x is null"), "(not (x is null))");
    assert_eq!(expr("-x is null"), "((-x) is null)");
    assert_eq!(expr("a = b is null"), "((a = b) is null)");
    assert_eq!(expr("- - x"), "(-(-x))");
    assert_eq!(expr("not not a and b"), "((not (not a)) and b)");
    assert_eq!(expr("x::int::text"), "cast(cast(x as int) as text)");
    assert_eq!(expr("-a * b"), "((-a) * b)");
    assert_eq!(expr("a * -b + c"), "((a * (-b)) + c)");
    assert_eq!(expr("a or not b and c"), "(a or ((not b) and c))");
    assert_eq!(expr("a < b || c"), "(a < (b || c))");
}

#[test]
fn depth_is_limited_and_reported_once_per_item() {
    let limit = super::MAX_DEPTH;
    // Just under the limit: fine, however it is nested.
    let text = format!(
        "model m {{\n from t\n columns {{ x = {}1 }}\n}}",
        "-".repeat(limit - 1)
    );
    assert!(parse_file(FileId(0), &text).problems.is_empty());
    // Over it: one P003 per item; the item is dropped and named broken.
    for expr in [
        format!("{}1", "-".repeat(limit * 3)),
        format!("1{}", " + 1".repeat(limit * 3)),
        format!("1{}", "::int".repeat(limit * 3)),
        format!("{}1{}", "(".repeat(limit + 5), ")".repeat(limit + 5)),
    ] {
        let text = format!(
            "model m {{\n from t\n columns {{ x = {expr}, y = {expr} }}\n}}\nmodel n {{\n from t\n columns {{ x = 1 }}\n}}\n"
        );
        let parsed = parse_file(FileId(0), &text);
        let deep: Vec<_> = parsed
            .problems
            .iter()
            .filter(|p| matches!(p, Problem::TooDeep { .. }))
            .collect();
        assert_eq!(deep.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.broken_items, ["m"]);
        let names: Vec<_> = parsed
            .file
            .items
            .iter()
            .map(|i| i.name().name.clone())
            .collect();
        assert_eq!(names, ["n"]);
    }
}

#[test]
fn literals() {
    assert_eq!(expr("'it''s'"), "'it''s'");
    assert_eq!(expr("date '2024-01-31'"), "date '2024-01-31'");
    assert_eq!(
        expr("timestamp '2024-01-31 10:00'"),
        "timestamp '2024-01-31 10:00'"
    );
    assert_eq!(expr("1.50"), "1.50");
    assert_eq!(expr("true and null"), "(true and null)");
    assert_eq!(expr("`order`.`Weird Name`"), "order.Weird Name");
}

#[test]
fn calls_aggregates_windows() {
    assert_eq!(expr("count(*)"), "count(*)");
    assert_eq!(expr("count(distinct o.id)"), "count(distinct o.id)");
    assert_eq!(
        expr("sum(x) filter (where s = 'ok')"),
        "sum(x) filter (where (s = 'ok'))"
    );
    assert_eq!(
        expr("ntile(5) over (partition by a, b order by r desc nulls last, t)"),
        "ntile(5) over (partition by a, b order by r desc nulls last, t)"
    );
    assert_eq!(
        expr("row_number() over (order by x)"),
        "row_number() over (order by x)"
    );
    assert_eq!(expr("left(name, 3)"), "left(name, 3)");
    assert_eq!(expr("date(x)"), "date(x)");
    assert_eq!(
        expr("cast(x as numeric(12, 2))"),
        "cast(x as numeric(12, 2))"
    );
    assert_eq!(
        expr("sql(\"x::money\") : numeric"),
        "sql(\"x::money\") : numeric"
    );
}

#[test]
fn case_forms() {
    assert_eq!(
        expr("case when a > 1 then 'x' when a < 0 then 'y' else 'z' end"),
        "(case when (a > 1) then 'x' when (a < 0) then 'y' else 'z' end)"
    );
    assert_eq!(
        expr("case s when 'a' then 1 end"),
        "(case s when 'a' then 1 end)"
    );
}

#[test]
fn model_clauses_and_blocks() {
    let file = parse_ok(
        r#"
        ## Docs for m.
        ## Second line.
        model m {
          layer = "marts"
          grain = [order_id]
          materialized = { incremental = { unique_key = "order_id", lookback = "3 days" } }
          from stg_orders as o
          join int_totals t on t.order_id = o.order_id
          left join stg_customers c on c.customer_id = o.customer_id
          where o.status != 'cancelled'
          group by o.order_id, o.customer_id
          having count(*) > 1
          dimensions { order_id = o.order_id, customer_id = o.customer_id }
          measures {
            ## Revenue.
            revenue = sum(t.revenue)
          }
          tests {
            accepted_values(status, ["a", "b"], severity = "warn")
          }
        }
        "#,
    );
    let Item::Model(m) = &file.items[0] else {
        panic!()
    };
    assert_eq!(m.doc.as_deref(), Some("Docs for m.\nSecond line."));
    assert_eq!(m.settings.len(), 3);
    let keywords: Vec<&str> = m.clauses.iter().map(Clause::keyword).collect();
    assert_eq!(
        keywords,
        ["from", "join", "join", "where", "group by", "having"]
    );
    let Clause::From { alias, .. } = &m.clauses[0] else {
        panic!()
    };
    assert_eq!(alias.as_ref().unwrap().name, "o");
    let Clause::Join { kind, .. } = &m.clauses[2] else {
        panic!()
    };
    assert_eq!(*kind, JoinKind::Left);
    assert_eq!(m.blocks.len(), 3);
    let Block::Output { columns, .. } = &m.blocks[1] else {
        panic!()
    };
    let Output::Column(first) = &columns[0] else {
        panic!()
    };
    assert_eq!(first.doc.as_deref(), Some("Revenue."));
    let Block::Tests { tests, .. } = &m.blocks[2] else {
        panic!()
    };
    assert_eq!(tests[0].args.len(), 2);
    assert_eq!(tests[0].named[0].0.name, "severity");
}

#[test]
fn from_without_alias_before_setting_and_block() {
    let file =
        parse_ok("model m {\n from a\n grain = [x]\n}\nmodel n {\n from b\n columns { x = 1 }\n}");
    for item in &file.items {
        let Item::Model(m) = item else { panic!() };
        let Clause::From { alias, .. } = &m.clauses[0] else {
            panic!()
        };
        assert!(alias.is_none());
    }
}

#[test]
fn dedupe_clause() {
    let file = parse_ok(
        "model m {\n from a\n dedupe on a.k, a.j keep earliest by a.t\n columns { k = a.k }\n}",
    );
    let Item::Model(m) = &file.items[0] else {
        panic!()
    };
    let Clause::Dedupe {
        keys,
        keep,
        order_by,
        ..
    } = &m.clauses[1]
    else {
        panic!()
    };
    assert_eq!(keys.len(), 2);
    assert_eq!(*keep, Keep::Earliest);
    assert_eq!(order_by.to_string(), "a.t");
}

#[test]
fn source_and_snapshot() {
    let file = parse_ok(
        r#"
        source raw {
          schema = "raw"
          freshness = { warn_after = "12h", error_after = "24h" }
          table t {
            expect_key = [id]
            columns { id: integer, amount: numeric(12, 2)
              ## when
              at: timestamp }
          }
        }
        snapshot s {
          from m
          unique_key = id
          strategy = { check = "all" }
        }
        "#,
    );
    let Item::Source(src) = &file.items[0] else {
        panic!()
    };
    assert_eq!(src.tables[0].columns.len(), 3);
    assert_eq!(src.tables[0].columns[1].ty.params, vec![12, 2]);
    assert_eq!(src.tables[0].columns[2].doc.as_deref(), Some("when"));
    let Item::Snapshot(snap) = &file.items[1] else {
        panic!()
    };
    assert_eq!(snap.from.as_ref().unwrap().dotted(), "m");
}

#[test]
fn toml_values() {
    let file = parse_ok(
        "model m {\n from a\n tags = ['x', \"y\\n\"]\n n = -3\n f = 1.5e3\n b = false\n p = a.b\n}",
    );
    let Item::Model(m) = &file.items[0] else {
        panic!()
    };
    let kinds: Vec<&ValueKind> = m.settings.iter().map(|s| &s.value.kind).collect();
    assert!(matches!(kinds[0], ValueKind::Array(v) if v.len() == 2));
    if let ValueKind::Array(v) = kinds[0] {
        assert_eq!(v[1].kind, ValueKind::String("y\n".into()));
    }
    assert_eq!(*kinds[1], ValueKind::Integer(-3));
    assert_eq!(*kinds[2], ValueKind::Float(1500.0));
    assert_eq!(*kinds[3], ValueKind::Bool(false));
    assert!(matches!(kinds[4], ValueKind::Path(p) if p.len() == 2));
}

#[test]
fn syntax_error_names_expected_tokens_and_recovers() {
    let text =
        "model a {\n from x\n columns { y = }\n}\nmodel b {\n from x\n columns { y = 1 }\n}\n";
    let parsed = parse_file(FileId(0), text);
    assert_eq!(parsed.file.items.len(), 1, "model b survives");
    assert_eq!(parsed.file.items[0].name().name, "b");
    assert_eq!(parsed.broken_items, ["a"]);
    let [
        Problem::Syntax {
            span,
            expected,
            found,
            hint: None,
        },
    ] = parsed.problems.as_slice()
    else {
        panic!("{:#?}", parsed.problems)
    };
    assert_eq!(&text[span.range()], "}");
    assert_eq!(found, "`}`");
    assert!(
        expected.iter().any(|e| e == "an expression"),
        "{expected:?}"
    );
}

#[test]
fn recovery_resumes_at_every_kind_of_item() {
    // A unit test after a broken model is parsed on its own, not taken
    // into the broken model's text.
    let text = "model a {\n from x\n columns { y = }\n}\n\
        unit_test t {\n  model = b\n  expect = [{ y = 1 }]\n}\n";
    let parsed = parse_file(FileId(0), text);
    assert_eq!(parsed.broken_items, ["a"]);
    let names: Vec<&str> = parsed
        .file
        .items
        .iter()
        .map(|i| i.name().name.as_str())
        .collect();
    assert_eq!(names, ["t"], "{:#?}", parsed.problems);
}

#[test]
fn keywords_can_be_names_where_unambiguous() {
    for text in [
        "model m {\n from a\n columns { order = 1 }\n}",
        "model m {\n from a\n columns { from = a.select }\n}",
        "model m {\n from a\n columns { `Weird name` = a.`from` }\n}",
    ] {
        let parsed = parse_file(FileId(0), text);
        assert!(parsed.problems.is_empty(), "{text}: {:?}", parsed.problems);
    }
}

#[test]
fn clause_keywords_are_not_aliases() {
    let file =
        parse_ok("model m {\n from a\n join b on b.id = a.id\n where a.x\n columns { x = a.x }\n}");
    let Item::Model(m) = &file.items[0] else {
        panic!()
    };
    let Clause::From { alias, .. } = &m.clauses[0] else {
        panic!()
    };
    assert!(alias.is_none());
    assert_eq!(m.clauses.len(), 3);
}

#[test]
fn recovery_steps_over_multibyte_characters() {
    for text in [
        "é",
        "𞹍 model",
        "model m { é }\nmodel n {\n from a\n columns { x = 1 }\n}",
    ] {
        let parsed = parse_file(FileId(0), text);
        assert!(!parsed.problems.is_empty(), "{text}");
    }
}
