//! Notifications, sent to an HTTP server this test starts on 127.0.0.1
//! that records each request: ShopCo's Slack alert for production
//! failures and stale sources, a generic webhook, and webhooks that fail,
//! none of which changes a run's exit status or prints a URL.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use crate::common;

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with `status`
/// and keeps what it was sent.
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Recorder {
    fn start(status: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or_default().to_string(),
                    parts.next().unwrap_or_default().to_string(),
                );
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        headers.push((name.trim().to_string(), value.trim().to_string()));
                    }
                }
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                kept.lock().unwrap().push(Request {
                    method,
                    path,
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                });
                let reason = if status == 200 {
                    "OK"
                } else {
                    "Internal Server Error"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        Recorder { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/services/hook", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// ShopCo with product 67 gone from its catalogue: the relationships test
/// of `stg_order_items` fails, and what reads it is skipped.
fn broken_shopco() -> (tempfile::TempDir, std::path::PathBuf) {
    let (temp, root) = common::shopco_copy(&[]);
    let path = root.join("seeds/raw_products.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("67,")).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    (temp, root)
}

fn build(root: &Path, env: &str, vars: &[(&str, &str)]) -> Output {
    let mut all = vec![("SHOPC_USER", "ann")];
    all.extend_from_slice(vars);
    common::shopc_with(
        &["build", "--project", root.to_str().unwrap(), "--env", env],
        &all,
    )
}

fn printed(out: &Output) -> String {
    format!("{}{}", common::stdout(out), common::stderr(out))
}

#[test]
fn a_failed_production_run_reaches_slack_once_and_dev_stays_quiet() {
    let slack = Recorder::start(200);
    let (_temp, root) = broken_shopco();
    let url = slack.url();
    let vars = [
        ("SLACK_WEBHOOK_URL", url.as_str()),
        (
            "GITHUB_RUN_URL",
            "https://github.com/shopco/models/actions/runs/42",
        ),
    ];
    // Dev: quiet, whatever happens.
    let out = build(&root, "dev", &vars);
    assert_eq!(out.status.code(), Some(1));
    assert!(slack.requests().is_empty());

    let out = build(&root, "prod", &vars);
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        common::stdout(&out).contains("Sent notification `team_slack` (slack)"),
        "{}",
        printed(&out)
    );
    assert!(
        !printed(&out).contains("/services/hook"),
        "{}",
        printed(&out)
    );
    let requests = slack.requests();
    assert_eq!(requests.len(), 1, "sent once");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/services/hook");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let message = &request.body;
    assert_eq!(
        message["text"],
        "shopco `build` failed in prod: 45 ok, 0 warnings, 1 error, 5 skipped, 21 proven"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        ":x: *shopco `build` failed in prod*"
    );
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(fields[0], "*Environment*\nprod");
    assert_eq!(fields[1], "*Target*\nduckdb");
    assert_eq!(
        fields[2],
        "*Nodes*\n45 ok, 0 warnings, 1 error, 5 skipped, 21 proven"
    );
    assert!(fields[3].starts_with("*Elapsed*\n"), "{}", fields[3]);
    assert_eq!(
        blocks[2]["text"]["text"],
        "• `test.shopco.relationships_stg_order_items_product_id__stg_products_product_id` fail: 55 failing rows"
    );
    assert_eq!(
        blocks[3]["elements"][0]["text"],
        "<https://github.com/shopco/models/actions/runs/42|View the run>"
    );

    // A clean production run sends nothing: ShopCo's alert is for failures
    // and stale sources.
    let (_temp, clean) = common::shopco_copy(&[]);
    let out = build(&clean, "prod", &vars);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(slack.requests().len(), 1);
}

const WEBHOOK: &str = "\n[notifications.audit]\nkind = \"webhook\"\nurl = { env = \"AUDIT_URL\" }\n\
    on = [\"success\", \"failure\"]\nenvironments = [\"prod\", \"pr_*\"]\n";

/// ShopCo with a generic webhook on success and failure too.
fn with_webhook(root: &Path) {
    let path = root.join("shop.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + WEBHOOK).unwrap();
}

#[test]
fn a_webhook_gets_the_run_summary_field_by_field() {
    let hook = Recorder::start(200);
    let (_temp, root) = broken_shopco();
    with_webhook(&root);
    let url = hook.url();
    let out = build(&root, "pr_7", &[("AUDIT_URL", url.as_str())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stdout(&out).contains("Sent notification `audit` (webhook)"));
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    let summary = &requests[0].body;
    assert_eq!(summary["project"], "shopco");
    assert_eq!(summary["environment"], "pr_7");
    assert_eq!(summary["target"], "duckdb");
    assert_eq!(summary["command"], "build");
    assert_eq!(summary["status"], "failure");
    assert_eq!(summary["events"], serde_json::json!(["failure"]));
    assert_eq!(
        summary["counts"],
        serde_json::json!({"ok": 45, "warnings": 0, "errors": 1, "skipped": 5, "proven": 21})
    );
    assert_eq!(
        summary["problems"],
        serde_json::json!([{
            "unique_id": "test.shopco.relationships_stg_order_items_product_id__stg_products_product_id",
            "status": "fail",
            "message": "55 failing rows",
        }])
    );
    assert!(summary["elapsed_seconds"].as_f64().unwrap() > 0.0);
    assert!(summary["started_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(summary["run_url"], serde_json::Value::Null);
}

#[test]
fn a_webhook_that_fails_leaves_the_exit_status_and_never_shows_its_url() {
    let failing = Recorder::start(500);
    let (_temp, root) = common::shopco_copy(&[]);
    with_webhook(&root);
    let url = failing.url();
    let out = build(&root, "prod", &[("AUDIT_URL", url.as_str())]);
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        common::stderr(&out).contains(
            "warning: notification `audit` was not sent: the server answered 500 Internal Server Error \
             (the run's result stands)"
        ),
        "{}",
        printed(&out)
    );
    assert_eq!(failing.requests().len(), 1);

    // Nobody listening: a failed run stays failed, and says only that.
    let (_temp, broken) = broken_shopco();
    with_webhook(&broken);
    let url = format!("http://127.0.0.1:{}/secret-path", closed_port());
    let out = build(&broken, "prod", &[("AUDIT_URL", url.as_str())]);
    assert_eq!(out.status.code(), Some(1));
    let text = printed(&out);
    assert!(
        text.contains("warning: notification `audit` was not sent: could not connect"),
        "{text}"
    );
    assert!(!text.contains("secret-path"), "{text}");
    // Not set, or plain http beyond this machine: not sent, and said why.
    let out = build(&broken, "prod", &[("SLACK_WEBHOOK_URL", "")]);
    assert!(
        common::stderr(&out)
            .contains("notification `team_slack` was not sent: SLACK_WEBHOOK_URL is not set"),
        "{}",
        printed(&out)
    );
    let out = build(
        &broken,
        "prod",
        &[(
            "SLACK_WEBHOOK_URL",
            "http://hooks.example.com/services/T0/B0/secret",
        )],
    );
    let text = printed(&out);
    assert!(
        text.contains(
            "SLACK_WEBHOOK_URL is a plain http:// URL; only https:// is sent beyond this machine"
        ),
        "{text}"
    );
    assert!(!text.contains("hooks.example.com"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_webhook_that_never_answers_is_given_up_after_10_seconds() {
    let port = common::silent_server();
    let (_temp, root) = common::shopco_copy(&[]);
    with_webhook(&root);
    let url = format!("http://127.0.0.1:{port}/hook");
    let started = std::time::Instant::now();
    let out = build(&root, "prod", &[("AUDIT_URL", url.as_str())]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        common::stderr(&out).contains("notification `audit` was not sent: no answer within 10 s"),
        "{}",
        printed(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn stale_sources_reach_slack_from_source_freshness() {
    let slack = Recorder::start(200);
    let (_temp, root) = common::shopco_copy(&[]);
    // The committed extracts were loaded in 2024: every table is stale.
    common::build(&root, &[]);
    let url = slack.url();
    let out = common::shopc_with(
        &["source", "freshness", "--project", root.to_str().unwrap()],
        &[("SLACK_WEBHOOK_URL", url.as_str())],
    );
    assert_eq!(out.status.code(), Some(1));
    let requests = slack.requests();
    assert_eq!(requests.len(), 1, "{}", printed(&out));
    let message = &requests[0].body;
    assert_eq!(
        message["text"],
        "shopco `source freshness` failed in prod: 0 ok, 0 warnings, 5 errors, 0 skipped"
    );
    let failures = message["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(
        failures.starts_with("• `source.shopco.raw.raw_customers` error: loaded "),
        "{failures}"
    );
    assert_eq!(failures.lines().count(), 5, "{failures}");
}

#[test]
fn a_url_written_in_shop_toml_is_a_diagnostic_that_never_shows_it() {
    let (_temp, root) = common::shopco_copy(&[]);
    let path = root.join("shop.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "url = { env = \"SLACK_WEBHOOK_URL\" }",
            "url = \"https://hooks.slack.com/services/T000/B000/XXXXSECRET\"",
        ),
    )
    .unwrap();
    let out = common::run("build", &root, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(
        err.contains(
            "error[C012]: `notifications.team_slack.url` is a secret, written in shop.toml"
        ),
        "{err}"
    );
    assert!(err.contains("shop.toml:"), "{err}");
    assert!(
        !err.contains("XXXXSECRET") && !err.contains("hooks.slack.com"),
        "{err}"
    );
    assert!(err.contains("url = \"*****"), "{err}");
    assert!(!root.join("target/shopco.duckdb").exists(), "nothing ran");
}
