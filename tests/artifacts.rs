//! `target/manifest.json`: its shape (checked against
//! `docs/manifest.schema.json`), its determinism, and what its fingerprints
//! say changed, rule by rule, in both directions.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common;

fn manifest(root: &Path) -> Value {
    let out = common::run("check", root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let text = std::fs::read_to_string(root.join("target/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn shopcos_manifest_follows_its_schema_and_knows_every_node() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let manifest = manifest(&root);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/manifest.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema refuses what it should.
    let mut broken = manifest.clone();
    broken["nodes"]["model.shopco.fact_orders"]["kind"] = "table".into();
    assert!(!validator.is_valid(&broken));

    let nodes = manifest["nodes"].as_object().unwrap();
    let count = |kind: &str| nodes.values().filter(|n| n["kind"] == kind).count();
    assert_eq!(
        [
            count("source"),
            count("seed"),
            count("model"),
            count("snapshot"),
            count("reconciliation")
        ],
        [5, 5, 14, 1, 1]
    );
    assert!(count("test") > 40, "{}", count("test"));
    let fact = &nodes["model.shopco.fact_orders"];
    assert_eq!(fact["file"], "models/marts/fact_orders.shop");
    assert_eq!(fact["physical"]["schema"], "marts");
    assert_eq!(fact["materialized"]["kind"], "incremental");
    assert_eq!(fact["materialized"]["unique_key"][0], "order_id");
    assert_eq!(fact["grain"][0], "order_id");
    let revenue = fact["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "revenue")
        .expect("fact_orders.revenue");
    assert_eq!(revenue["additivity"], "additive");
    // Its upstream columns, each named `node.column`.
    let from: Vec<&str> = revenue["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(!from.is_empty(), "{revenue}");
    for column in &from {
        let (node, name) = column.rsplit_once('.').unwrap();
        assert!(nodes.contains_key(node), "{column}");
        assert!(
            nodes[node]["columns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name),
            "{column}"
        );
    }
    // Its tests are nodes attached to it.
    for test in fact["tests"].as_array().unwrap() {
        let test = &nodes[test.as_str().unwrap()];
        assert_eq!(test["attached_to"], "model.shopco.fact_orders");
    }
    assert!(nodes.contains_key("reconciliation.shopco.reconcile_revenue"));
    assert_eq!(
        nodes["seed.shopco.raw_orders"]["attached_to"],
        "source.shopco.raw.raw_orders"
    );
    // An ephemeral model has no physical name.
    assert!(
        nodes["model.shopco.int_orders_customers"]
            .get("physical")
            .is_none()
    );
}

/// Compiling twice gives the same bytes, the `invocation` block aside.
#[test]
fn the_manifest_is_deterministic() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    let read = || {
        let out = common::run("check", &root, &[]);
        assert_eq!(out.status.code(), Some(0));
        let text = std::fs::read_to_string(root.join("target/manifest.json")).unwrap();
        let mut value: Value = serde_json::from_str(&text).unwrap();
        let invocation = value["invocation"].take();
        (text, value, invocation)
    };
    let (first_text, first, first_invocation) = read();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (second_text, second, second_invocation) = read();
    assert_eq!(first, second);
    assert_ne!(first_invocation["id"], second_invocation["id"]);
    let nodes = |text: &str| text[text.find("\"nodes\"").unwrap()..].to_string();
    assert_eq!(
        nodes(&first_text),
        nodes(&second_text),
        "byte-identical node lists"
    );
    // `compile` writes the same nodes.
    let out = common::run("compile", &root, &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(root.join("target/manifest.json")).unwrap();
    assert_eq!(nodes(&text), nodes(&first_text));
}

/// `(meaning, config, docs)` of every node.
type Prints = BTreeMap<String, [String; 3]>;

fn prints(root: &Path) -> Prints {
    let manifest = manifest(root);
    manifest["nodes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, n)| {
            let f = &n["fingerprints"];
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (id.clone(), [s("meaning"), s("config"), s("docs")])
        })
        .collect()
}

/// The nodes whose fingerprint `part` (0 meaning, 1 config, 2 docs)
/// differs, and the nodes only one side has.
fn changed(before: &Prints, after: &Prints, part: usize) -> Vec<String> {
    let mut out: Vec<String> = before
        .iter()
        .filter(|(id, p)| after.get(*id).is_some_and(|q| q[part] != p[part]))
        .map(|(id, _)| id.clone())
        .collect();
    out.extend(after.keys().filter(|id| !before.contains_key(*id)).cloned());
    out.extend(before.keys().filter(|id| !after.contains_key(*id)).cloned());
    out.sort();
    out
}

const SOURCE: &str = "source raw {\n  table t {\n    expect_key = [id]\n    columns { id: integer, s: text, n: integer }\n  }\n}\n";
const MODELS: &str = "## Cleaned.\nmodel a {\n  materialized = \"ephemeral\"\n  from raw.t t\n  columns { id = t.id, s = lower(t.s) }\n}\n\n\
model b {\n  materialized = \"table\"\n  grain = [id]\n  from a\n  columns {\n    id = a.id\n    ## The text.\n    s = a.s\n  }\n  tests { not_null(s) }\n}\n\n\
model c {\n  from raw.t t\n  columns { id = t.id, n = t.n * 2 }\n}\n\n\
model d {\n  from raw.t t\n  columns { id = t.id, capped = least(t.n, var('cap')) }\n}\n";
const TOML: &str = "name = \"prints\"\n\n[vars]\ncap = 10\nunused = 1\n";

fn base() -> tempfile::TempDir {
    common::project(&[
        ("shop.toml", TOML),
        ("models/source.shop", SOURCE),
        ("models/models.shop", MODELS),
    ])
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn layout_comments_order_and_files_change_no_fingerprint() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    // Spaces, a comment, the models in another order, in two files with
    // other names.
    std::fs::remove_file(root.join("models/models.shop")).unwrap();
    let (a, rest) = MODELS.split_at(MODELS.find("model b").unwrap());
    let (b, cd) = rest.split_at(rest.find("model c").unwrap());
    std::fs::write(
        root.join("models/second.shop"),
        format!("# moved here\n{cd}\n\n{a}"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("models/sub")).unwrap();
    std::fs::write(
        root.join("models/sub/first.shop"),
        b.replace("  from a\n", "  from   a   # the cleaned rows\n"),
    )
    .unwrap();
    let after = prints(root);
    for part in 0..3 {
        assert_eq!(
            changed(&before, &after, part),
            Vec::<String>::new(),
            "part {part}"
        );
    }
}

#[test]
fn a_description_changes_only_the_docs_fingerprint() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    edit(
        root,
        "models/models.shop",
        "## The text.",
        "## The text, lower-cased.",
    );
    let after = prints(root);
    assert_eq!(changed(&before, &after, 2), ["model.prints.b"]);
    assert!(changed(&before, &after, 0).is_empty());
    assert!(changed(&before, &after, 1).is_empty());
}

/// A fingerprint is taken of the IR's structure: each of these edits,
/// however small in the text, is another meaning (the operands swapped,
/// another function, another type, another literal of the same digits, a
/// `not` dropped), of the model edited and of none other.
#[test]
fn every_change_of_structure_changes_the_meaning_of_its_model() {
    let edits = [
        ("n = t.n * 2", "n = 2 * t.n", "model.prints.c"),
        ("n = t.n * 2", "n = t.n * 3", "model.prints.c"),
        ("n = t.n * 2", "n = t.n * 2.0", "model.prints.c"),
        (
            "n = t.n * 2",
            "n = cast(t.n as bigint) * 2",
            "model.prints.c",
        ),
        ("n = t.n * 2", "n = -(t.n * 2)", "model.prints.c"),
        ("s = lower(t.s)", "s = upper(t.s)", "model.prints.a"),
        ("s = lower(t.s)", "s = lower('t.s')", "model.prints.a"),
        (
            "least(t.n, var('cap'))",
            "greatest(t.n, var('cap'))",
            "model.prints.d",
        ),
        (
            "least(t.n, var('cap'))",
            "least(var('cap'), t.n)",
            "model.prints.d",
        ),
    ];
    for (from, to, model) in edits {
        let dir = base();
        let root = dir.path();
        let before = prints(root);
        edit(root, "models/models.shop", from, to);
        let after = prints(root);
        let mut expected = vec![model.to_string()];
        // `b` inlines the ephemeral `a`: its meaning folds in `a`'s.
        if model == "model.prints.a" {
            expected.push("model.prints.b".into());
        }
        // A test's meaning is its query, which inlines `a` too.
        let modified: Vec<String> = changed(&before, &after, 0)
            .into_iter()
            .filter(|id| id.starts_with("model."))
            .collect();
        assert_eq!(modified, expected, "{from:?} → {to:?}");
    }
}

#[test]
fn a_var_changes_the_models_that_read_it_and_only_them() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    edit(root, "shop.toml", "unused = 1", "unused = 2");
    assert!(
        changed(&before, &prints(root), 0).is_empty(),
        "a var nobody reads"
    );
    edit(root, "shop.toml", "cap = 10", "cap = 20");
    assert_eq!(changed(&before, &prints(root), 0), ["model.prints.d"]);
}

/// Compiles the project at `root` and keeps its manifest in a folder of
/// its own: the state later compilations are compared with.
fn kept_state(root: &Path) -> tempfile::TempDir {
    manifest(root);
    let state = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("target/manifest.json"),
        state.path().join("manifest.json"),
    )
    .unwrap();
    state
}

/// The models `shopc ls --state STATE ARGS…` lists.
fn state_models(root: &Path, state: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "--state",
        state.to_str().unwrap(),
        "--resource-type",
        "model",
    ];
    all.extend_from_slice(args);
    ls(root, &all)
}

#[test]
fn a_var_given_with_vars_modifies_its_readers_and_only_them() {
    let dir = base();
    let root = dir.path();
    let prod = kept_state(root);
    let modified =
        |vars: &str| state_models(root, prod.path(), &["-s", "state:modified", "--vars", vars]);
    assert_eq!(modified("{ cap = 20 }"), ["d"]);
    assert_eq!(modified("cap = 20"), ["d"], "the braces may be left out");
    assert!(modified("{ cap = 10 }").is_empty(), "the same value");
    assert!(modified("{ unused = 5, nobody = 'x' }").is_empty());
    // A --vars that is not a table is a usage error naming the option.
    let out = common::run("ls", root, &["--vars", "{ cap = "]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(
        err.contains("--vars: `{ cap = ` is not a TOML inline table"),
        "{err}"
    );
}

#[test]
fn another_target_or_schema_set_changes_no_fingerprint() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    std::fs::write(
        root.join("profiles.toml"),
        "default = \"pg\"\n[targets.pg]\nadapter = \"postgres\"\nuser = \"u\"\ndbname = \"d\"\n",
    )
    .unwrap();
    let manifest = manifest(root);
    assert_eq!(manifest["metadata"]["dialect"], "postgres");
    let after = prints(root);
    std::fs::write(
        root.join("shop.toml"),
        format!("{TOML}\n[defaults]\nschema = \"elsewhere\"\n"),
    )
    .unwrap();
    let moved = prints(root);
    for part in 0..3 {
        assert!(
            changed(&before, &after, part).is_empty(),
            "target, part {part}"
        );
        assert!(
            changed(&before, &moved, part).is_empty(),
            "schema, part {part}"
        );
    }
}

#[test]
fn an_ephemeral_change_changes_every_model_that_inlines_it() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    edit(
        root,
        "models/models.shop",
        "s = lower(t.s)",
        "s = upper(t.s)",
    );
    assert_eq!(
        changed(&before, &prints(root), 0),
        ["model.prints.a", "model.prints.b",]
    );
}

#[test]
fn a_source_columns_new_type_changes_the_models_that_read_it() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    edit(root, "models/source.shop", "n: integer", "n: bigint");
    assert_eq!(
        changed(&before, &prints(root), 0),
        ["model.prints.c", "model.prints.d", "source.prints.raw.t"]
    );
}

