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
        _ => panic!("no fixture for {code}: add tests/diagnostics/{code}.shop"),
    }
}

fn check(dir: &Path) -> (String, Vec<Problem>) {
    let loaded = shopc::project::load(dir).unwrap();
    let mut problems = loaded.problems.clone();
    if let Some(config) = &loaded.config {
        let compilation = shopc::compile(&loaded.db, config, &loaded.shop_files);
        problems.extend(compilation.problems);
        // Options a target does not have are reported when emitting for it.
        for &dialect in shopc::emit::Dialect::ALL {
            let emitter = shopc::emit::Emitter::new(&compilation.ir, dialect);
            problems.extend(emitter.unsupported_options());
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
