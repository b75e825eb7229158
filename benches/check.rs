//! `check` (parse + resolve + type + check) on generated projects of 1,000
//! and 10,000 models, of two shapes: `layered` (50 models a file, staging,
//! ephemeral intermediates, marts with windows) and `dbt_shaped` (a model a
//! file, as the comparison with dbt and SQLMesh writes it). Target (issue
//! 23): 10,000 models of either in 0.3 s of `shopc check`; benches/README.md
//! has the figures.
//! And on hostile input, which must stay linear: a file of 100,000 broken
//! items, 100,000 doc lines before garbage, and the emission of a chain of
//! 10,000 ephemeral models (target: each well under 2 s).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    type Generate = fn(usize, u64) -> shopc::synth::SyntheticProject;
    let shapes: [(&str, Generate); 2] = [
        ("layered", shopc::synth::project),
        ("dbt_shaped", shopc::synth::dbt_shaped),
    ];
    for ((shape, generate), models) in shapes
        .into_iter()
        .flat_map(|shape| [(shape, 1_000), (shape, 10_000)])
    {
        let project = generate(models, 7);
        let (db, config, files) = project.load();
        let bytes: usize = project.files.iter().map(|(_, t)| t.len()).sum();
        group.throughput(criterion::Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::new(shape, models), &models, |b, _| {
            b.iter(|| {
                let compilation = shopc::compile(&db, &config, &files);
                assert!(compilation.problems.is_empty());
                compilation
            })
        });
    }
    group.finish();
}

/// A one-file project of `text`, with ShopCo's shop.toml.
fn one_file(
    text: String,
) -> (
    shopc::span::SourceDb,
    shopc::config::ProjectConfig,
    Vec<shopc::span::FileId>,
) {
    let toml = "name = \"hostile\"\n";
    let mut db = shopc::span::SourceDb::new();
    let config_file = db.add("shop.toml", toml);
    let config = shopc::config::parse_project_config(config_file, toml).unwrap();
    let file = db.add("models/m.shop", text);
    (db, config, vec![file])
}

fn bench_hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    let cases = [
        (
            "100k_broken_items",
            "model broken {\n  from\n}\n".repeat(100_000),
        ),
        (
            "100k_doc_lines",
            format!("{}garbage\n", "## a doc line\n".repeat(100_000)),
        ),
        (
            "100k_chain_of_plus",
            format!(
                "model m {{\n from t\n columns {{ x = 1{} }}\n}}\n",
                " + 1".repeat(100_000)
            ),
        ),
    ];
    for (name, text) in cases {
        let (db, config, files) = one_file(text);
        group.bench_function(name, |b| {
            b.iter(|| {
                let compilation = shopc::compile(&db, &config, &files);
                assert!(compilation.error_count() > 0);
                compilation
            })
        });
    }
    let mut chain =
        String::from("source raw {\n  table t { columns { id: integer, x: integer } }\n}\n");
    chain.push_str("model e0 {\n  materialized = \"ephemeral\"\n  from raw.t t\n  columns { id = t.id, x = t.x }\n}\n");
    for i in 1..10_000 {
        chain.push_str(&format!(
            "model e{i} {{\n  materialized = \"ephemeral\"\n  from e{} p\n  columns {{ id = p.id, x = p.x + 1 }}\n}}\n",
            i - 1
        ));
    }
    chain.push_str("model last {\n  materialized = \"table\"\n  from e9999 p\n  columns { id = p.id, x = p.x }\n}\n");
    let (db, config, files) = one_file(chain);
    let compilation = shopc::compile(&db, &config, &files);
    assert_eq!(compilation.error_count(), 0);
    group.bench_function("emit_10k_ephemeral_chain", |b| {
        b.iter(|| {
            let emitter = shopc::emit::Emitter::new(&compilation.ir, shopc::emit::Dialect::DuckDb);
            let statements: usize = compilation
                .ir
                .order
                .iter()
                .map(|&id| emitter.build_script(&emitter.build(id)).len() + emitter.tests(id).len())
                .sum();
            statements
        })
    });
    group.finish();
}

/// The manifest a DuckDB compilation of the project writes.
fn manifest_of(
    compilation: &shopc::Compilation,
    db: &shopc::span::SourceDb,
    project: &str,
) -> shopc::manifest::Manifest {
    shopc::manifest::build(
        &compilation.ir,
        &compilation.analysis,
        db,
        project,
        "",
        shopc::emit::Dialect::DuckDb,
        &[],
    )
}