#[test]
fn a_new_test_is_a_node_of_its_own_and_changes_no_model() {
    let dir = base();
    let root = dir.path();
    let before = prints(root);
    edit(
        root,
        "models/models.shop",
        "tests { not_null(s) }",
        "tests { not_null(s)\n not_null(id) }",
    );
    let after = prints(root);
    for part in 0..3 {
        assert_eq!(
            changed(&before, &after, part),
            ["test.prints.not_null_b_id"],
            "part {part}"
        );
    }
}

fn ls(root: &Path, args: &[&str]) -> Vec<String> {
    let out = common::run("ls", root, args);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    common::stdout(&out).lines().map(String::from).collect()
}

#[test]
fn ls_lists_the_selected_nodes_in_build_order() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    assert_eq!(
        ls(&root, &["-s", "stg_orders", "--resource-type", "model"]),
        ["stg_orders"]
    );
    // A seed before the table it fills, then what reads it.
    assert_eq!(
        ls(
            &root,
            &[
                "-s",
                "+stg_orders",
                "--resource-type",
                "seed",
                "source",
                "model"
            ]
        ),
        ["raw_orders", "raw.raw_orders", "stg_orders"]
    );
    assert_eq!(
        ls(
            &root,
            &[
                "-s",
                "fact_orders",
                "--resource-type",
                "model",
                "--output",
                "path"
            ]
        ),
        ["models/marts/fact_orders.shop"]
    );
    // Tests: one JSON object per line, each attached to its model.
    let tests = ls(
        &root,
        &["-s", "stg_orders", "--resource-type", "test", "-o", "json"],
    );
    assert!(!tests.is_empty());
    for line in &tests {
        let node: Value = serde_json::from_str(line).unwrap();
        assert_eq!(node["kind"], "test", "{line}");
        assert_eq!(node["attached_to"], "model.shopco.stg_orders", "{line}");
        assert!(
            node["unique_id"]
                .as_str()
                .unwrap()
                .starts_with("test.shopco."),
            "{line}"
        );
    }
    // Without a selection: every node of the manifest, once.
    let all = ls(&root, &["-o", "json"]);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/manifest.json")).unwrap())
            .unwrap();
    let mut ids: Vec<String> = all
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["unique_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let listed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), listed, "a node listed twice");
    assert_eq!(ids.len(), manifest["nodes"].as_object().unwrap().len());
    // Bad input is a usage error.
    let out = common::run("ls", &root, &["--resource-type", "macro"]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::run("ls", &root, &["-s", "stg_ordrs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("did you mean `stg_orders`"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn run_results_say_how_each_node_ended() {
    let (_temp, root) = common::shopco_copy(&["target"]);
    common::build(&root, &[]);
    let read = |root: &Path| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
        )
        .unwrap()
    };
    let results = read(&root);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/manifest.json")).unwrap())
            .unwrap();
    let list = results["results"].as_array().unwrap();
    assert_eq!(list.len(), 72);
    for r in list {
        let id = r["unique_id"].as_str().unwrap();
        assert!(
            manifest["nodes"].get(id).is_some(),
            "{id} is not in the manifest"
        );
        assert!(r["seconds"].as_f64().unwrap() >= 0.0);
    }
    let seed = list
        .iter()
        .find(|r| r["unique_id"] == "seed.shopco.raw_orders")
        .unwrap();
    assert_eq!(
        (seed["status"].as_str(), seed["rows_affected"].as_u64()),
        (Some("success"), Some(2000))
    );
    assert_eq!(results["invocation"]["args"][0], "build");
    assert_eq!(results["summary"]["ok"], 50);
    assert_eq!(results["summary"]["proven"], 22);

    // An error, a failing test and what they hold back.
    let dir = common::project(&[
        (
            "shop.toml",
            "name = \"results\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, s: text } }\n}\n",
        ),
        (
            "models/models.shop",
            "model broken {\n  from raw.t t\n  columns { id = t.id, n = cast(t.s as integer) }\n}\n\
             model checked {\n  from raw.t t\n  columns { id = t.id, s = t.s }\n  tests { accepted_values(s, [\"a\"]) }\n}\n\
             model after {\n  from checked c\n  columns { id = c.id }\n}\n",
        ),
        ("seeds/t.csv", "id,s\n1,a\n2,b\n"),
    ]);
    let out = common::run("build", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let results = read(dir.path());
    let by_id: BTreeMap<String, Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unique_id"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    let broken = &by_id["model.results.broken"];
    assert_eq!(broken["status"], "error");
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .contains("Conversion Error"),
        "{broken}"
    );
    let test = &by_id["test.results.accepted_values_checked_s"];
    assert_eq!(
        (test["status"].as_str(), test["failures"].as_u64()),
        (Some("fail"), Some(1))
    );
    let after = &by_id["model.results.after"];
    assert_eq!(
        (after["status"].as_str(), after["message"].as_str()),
        (Some("skipped"), Some("upstream failed"))
    );
    assert_eq!(results["summary"]["errors"], 2);
}

/// `--state DIR`: ShopCo's manifest kept as "production", then edits.
fn state_ls(root: &Path, prod: &Path, selector: &str) -> Vec<String> {
    ls(
        root,
        &[
            "-s",
            selector,
            "--state",
            prod.to_str().unwrap(),
            "--resource-type",
            "model",
            "source",
            "snapshot",
        ],
    )
}

#[test]
fn state_selectors_pick_what_changed_since_another_run() {
    let (temp, root) = common::shopco_copy(&["target"]);
    manifest(&root);
    let prod = temp.path().join("prod");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::copy(
        root.join("target/manifest.json"),
        prod.join("manifest.json"),
    )
    .unwrap();
    assert!(state_ls(&root, &prod, "state:modified").is_empty());
    assert!(state_ls(&root, &prod, "state:new").is_empty());
    let all = ls(&root, &["--resource-type", "model", "source", "snapshot"]);
    assert_eq!(state_ls(&root, &prod, "state:unmodified"), all);

    // A description: docs only.
    edit(
        &root,
        "models/marts/fact_orders.shop",
        "## One row per order",
        "## Exactly one row per order",
    );
    assert!(state_ls(&root, &prod, "state:modified").is_empty());
    assert_eq!(
        state_ls(&root, &prod, "state:modified.docs"),
        ["fact_orders"]
    );

    // A column's computation: the model, and with `+` what follows it.
    edit(
        &root,
        "models/staging/stg_order_items.shop",
        "i.quantity * i.unit_price - coalesce(i.discount, 0)",
        "i.quantity * i.unit_price - coalesce(i.discount, 0) * 1",
    );
    assert_eq!(
        state_ls(&root, &prod, "state:modified"),
        ["stg_order_items"]
    );
    assert_eq!(
        state_ls(&root, &prod, "state:modified.body"),
        ["stg_order_items"]
    );
    assert!(state_ls(&root, &prod, "state:modified.config").is_empty());
    let downstream = state_ls(&root, &prod, "state:modified+");
    assert!(downstream.len() > 3, "{downstream:?}");
    assert_eq!(downstream[0], "stg_order_items");
    assert!(
        downstream.contains(&"fact_orders".to_string()),
        "{downstream:?}"
    );
    assert_eq!(
        state_ls(&root, &prod, "+state:modified"),
        [
            "raw.raw_orders",
            "raw.raw_order_items",
            "stg_orders",
            "stg_order_items"
        ]
    );
    assert!(!state_ls(&root, &prod, "state:unmodified").contains(&"stg_order_items".to_string()));

    // A new model.
    std::fs::write(
        root.join("models/marts/new_mart.shop"),
        "model new_mart {\n  layer = \"marts\"\n  from stg_orders o\n  columns { order_id = o.order_id }\n}\n",
    )
    .unwrap();
    assert_eq!(state_ls(&root, &prod, "state:new"), ["new_mart"]);

    // The same project for another target: nothing else is modified.
    std::fs::write(
        root.join("profiles.toml"),
        "default = \"pg\"\n[targets.pg]\nadapter = \"postgres\"\nuser = \"u\"\ndbname = \"d\"\n",
    )
    .unwrap();
    assert_eq!(
        state_ls(&root, &prod, "state:modified"),
        ["stg_order_items", "new_mart"]
    );

    // A seed file's new bytes: the table it fills is modified, and every
    // reader impacted.
    edit(
        &root,
        "seeds/raw_products.csv",
        "1,\"Chair 1\",\"toys\",449.64",
        "1,\"Chair 1\",\"toys\",449.65",
    );
    let modified = state_ls(&root, &prod, "state:modified");
    assert!(
        modified.contains(&"raw.raw_products".to_string()),
        "{modified:?}"
    );
    let impacted = state_ls(&root, &prod, "state:impacted");
    assert!(
        impacted.contains(&"stg_products".to_string()),
        "{impacted:?}"
    );
}

#[test]
fn a_state_that_cannot_be_read_is_a_usage_error() {
    let (temp, root) = common::shopco_copy(&["target"]);
    manifest(&root);
    let state = temp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let run = |root: &Path, args: &[&str]| {
        let out = common::run("ls", root, args);
        (out.status.code(), common::stderr(&out))
    };
    let dir = state.to_str().unwrap();
    let (code, err) = run(&root, &["-s", "state:modified", "--state", dir]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("state/manifest.json` does not exist"), "{err}");
    let good = std::fs::read_to_string(root.join("target/manifest.json")).unwrap();
    for (text, message) in [
        (&good[..good.len() / 2], "is not a manifest"),
        ("{}", "format version (none)"),
        (
            &good.replacen("\"format_version\":4", "\"format_version\":9", 1),
            "format version 9",
        ),
        (
            &good.replacen("\"project\":\"shopco\"", "\"project\":\"other\"", 1),
            "the manifest of project `other`, not `shopco`",
        ),
    ] {
        std::fs::write(state.join("manifest.json"), text).unwrap();
        let (code, err) = run(&root, &["-s", "state:modified", "--state", dir]);
        assert_eq!(code, Some(2), "{message}: {err}");
        assert!(
            err.contains("--state: `") && err.contains(message),
            "{message}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, err) = run(&root, &["-s", "state:modified+"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("give its target folder with `--state DIR`"),
        "{err}"
    );
    std::fs::write(state.join("manifest.json"), &good).unwrap();
    let (code, err) = run(&root, &["-s", "state:changed", "--state", dir]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no state selector `state:changed`"), "{err}");
}

/// A project whose build has a failing test and what it holds back.
fn failing_project() -> tempfile::TempDir {
    common::project(&[
        (
            "shop.toml",
            "name = \"results\"\n\n[defaults]\nmaterialized = \"table\"\n",
        ),
        (
            "models/source.shop",
            "source raw {\n  table t { columns { id: integer, s: text } }\n}\n",
        ),
        (
            "models/models.shop",
            "model checked {\n  from raw.t t\n  columns { id = t.id, s = t.s }\n  tests { accepted_values(s, [\"a\"]) }\n}\n\
             model after {\n  from checked c\n  columns { id = c.id }\n}\n\
             model fine {\n  from raw.t t\n  columns { id = t.id }\n}\n",
        ),
        ("seeds/t.csv", "id,s\n1,a\n2,b\n"),
    ])
}

#[test]
fn result_selectors_and_retry_rerun_what_failed() {
    let dir = failing_project();
    let root = dir.path();
    let out = common::run("build", root, &["--threads", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let state = root.join("target").display().to_string();
    let models = |selector: &str| {
        ls(
            root,
            &[
                "-s",
                selector,
                "--state",
                &state,
                "--resource-type",
                "model",
            ],
        )
    };
    assert_eq!(models("result:fail"), ["checked"]);
    assert_eq!(models("result:skipped"), ["after"]);
    assert_eq!(models("result:fail+"), ["checked", "after"]);
    assert!(models("result:error").is_empty());
    let out = common::run("ls", root, &["-s", "result:fail"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("run_results.json"),
        "{}",
        common::stderr(&out)
    );

    // The test is fixed: `retry` builds and tests only the failed and the
    // skipped, with the same options.
    edit(root, "models/models.shop", "[\"a\"]", "[\"a\", \"b\"]");
    let out = common::run("retry", root, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    assert!(
        text.contains("Retrying 2 nodes of the last `build`"),
        "{text}"
    );
    assert!(text.contains("Running 3 nodes"), "{text}");
    assert!(
        text.contains("OK      table main.checked") && text.contains("OK      table main.after"),
        "{text}"
    );
    assert!(
        !text.contains("main.fine") && !text.contains("seed raw.t"),
        "{text}"
    );
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["invocation"]["args"][0], "build");
    assert_eq!(results["invocation"]["args"][1], "--threads");
    // Nothing is left to retry.
    let out = common::run("retry", root, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        common::stdout(&out).contains("Nothing to retry"),
        "{}",
        common::stdout(&out)
    );
    // Without a recorded run, retry is a usage error.
    let fresh = failing_project();
    let out = common::run("retry", fresh.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("no run has been recorded"),
        "{}",
        common::stderr(&out)
    );
}

/// A lineage for `state:impacted`: `wide` (a table) is read by `ids`
/// (its key only), by `amounts` (its amount), and through the ephemeral
/// `shaped` by `shaped_ids` (the key) and `shaped_amounts` (the amount).
const LINEAGE: &str = "source raw {\n  table t { columns { id: integer, n: integer } }\n}\n\n\
model wide {\n  materialized = \"table\"\n  from raw.t t\n  columns { id = t.id, amount = t.n * 2 }\n}\n\n\
model ids {\n  from wide w\n  columns { id = w.id }\n}\n\n\
model amounts {\n  from wide w\n  columns { id = w.id, amount = w.amount }\n}\n\n\
model shaped {\n  materialized = \"ephemeral\"\n  from wide w\n  columns { key = w.id, total = w.amount + 1 }\n}\n\n\
model shaped_ids {\n  from shaped s\n  columns { key = s.key }\n}\n\n\
model shaped_amounts {\n  from shaped s\n  columns { key = s.key, total = s.total }\n}\n\n\
model filtered {\n  from wide w\n  where w.amount > 0\n  columns { id = w.id }\n}\n";

#[test]
fn impacted_keeps_only_the_descendants_that_read_what_changed() {
    let dir = common::project(&[
        ("shop.toml", "name = \"lineage\"\n"),
        ("models/models.shop", LINEAGE),
    ]);
    let root = dir.path();
    let prod = kept_state(root);
    let select = |selector: &str| state_models(root, prod.path(), &["-s", selector]);
    assert!(select("state:impacted").is_empty());

    // A column's computation: only its readers, through the ephemeral too.
    edit(
        root,
        "models/models.shop",
        "amount = t.n * 2",
        "amount = t.n * 3",
    );
    assert_eq!(select("state:modified"), ["wide"]);
    let everything = [
        "wide",
        "ids",
        "amounts",
        "shaped",
        "shaped_ids",
        "shaped_amounts",
        "filtered",
    ];
    assert_eq!(select("state:modified+"), everything);
    assert_eq!(
        select("state:impacted"),
        ["wide", "amounts", "shaped", "shaped_amounts", "filtered"],
        "`ids` and `shaped_ids` read only the unchanged key; `filtered` filters on the amount"
    );

    // A new column nobody reads impacts no reader.
    edit(
        root,
        "models/models.shop",
        "amount = t.n * 3",
        "amount = t.n * 2, extra = t.n",
    );
    assert_eq!(select("state:impacted"), ["wide"]);

    // A filter changes the rows: every reader.
    edit(
        root,
        "models/models.shop",
        "from raw.t t\n  columns { id = t.id, amount = t.n * 2, extra = t.n }",
        "from raw.t t\n  where t.n > 0\n  columns { id = t.id, amount = t.n * 2, extra = t.n }",
    );
    assert_eq!(select("state:impacted"), everything);

    // A source column's new type: the models reading it are modified,
    // and the impact follows the columns computed from it.
    let dir = common::project(&[
        ("shop.toml", "name = \"lineage\"\n"),
        ("models/models.shop", LINEAGE),
    ]);
    let root = dir.path();
    let prod = kept_state(root);
    edit(root, "models/models.shop", "n: integer", "n: bigint");
    let select = |selector: &str| state_models(root, prod.path(), &["-s", selector]);
    // (Readers of a column have its type in their meaning, and so does a
    // model inlining an ephemeral that reads it.)
    let readers = [
        "wide",
        "amounts",
        "shaped",
        "shaped_ids",
        "shaped_amounts",
        "filtered",
    ];
    assert_eq!(select("state:modified"), readers);
    assert_eq!(select("state:impacted"), readers, "not `ids`");
}
