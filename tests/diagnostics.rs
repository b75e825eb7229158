//! One fixture per diagnostic code: each is checked inside a small project
//! (tests/fixtures/base) and the rendered diagnostics are snapshotted together
//! with the source, as one document.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use shopc::diagnostic::{Code, render};
use shopc::problem::Problem;

const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/base");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/diagnostics");

/// The fixture for a code, placed into a fresh copy of the base project.
/// Returns the text shown as the snapshot's source.
fn prepare(code: Code, dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::copy(format!("{BASE}/shop.toml"), dir.join("shop.toml")).unwrap();
    std::fs::copy(
        format!("{BASE}/models/base.shop"),
        dir.join("models/base.shop"),
    )
    .unwrap();
    let shop = Path::new(FIXTURES).join(format!("{code}.shop"));
    let toml = Path::new(FIXTURES).join(format!("{code}.toml"));
    if shop.exists() {
        std::fs::copy(&shop, dir.join("models/fixture.shop")).unwrap();
        return std::fs::read_to_string(&shop).unwrap();
    }
    if toml.exists() {
        std::fs::copy(&toml, dir.join("shop.toml")).unwrap();
        return std::fs::read_to_string(&toml).unwrap();
    }
    // Codes about files themselves: made here rather than committed.
    match code {
        Code::F001 => {
            std::os::unix::fs::symlink(dir.join("nowhere.shop"), dir.join("models/fixture.shop"))
                .unwrap();
            "(models/fixture.shop is a link to a file that does not exist)".into()
        }
        Code::F002 => {
            let bytes = b"model m {\n  from stg_orders o\n  columns { city = 'Z\xfcrich' }\n}\n";
            std::fs::write(dir.join("models/fixture.shop"), bytes).unwrap();
            String::from_utf8_lossy(bytes).into_owned()
        }
        Code::F003 => {
            let line = "# padding padding padding padding padding padding padding padding\n";
            let text = line.repeat((shopc::project::MAX_FILE_BYTES as usize / line.len()) + 1);
            std::fs::write(dir.join("models/fixture.shop"), text).unwrap();
            "(models/fixture.shop: 8 MiB of comments)".into()
        }
        Code::F004 => {
            std::fs::remove_file(dir.join("models/base.shop")).unwrap();
            "(models/ is empty)".into()
        }
        Code::F005 => {
            std::fs::create_dir_all(dir.join("seeds")).unwrap();
            std::fs::write(dir.join("seeds/order.csv"), "order_id\n1\n").unwrap();
            "(seeds/order.csv; the source declares `orders`)".into()
        }
        Code::F006 => {
            std::fs::create_dir_all(dir.join("seeds/day2")).unwrap();
            let csv = "customer_id,email,signed_up_on\n1,a@b.c,2024-01-01\n";
            std::fs::write(dir.join("seeds/customers.csv"), csv).unwrap();
            std::fs::write(dir.join("seeds/day2/customers.csv"), csv).unwrap();
            "(seeds/customers.csv and seeds/day2/customers.csv)".into()
        }
        Code::F007 => {
            std::fs::create_dir_all(dir.join("seeds/extracts")).unwrap();
            let csv = "customer_id,email,signed_up_on\n1,a@b.c,2024-01-01\n";
            std::fs::write(dir.join("seeds/extracts/customers.csv"), csv).unwrap();
            "(seeds/extracts/customers.csv, and no CSV for raw.orders)".into()
        }
        Code::F008 => {
            let sql = "select order_id from {{ ref('stg_orders') }}\n";
            std::fs::write(dir.join("models/orders.sql"), sql).unwrap();
            format!("(models/orders.sql)\n{sql}")
        }
        Code::P003 => {
            // Calls nested one level too deep, one per line.
            let mut text = String::from("model deep {\n  from stg_orders o\n  columns {\n    x = ");
            for _ in 0..shopc::syntax::MAX_DEPTH {
                text.push_str("abs(\n");
            }
            text.push_str("o.amount");
            text.push_str(&")".repeat(shopc::syntax::MAX_DEPTH));
            text.push_str("\n  }\n}\n");
            std::fs::write(dir.join("models/fixture.shop"), text).unwrap();
            format!(
                "(models/fixture.shop: a column of {} nested `abs(` calls, one per line)",
                shopc::syntax::MAX_DEPTH
            )
        }
        _ => panic!("no fixture for {code}: add tests/diagnostics/{code}.shop"),
    }
}

fn check(dir: &Path) -> (String, Vec<Problem>) {
    let mut loaded = shopc::project::load(dir).unwrap();
    let mut problems = loaded.problems.clone();
    if let Some(config) = &loaded.config {
        let compilation = shopc::compile(&loaded.db, config, &loaded.shop_files);
        problems.extend(compilation.problems);
        let seeds = dir.join(&config.paths.seeds);
        let discovered = shopc::seed::discover(&compilation.ir, &mut loaded.db, &seeds);
        problems.extend(discovered.problems);
        // Names and options a target cannot take are reported when emitting for it.
        for &dialect in shopc::emit::Dialect::ALL {
            let emitter = shopc::emit::Emitter::new(&compilation.ir, dialect);
            problems.extend(emitter.target_problems());
        }
    }
    let diagnostics: Vec<_> = problems.iter().map(Problem::to_diagnostic).collect();
    let rendered = render(&loaded.db, &diagnostics, false);
    let prefix = format!("{}/", dir.display());
    (rendered.replace(&prefix, ""), problems)
}

#[test]
fn every_code_has_a_fixture_a_doc_and_a_snapshot() {
    for &code in Code::ALL {
        let temp = tempfile::tempdir().unwrap();
        let source = prepare(code, temp.path());
        let (rendered, problems) = check(temp.path());
        assert!(
            problems.iter().any(|p| p.code() == code),
            "the fixture of {code} does not produce {code}:\n{rendered}"
        );
        let doc = code.doc();
        for heading in ["## What it means", "## Why", "## Example", "## Fix"] {
            assert!(
                doc.contains(heading),
                "docs/codes/{code}.md lacks `{heading}`"
            );
        }
        let document = format!(
            "--- SOURCE\n{}\n--- ERROR\n{}",
            source.trim_end(),
            rendered.trim_end()
        );
        insta::assert_snapshot!(code.as_str(), document);
    }
}

#[test]
fn base_project_is_clean() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(temp.path().join("models")).unwrap();
    std::fs::copy(format!("{BASE}/shop.toml"), temp.path().join("shop.toml")).unwrap();
    std::fs::copy(
        format!("{BASE}/models/base.shop"),
        temp.path().join("models/base.shop"),
    )
    .unwrap();
    let (rendered, problems) = check(temp.path());
    assert!(problems.is_empty(), "{rendered}");
}

/// `docs/codes/C003.md` lists the settings the compiler accepts, from the
/// same table: the list between its markers is generated here, and the test
/// fails (printing the list to paste) when the file says otherwise.
#[test]
fn c003_lists_every_setting_the_compiler_accepts() {
    let list: String = shopc::ir::SETTINGS
        .iter()
        .map(|(item, keys)| {
            let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!("- {item}: {}\n", keys.join(", "))
        })
        .collect();
    let doc = Code::C003.doc();
    let start = doc
        .find("-->\n")
        .map(|i| i + 4)
        .expect("C003.md: generated-list marker");
    let end = doc
        .find("<!-- end of generated list -->")
        .expect("C003.md: end marker");
    assert_eq!(
        &doc[start..end],
        list,
        "docs/codes/C003.md must list exactly:\n{list}"
    );
}
