//! What a new user meets: options a command does not take, selectors it
//! does not know, seeds in folders, a source table that is not there, a dbt
//! model pasted in, an unclosed brace, and a model without a layer. Each must say what is wrong, where, and what to do.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::common;
use common::{run, shopco_copy, stderr, stdout};

fn check(root: &Path) -> std::process::Output {
    run("check", root, &[])
}

#[test]
fn options_a_command_does_not_use_are_refused() {
    let (_temp, root) = shopco_copy(&[]);
    for (command, option) in [
        ("test", &["--seeds", "elsewhere"][..]),
        ("compile", &["--target", "pg"][..]),
        ("seed", &["--full-refresh"][..]),
        ("snapshot", &["--seeds", "x"][..]),
        ("emit", &["--threads", "2"][..]),
    ] {
        let out = run(command, &root, option);
        assert_eq!(out.status.code(), Some(2), "{command} {option:?}");
        assert!(
            stderr(&out).contains(&format!("unexpected argument '{}'", option[0])),
            "{command} {option:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn unknown_selector_methods_are_named_with_the_ones_there_are() {
    let (_temp, root) = shopco_copy(&[]);
    for (selector, says) in [
        ("path:models/staging", "no selector method `path:`"),
        ("source:raw_typo", "matches no source table"),
        (
            "config.materialized:table",
            "no selector method `config.materialized:`",
        ),
        (
            "stg_orders,stg_customers",
            "intersections (`a,b`) are not supported",
        ),
        ("*", "wildcards are not supported"),
        (
            "+stg_ordrs",
            "selector `+stg_ordrs`: no relation has this name (did you mean `stg_orders`?)",
        ),
    ] {
        let out = run("run", &root, &["-s", selector]);
        assert_eq!(out.status.code(), Some(2), "{selector}");
        let err = stderr(&out);
        assert!(err.contains(says), "{selector}: {err}");
    }
    let out = run("run", &root, &["-s", "path:x"]);
    assert!(
        stderr(&out).contains("the methods are `tag:`, `layer:`, `source:`"),
        "{}",
        stderr(&out)
    );
    // `source:` selects a source's tables, and `+` works on them.
    let out = run("seed", &root, &["-s", "source:raw"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches(" OK      seed raw.").count(), 5);
}

#[test]
fn color_colours_the_status_of_progress_lines() {
    let (_temp, root) = shopco_copy(&[]);
    let out = run("seed", &root, &["--color", "always"]);
    let text = stdout(&out);
    assert!(
        text.contains("\x1b[32mOK     \x1b[0m seed raw.raw_orders"),
        "{text}"
    );
    let out = run(
        "test",
        &root,
        &["--color", "always", "-s", "raw.raw_orders"],
    );
    assert!(
        stdout(&out).contains("\x1b[32mPASS   \x1b[0m test"),
        "{}",
        stdout(&out)
    );
    let out = run("seed", &root, &["--color", "never"]);
    assert!(!stdout(&out).contains('\x1b'));
}

#[test]
fn a_seed_in_a_subfolder_is_loaded() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::create_dir_all(root.join("seeds/catalog")).unwrap();
    std::fs::rename(
        root.join("seeds/raw_products.csv"),
        root.join("seeds/catalog/raw_products.csv"),
    )
    .unwrap();
    let text = common::build(&root, &[]);
    assert!(text.contains("OK      seed raw.raw_products"), "{text}");
}

#[test]
fn a_source_table_without_seed_or_table_is_named_once_before_anything_runs() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::remove_file(root.join("seeds/raw_products.csv")).unwrap();
    let out = run("build", &root, &[]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        err.contains("warning[F007]: `raw.raw_products` has no seed file"),
        "{err}"
    );
    assert_eq!(
        text.matches("error: source table `raw.raw_products` does not exist in duckdb")
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("no seed file fills it (raw_products.csv)"),
        "{text}"
    );
    assert!(text.contains("nothing was run"), "{text}");
    assert!(!text.contains("Running"), "{text}");
    assert!(!text.contains("Catalog Error"), "{text}");
}

#[test]
fn a_dbt_model_gets_a_hint_of_what_to_write() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::write(
        root.join("models/jinja.shop"),
        "model from_jinja {\n  from {{ ref('stg_orders') }}\n  columns { id = 1 }\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/query.shop"),
        "select order_id, status\nfrom stg_orders\n",
    )
    .unwrap();
    std::fs::write(
        root.join("models/old.sql"),
        "select 1 from {{ ref('x') }}\n",
    )
    .unwrap();
    let out = check(&root);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("help: shopc has no Jinja: name relations directly"),
        "{err}"
    );
    assert!(err.contains("help: a model is not a SQL query"), "{err}");
    assert!(
        err.contains("warning[F008]: a `.sql` file among the models is not read"),
        "{err}"
    );
}