/// A writer that keeps nothing but the number of bytes written to it.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The manifest of the 10,000-model project (built and serialized: what
/// every compiling command adds to `check`), and comparing two of them
/// (what `--state` adds to a selection). Targets: at most 20% of `check`,
/// and at most 100 ms.
fn bench_manifest(c: &mut Criterion) {
    let mut group = c.benchmark_group("manifest");
    group.sample_size(10);
    let project = shopc::synth::project(10_000, 7);
    let (db, config, files) = project.load();
    let compilation = shopc::compile(&db, &config, &files);
    assert!(compilation.problems.is_empty());
    let build = || manifest_of(&compilation, &db, &config.name);
    let invocation = shopc::manifest::Invocation {
        id: "0000000000000000".into(),
        command: "check".into(),
        generated_at: "2026-01-01T00:00:00Z".into(),
    };
    // Written as `shopc` writes it to the file, run by run, into a sink
    // that counts the bytes.
    group.bench_function("build_and_write_10k", |b| {
        b.iter(|| {
            let mut out = Counted(0);
            build().write_json(&invocation, &mut out).unwrap();
            out.0
        })
    });
    let current = build();
    let previous =
        shopc::manifest::read_previous(&current.to_json(&invocation), &config.name).unwrap();
    group.bench_function("compare_10k", |b| {
        b.iter(|| shopc::manifest::changes(&current, &previous).len())
    });
    group.finish();
}

/// The documentation site of the 10,000-model project (`shopc docs
/// generate` without the writing). Target: at most 2 s.
fn bench_docs(c: &mut Criterion) {
    let mut group = c.benchmark_group("docs");
    group.sample_size(10);
    let project = shopc::synth::project(10_000, 7);
    let (db, config, files) = project.load();
    let compilation = shopc::compile(&db, &config, &files);
    let manifest = manifest_of(&compilation, &db, &config.name);
    // Each file counted and dropped as it is made, in place of written.
    group.bench_function("site_10k", |b| {
        b.iter(|| {
            let bytes = std::sync::atomic::AtomicUsize::new(0);
            shopc::docs::site(
                &compilation.ir,
                &compilation.analysis,
                &db,
                &manifest,
                &config.name,
                None,
                |file| {
                    bytes.fetch_add(file.text.len(), std::sync::atomic::Ordering::Relaxed);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            bytes.into_inner()
        })
    });
    group.finish();
}

/// `shopc lsp` on the 10,000-model project: a change to one file, until its
/// diagnostics are published (the server's loop on an in-memory
/// connection, the project read from a temporary folder). Target: 100 ms.
#[allow(clippy::disallowed_methods)] // the project is written to disk, where the server reads it
fn bench_lsp(c: &mut Criterion) {
    use lsp_server::{Connection, Message, Notification, Request, RequestId};
    let mut group = c.benchmark_group("lsp");
    group.sample_size(10);
    let project = shopc::synth::project(10_000, 7);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.toml"), &project.shop_toml).unwrap();
    for (path, text) in &project.files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let root = dir.path().canonicalize().unwrap();
    let (server, client) = Connection::memory();
    let serving = std::thread::Builder::new()
        .stack_size(shopc::STACK_SIZE)
        .spawn(move || shopc::lsp::serve_on(&server))
        .unwrap();
    let root_uri = url::Url::from_file_path(&root).unwrap().to_string();
    let initialize =
        serde_json::json!({ "processId": null, "rootUri": root_uri, "capabilities": {} });
    let send = |m: Message| client.sender.send(m).unwrap();
    send(Message::Request(Request::new(
        RequestId::from(1),
        "initialize".into(),
        initialize,
    )));
    let (path, text) = &project.files[project.files.len() / 2];
    let uri = url::Url::from_file_path(root.join(path))
        .unwrap()
        .to_string();
    // Waits for the diagnostics of `uri`.
    let published = || loop {
        if let Message::Notification(n) = client.receiver.recv().unwrap()
            && n.method == "textDocument/publishDiagnostics"
            && n.params["uri"] == uri.as_str()
        {
            return n.params["diagnostics"].as_array().map_or(0, Vec::len);
        }
    };
    send(Message::Notification(Notification::new(
        "initialized".into(),
        serde_json::json!({}),
    )));
    published();
    let notify = |method: &str, params: serde_json::Value| {
        send(Message::Notification(Notification::new(
            method.into(),
            params,
        )));
    };
    notify(
        "textDocument/didOpen",
        serde_json::json!({ "textDocument": { "uri": uri, "languageId": "shop", "version": 1, "text": text } }),
    );
    published();
    // Each change adds a comment or takes it away, so that every one is new.
    let with_comment = format!("# edited\n{text}");
    let mut version = 1;
    group.bench_function("edit_to_diagnostics_10k", |b| {
        b.iter(|| {
            version += 1;
            let text = if version % 2 == 0 {
                &with_comment
            } else {
                text
            };
            notify(
                "textDocument/didChange",
                serde_json::json!({
                    "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{ "text": text }],
                }),
            );
            published()
        })
    });
    group.finish();
    send(Message::Request(Request::new(
        RequestId::from(2),
        "shutdown".into(),
        serde_json::Value::Null,
    )));
    notify("exit", serde_json::Value::Null);
    drop(client);
    serving.join().unwrap().unwrap();
}

criterion_group!(
    benches,
    bench_check,
    bench_hostile,
    bench_manifest,
    bench_docs,
    bench_lsp
);
criterion_main!(benches);