#[test]
fn an_unclosed_brace_is_reported_once_at_the_brace() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::write(
        root.join("models/unclosed.shop"),
        "## Orders, unfinished.\nmodel unfinished {\n  from stg_orders o\n  columns {\n    order_id = o.order_id\n",
    )
    .unwrap();
    let out = check(&root);
    let err = stderr(&out);
    assert_eq!(err.matches("error[").count(), 1, "{err}");
    assert!(
        err.contains("error[P001]: syntax error: `{` is never closed"),
        "{err}"
    );
    assert!(err.contains("unclosed.shop:4:11"), "{err}");
    assert!(err.contains("the file ends here"), "{err}");
}

#[test]
fn an_ambiguous_column_is_reported_without_a_cascade() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::write(
        root.join("models/ambiguous.shop"),
        "model ambiguous {\n  grain = [customer_id]\n  from stg_orders o\n  left join stg_customers c on c.customer_id = o.customer_id\n  columns { customer_id = customer_id }\n}\n",
    )
    .unwrap();
    let err = stderr(&check(&root));
    assert!(err.contains("error[R005]"), "{err}");
    assert_eq!(err.matches("error[").count(), 1, "{err}");
}

#[test]
fn a_model_without_a_layer_says_how_it_is_built() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::write(
        root.join("snapshots/loose.shop"),
        "model loose_orders {\n  from stg_orders o\n  columns { order_id = o.order_id }\n}\n",
    )
    .unwrap();
    let err = stderr(&check(&root));
    assert!(
        err.contains(
            "note: 1 model without a layer is built as a view in schema `main`, by shopc's default"
        ),
        "{err}"
    );
    // A project default changes it, and check says which default applied.
    let toml = std::fs::read_to_string(root.join("shop.toml")).unwrap();
    std::fs::write(
        root.join("shop.toml"),
        format!("{toml}\n[defaults]\nmaterialized = \"table\"\nschema = \"loose\"\n"),
    )
    .unwrap();
    let err = stderr(&check(&root));
    assert!(
        err.contains("is built as a table in schema `loose`, by the project's `[defaults] materialized = \"table\"`"),
        "{err}"
    );
    let text = common::build(&root, &["-s", "+loose_orders"]);
    assert!(text.contains("OK      table loose.loose_orders"), "{text}");
}

#[test]
fn a_grain_declared_on_a_computed_key_says_what_the_grain_is() {
    let (_temp, root) = shopco_copy(&[]);
    std::fs::write(
        root.join("models/marts/item_keys.shop"),
        "model item_keys {\n  layer = \"marts\"\n  grain = [item_key]\n  from stg_order_items i\n  columns {\n    item_key = md5(i.order_id::text || '-' || i.order_item_id::text)\n    quantity = i.quantity\n  }\n}\n",
    )
    .unwrap();
    let err = stderr(&check(&root));
    assert!(err.contains("error[G001]"), "{err}");
    assert!(
        err.contains("the derived grain is [i.order_item_id], and not every one of those is an output column as it is"),
        "{err}"
    );
    assert!(
        err.contains("`item_key` is computed from [i.order_item_id]"),
        "{err}"
    );
    assert!(!err.contains("unchanged"), "{err}");
}
