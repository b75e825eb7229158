//! `shopc lsp`, driven by a scripted client over the server's standard
//! input and output (JSON-RPC with `Content-Length` frames), on a copy of
//! ShopCo: diagnostics as files are opened and changed, hover, definition,
//! references, symbols, completion, formatting, and the bad input a client
//! can send.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common;

const WAIT: Duration = Duration::from_secs(30);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for a response.
    pending: Vec<Value>,
}

fn uri(path: &Path) -> String {
    url::Url::from_file_path(path.canonicalize().unwrap())
        .unwrap()
        .to_string()
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shopc"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("shopc lsp starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("a Content-Length header")];
                reader.read_exact(&mut body).unwrap();
                let value: Value = serde_json::from_slice(&body).expect("JSON");
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut client = Client {
            child,
            stdin,
            messages,
            next_id: 1,
            pending: Vec::new(),
        };
        let init = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": uri(root), "capabilities": {} }),
        );
        assert!(
            init["result"]["capabilities"]["hoverProvider"] == json!(true),
            "{init}"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, value: Value) {
        let body = value.to_string();
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn next(&mut self) -> Value {
        match self.messages.recv_timeout(WAIT) {
            Ok(value) => value,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.next();
            if message["id"] == json!(id) {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// Writes these messages to the server in one write, so that they
    /// arrive together.
    fn send_together(&mut self, values: &[Value]) {
        let mut all = String::new();
        for value in values {
            let body = value.to_string();
            all.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        }
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(all.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_it = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(at) = self.pending.iter().position(is_it) {
            let m = self.pending.remove(at);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let m = self.next();
            if is_it(&m) {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    /// Throws away what was published so far.
    fn drain(&mut self) {
        self.pending.clear();
        while let Ok(m) = self.messages.recv_timeout(Duration::from_millis(300)) {
            drop(m);
        }
    }

    fn open(&mut self, path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        let uri = uri(path);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "shop", "version": 1, "text": text } }),
        );
        uri
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn shutdown(mut self) -> std::process::ExitStatus {
        let answer = self.request("shutdown", Value::Null);
        assert_eq!(answer["result"], Value::Null, "{answer}");
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        wait(&mut self.child)
    }
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("shopc lsp did not exit");
}

/// The position (line and UTF-16 character, from 0) of the first `needle`
/// in `text`, plus `into` characters.
fn position_of(text: &str, needle: &str, into: usize) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found"))
        + into;
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    json!({ "line": line, "character": text[start..at].encode_utf16().count() })
}

fn shopco() -> (tempfile::TempDir, PathBuf) {
    common::shopco_copy(&["seeds"])
}

#[test]
fn a_broken_column_is_reported_as_it_is_typed_and_cleared_when_fixed() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    // Opening publishes the file's diagnostics: none.
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    client.drain();
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replace("customer_id = o.customer_id", "customer_id = o.custmer_id");
    client.change(&uri, 2, &broken);
    let found = client.diagnostics(&uri);
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(d["severity"], 1, "{d}");
    assert_eq!(d["source"], "shopc");
    assert!(d["code"].as_str().unwrap().starts_with('R'), "{d}");
    assert!(d["message"].as_str().unwrap().contains("custmer_id"), "{d}");
    let line = broken[..broken.find("o.custmer_id").unwrap()]
        .matches('\n')
        .count();
    assert_eq!(d["range"]["start"]["line"], line, "{d}");
    // The code links to its documentation, written into the target folder.
    let code = d["code"].as_str().unwrap();
    let href = d["codeDescription"]["href"].as_str().unwrap_or_default();
    assert_eq!(
        href,
        uri_of_file(&root, &format!("target/explain/{code}.md")),
        "{d}"
    );
    let doc = std::fs::read_to_string(root.join(format!("target/explain/{code}.md"))).unwrap();
    let explained = crate::common::shopc(&["explain", code]);
    assert_eq!(doc.trim_end(), crate::common::stdout(&explained).trim_end());
    client.change(&uri, 3, &text);
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    client.drain();
    // Saving changes nothing the server did not know.
    client.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(client.shutdown().success());
}

/// Edits that arrive faster than the project compiles are compiled
/// together: fewer publications than edits, the last of them the last
/// text's, and a request that came in behind them still answered.
#[test]
fn edits_that_arrive_together_are_compiled_together() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    client.drain();
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replace("customer_id = o.customer_id", "customer_id = o.custmer_id");
    let mut messages: Vec<Value> = (2..=6)
        .map(|version| {
            let body = if version % 2 == 0 { &broken } else { &text };
            let body = if version == 6 { &broken } else { body };
            json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "text": body }] } })
        })
        .collect();
    messages.push(json!({ "jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": {
        "textDocument": { "uri": uri }, "position": position_of(&broken, "from int_orders_customers", 6) } }));
    client.send_together(&messages);
    let hover = loop {
        let message = client.next();
        if message["id"] == 99 {
            break message;
        }
        client.pending.push(message);
    };
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .contains("int_orders_customers"),
        "{hover}"
    );
    let published: Vec<&Value> = client
        .pending
        .iter()
        .filter(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str()
        })
        .collect();
    assert!(
        (1..5).contains(&published.len()),
        "{} publications: {published:?}",
        published.len()
    );
    let last = published.last().unwrap()["params"]["diagnostics"]
        .as_array()
        .unwrap();
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(last[0]["message"].as_str().unwrap().contains("custmer_id"));
    assert!(client.shutdown().success());
}

#[test]
fn an_error_in_one_file_is_published_for_the_files_it_breaks() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let staging = root.join("models/staging/stg_orders.shop");
    let uri = client.open(&staging);
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    client.drain();
    // Renaming a column breaks its readers in other files.
    let text = std::fs::read_to_string(&staging).unwrap();
    client.change(
        &uri,
        2,
        &text.replace("    order_date =", "    order_day ="),
    );
    let reader = uri_of_file(&root, "models/intermediate/int_orders_items.shop");
    let found = client.diagnostics(&reader);
    assert!(!found.is_empty(), "no diagnostic in the reader");
    assert!(
        found
            .iter()
            .any(|d| d["message"].as_str().unwrap().contains("order_date")),
        "{found:?}"
    );
    assert!(client.shutdown().success());
}

fn uri_of_file(root: &Path, file: &str) -> String {
    uri(&root.join(file))
}

#[test]
fn hover_shows_a_relations_grain_and_a_columns_type() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "model fact_orders", 8) }),
    );
    let value = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(value.contains("fact_orders"), "{hover}");
    assert!(value.contains("derived grain [order_id]"), "{hover}");
    assert!(value.contains("materialized as incremental"), "{hover}");
    assert!(
        value.contains("revenue is one number") || value.contains("One row per order"),
        "{hover}"
    );
    // A column read: its relation, type and nullability.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "o.revenue", 3) }),
    );
    let value = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(value.contains("int_orders_customers.revenue"), "{hover}");
    assert!(value.contains("numeric"), "{hover}");
    // Nothing under a keyword.
    let nothing = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "dimensions {", 2) }),
    );
    assert_eq!(nothing["result"], Value::Null, "{nothing}");
    assert!(client.shutdown().success());
}

#[test]
fn definition_and_references_cross_files() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let at = position_of(&text, "from int_orders_customers", 6);
    let definition = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": at }),
    );
    let target = &definition["result"];
    assert!(
        target["uri"]
            .as_str()
            .unwrap()
            .ends_with("models/intermediate/int_orders_customers.shop"),
        "{definition}"
    );
    let model_file = root.join("models/intermediate/int_orders_customers.shop");
    let model_text = std::fs::read_to_string(&model_file).unwrap();
    assert_eq!(
        target["range"]["start"],
        position_of(&model_text, "int_orders_customers {", 0)
    );
    // The column `o.customer_id` is defined in int_orders_customers.
    let column = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "o.customer_id", 2) }),
    );
    assert!(
        column["result"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("int_orders_customers.shop"),
        "{column}"
    );
    // The alias `o`, from `o.customer_id`: where `from … o` names it.
    let alias = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "o.customer_id", 0) }),
    );
    assert_eq!(
        alias["result"]["range"]["start"],
        position_of(&text, "from int_orders_customers o", 26),
        "{alias}"
    );
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "o.customer_id", 0) }),
    );
    let value = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(
        value.starts_with("alias `o` of `int_orders_customers`"),
        "{hover}"
    );
    let references = client.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri }, "position": at, "context": { "includeDeclaration": true } }),
    );
    let found: Vec<&str> = references["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["uri"].as_str().unwrap())
        .collect();
    // Its definition and the models that read it.
    assert!(
        found
            .iter()
            .any(|u| u.ends_with("int_orders_customers.shop")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|u| u.ends_with("fact_orders.shop")),
        "{found:?}"
    );
    // A column's references: each place once (a read `o.customer_id` is
    // one, not its name again: the two would end together).
    let references = client.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "o.customer_id", 2), "context": { "includeDeclaration": true } }),
    );
    let places = references["result"].as_array().unwrap();
    let mut starts: Vec<String> = places
        .iter()
        .map(|l| format!("{} {}", l["uri"], l["range"]["end"]))
        .collect();
    let all = starts.len();
    starts.sort();
    starts.dedup();
    assert!(all > 1 && starts.len() == all, "{references}");
    assert!(client.shutdown().success());
}

/// A var read in a model: hover says its value, definition is its key in
/// shop.toml, references are that key and every `var('…')` that reads it,
/// and renaming it is refused with what to do instead.
#[test]
fn a_var_is_defined_in_shop_toml_and_read_where_var_names_it() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/staging/stg_customers.shop");
    let uri = client.open(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let at = position_of(&text, "var('test_email_domain')", 7);
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": at }),
    );
    let value = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(
        value.starts_with("**var** `test_email_domain` = `\"@shopco.test\"`"),
        "{hover}"
    );
    let toml = std::fs::read_to_string(root.join("shop.toml")).unwrap();
    let key = position_of(&toml, "test_email_domain = ", 0);
    let definition = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": at }),
    );
    assert!(
        definition["result"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/shop.toml"),
        "{definition}"
    );
    assert_eq!(definition["result"]["range"]["start"], key, "{definition}");
    let mut references = |declaration: bool| {
        let answer = client.request(
            "textDocument/references",
            json!({ "textDocument": { "uri": uri }, "position": at,
                    "context": { "includeDeclaration": declaration } }),
        );
        answer["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["uri"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string(),
                    l["range"]["start"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let read = position_of(&text, "var('test_email_domain')", 5);
    let reads = references(false);
    assert_eq!(reads, [("stg_customers.shop".to_string(), read)]);
    let all = references(true);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0], ("shop.toml".to_string(), key));
    let rename = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": at, "newName": "test_domain" }),
    );
    let message = rename["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is a var: rename its key in `shop.toml`"),
        "{rename}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn symbols_completion_and_formatting() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let model = &symbols["result"][0];
    assert_eq!(model["name"], "fact_orders", "{symbols}");
    let children: Vec<&str> = model["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        children.contains(&"revenue") && children.contains(&"order_id"),
        "{children:?}"
    );
    let workspace = client.request("workspace/symbol", json!({ "query": "stg_" }));
    assert_eq!(
        workspace["result"].as_array().unwrap().len(),
        5,
        "{workspace}"
    );

    // Columns after `o.`, relations after `from`.
    let text = std::fs::read_to_string(&file).unwrap();
    let typing = text.replace("revenue = o.revenue", "revenue = o.rev");
    client.change(&uri, 2, &typing);
    let columns = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&typing, "o.rev", 5) }),
    );
    let labels: Vec<&str> = columns["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["revenue"], "{columns}");
    let relations = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&typing, "from int_orders", 9) }),
    );
    let labels: Vec<&str> = relations["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "int_customer_rfm",
            "int_orders_customers",
            "int_orders_items"
        ]
    );

    // Formatting: one edit to the formatted text.
    let ugly = text.replace("  grain = [order_id]", "grain=[ order_id ]");
    client.change(&uri, 3, &ugly);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits["result"].as_array().unwrap().clone();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["newText"], text.as_str());
    client.change(&uri, 4, &text);
    let none = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(none["result"], json!([]));
    // A file that does not parse: an error, not an edit.
    client.change(&uri, 5, "model broken {\n  columns { x = }\n}\n");
    let refused = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not parse"),
        "{refused}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn bad_requests_get_errors_or_nothing_and_never_a_panic() {
    let (_dir, root) = shopco();
    // A file that is not UTF-8 is a diagnostic, not a crash.
    let latin1 = root.join("models/latin1.shop");
    std::fs::write(&latin1, b"## caf\xe9\n").unwrap();
    let mut client = Client::start(&root);
    let found = client.diagnostics(&uri(&latin1));
    assert!(found.iter().any(|d| d["code"] == "F002"), "{found:?}");
    let file = root.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    let unknown = client.request("textDocument/inlayHint", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let outside = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 10_000, "character": 3 } }),
    );
    assert_eq!(outside["result"], Value::Null, "{outside}");
    let past_the_line = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 0, "character": 100_000 } }),
    );
    assert_eq!(past_the_line["result"], Value::Null, "{past_the_line}");
    let not_params = client.request("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(not_params["error"]["code"], -32602, "{not_params}");
    let unopened = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///nowhere/x.shop" }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(unopened["result"], Value::Null, "{unopened}");
    // A huge paste is compiled like any text.
    let huge = "model m {\n  from raw.raw_orders o\n  columns {\n".to_string()
        + &"    x = o.order_id + 1\n".repeat(20_000)
        + "  }\n}\n";
    client.drain();
    client.change(&uri, 2, &huge);
    let found = client.diagnostics(&uri);
    assert!(
        !found.is_empty(),
        "20,000 columns of one name, and no diagnostic"
    );
    client.drain();
    // A file deleted while open: its diagnostics go when it is closed.
    std::fs::remove_file(&file).unwrap();
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());
    assert!(client.shutdown().success());
}

#[test]
fn a_client_that_closes_its_output_stops_the_server() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    drop(client.stdin.take());
    let status = wait(&mut client.child);
    // Without `shutdown` first the protocol says exit 1; never a crash.
    assert!(status.code().is_some(), "killed by a signal: {status:?}");
}

#[test]
fn rename_a_model_or_a_column_across_files_and_refuse_what_it_would_break() {
    let dir = common::project(&[
        ("shop.toml", "name = \"renames\"\n"),
        (
            "models/raw.shop",
            "source raw {\n  table t {\n    expect_key = [id]\n    columns {\n      id: integer\n    }\n  }\n}\n",
        ),
        (
            "models/a.shop",
            "model a {\n  grain = [id]\n  cluster_by = [id]\n  from raw.t t\n  columns {\n    id = t.id\n  }\n  tests {\n    unique(id)\n  }\n}\n",
        ),
        (
            "models/b.shop",
            "model b {\n  grain = [id]\n  from a x\n  columns {\n    id = x.id\n  }\n  tests {\n    relationships(id, to = a.id)\n  }\n}\n",
        ),
    ]);
    let root = dir.path().canonicalize().unwrap();
    let mut client = Client::start(&root);
    let b = root.join("models/b.shop");
    let b_uri = client.open(&b);
    let b_text = std::fs::read_to_string(&b).unwrap();
    let rename = |client: &mut Client, at: Value, name: &str| {
        client.request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": b_uri }, "position": at, "newName": name }),
        )
    };
    // The model `a`, from where `b` reads it.
    let answer = rename(&mut client, position_of(&b_text, "from a x", 5), "first");
    let changes = &answer["result"]["changes"];
    let a_uri = uri(&root.join("models/a.shop"));
    assert_eq!(
        changes[&a_uri],
        json!([{ "range": { "start": { "line": 0, "character": 6 }, "end": { "line": 0, "character": 7 } }, "newText": "first" }]),
        "{answer}"
    );
    // In `b`: the scan, and the relation its test points to (`to = a.id`).
    assert_eq!(
        changes[&b_uri],
        json!([
            { "range": { "start": { "line": 2, "character": 7 }, "end": { "line": 2, "character": 8 } }, "newText": "first" },
            { "range": { "start": { "line": 7, "character": 27 }, "end": { "line": 7, "character": 28 } }, "newText": "first" },
        ]),
        "{answer}"
    );
    // The column `a.id`, from `x.id`: its definition, the grain, the
    // setting and the test that name it, the read (the name alone, not
    // `x.`), and the column `b`'s test points to; not `b`'s own `id`.
    let answer = rename(&mut client, position_of(&b_text, "x.id", 2), "key");
    let changes = &answer["result"]["changes"];
    let lines: Vec<&Value> = changes[&a_uri]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["range"]["start"]["line"])
        .collect();
    assert_eq!(
        lines,
        [&json!(1), &json!(2), &json!(5), &json!(8)],
        "{answer}"
    );
    assert_eq!(
        changes[&b_uri],
        json!([
            { "range": { "start": { "line": 4, "character": 11 }, "end": { "line": 4, "character": 13 } }, "newText": "key" },
            { "range": { "start": { "line": 7, "character": 29 }, "end": { "line": 7, "character": 31 } }, "newText": "key" },
        ]),
        "{answer}"
    );
    // The alias `x`: where `from a x` names it and where `x.id` reads it.
    let answer = rename(&mut client, position_of(&b_text, "x.id", 0), "src");
    let edits = answer["result"]["changes"][&b_uri]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edits.len(), 2, "{answer}");
    assert!(edits.iter().all(|e| e["newText"] == "src"), "{answer}");
    let bad = rename(
        &mut client,
        position_of(&b_text, "from a x", 5),
        "not a name",
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    assert!(client.shutdown().success());

    // In ShopCo a unit test names `int_orders_customers` (`model = …`):
    // the rename follows it there.
    let (_dir, shopco) = shopco();
    let mut client = Client::start(&shopco);
    let file = shopco.join("models/marts/fact_orders.shop");
    let uri = client.open(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let model_at = position_of(&text, "from int_orders_customers", 6);
    let renamed = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": model_at, "newName": "int_orders_enriched" }),
    );
    let unit = std::fs::read_to_string(shopco.join("models/unit/unit_tests.shop")).unwrap();
    let unit_uri = uri_of_file(&shopco, "models/unit/unit_tests.shop");
    assert_eq!(
        renamed["result"]["changes"][&unit_uri][0]["range"]["start"],
        position_of(&unit, "model = int_orders_customers", 8),
        "{renamed}"
    );
    // A name another model has: the rename would leave errors, so it is
    // refused, naming the first.
    let refused = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": model_at, "newName": "int_orders_items" }),
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("int_orders_items"), "{refused}");
    // A column named in settings: `cluster_by` and `partition_by`'s
    // `field` follow it, and the rename compiles.
    let renamed = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": position_of(&text, "order_date = o.order_date", 0), "newName": "ordered_on" }),
    );
    let edits = renamed["result"]["changes"][&uri]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let line_of = |needle: &str| json!(text[..text.find(needle).unwrap()].matches('\n').count());
    for needle in [
        "cluster_by = [order_date]",
        "field = order_date",
        "order_date = o.order_date",
    ] {
        assert!(
            edits
                .iter()
                .any(|e| e["range"]["start"]["line"] == line_of(needle)),
            "{needle}: {renamed}"
        );
    }
    assert!(client.shutdown().success());
}

#[test]
fn functions_on_hover_and_settings_and_tests_in_completion() {
    let (_dir, root) = shopco();
    let mut client = Client::start(&root);
    let file = root.join("models/intermediate/int_orders_items.shop");
    let uri = client.open(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let hover = |client: &mut Client, text: &str, needle: &str, into: usize| {
        let answer = client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": position_of(text, needle, into) }),
        );
        answer["result"]["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let coalesce = hover(&mut client, &text, "coalesce(sum", 3);
    assert!(coalesce.contains("`coalesce`"), "{coalesce}");
    let sum = hover(&mut client, &text, "sum(i.line_revenue", 1);
    assert!(
        sum.contains("aggregate function") && sum.contains("a number"),
        "{sum}"
    );
    let complete = |client: &mut Client, text: &str, needle: &str, into: usize| -> Vec<String> {
        let answer = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": position_of(text, needle, into) }),
        );
        answer["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["label"].as_str().unwrap().to_string())
            .collect()
    };
    // A setting's key, first on a line of the model.
    let typing = text.replace("  grain = [order_id]", "  grain = [order_id]\n  mat");
    client.change(&uri, 2, &typing);
    assert_eq!(
        complete(&mut client, &typing, "\n  mat", 6),
        ["materialized"]
    );
    // A test's name in `tests { … }`.
    let typing = text.replace(
        "\n  measures {",
        "\n  tests {\n    uni\n  }\n\n  measures {",
    );
    client.change(&uri, 3, &typing);
    assert_eq!(complete(&mut client, &typing, "    uni", 7), ["unique"]);
    assert!(client.shutdown().success());
}

/// The server's parse cache gives what a fresh compilation gives, after
/// changes that break a file, mend it and leave the others alone.
#[test]
fn a_compilation_from_the_parse_cache_equals_a_fresh_one() {
    let mut project = shopc::synth::dbt_shaped(300, 5);
    let mut cache = shopc::ParseCache::default();
    let middle = project.files.len() / 2;
    let original = project.files[middle].1.clone();
    let broken = original.replacen(" = ", " = nonsense_column + ", 1);
    assert_ne!(broken, original);
    let mut errors = Vec::new();
    for text in [original.clone(), broken, original] {
        project.files[middle].1 = text;
        let (db, config, files) = project.load();
        let cached = shopc::compile_with_cache(&db, &config, &files, &mut cache);
        let fresh = shopc::compile(&db, &config, &files);
        assert_eq!(
            format!("{:?}", cached.problems),
            format!("{:?}", fresh.problems)
        );
        assert_eq!(cached.ir.relations.len(), fresh.ir.relations.len());
        errors.push(cached.error_count());
        assert_eq!(
            shopc::ir::dump_relation(&cached.ir, cached.ir.order[cached.ir.order.len() - 1]),
            shopc::ir::dump_relation(&fresh.ir, fresh.ir.order[fresh.ir.order.len() - 1])
        );
    }
    // Clean, broken, mended.
    assert!(
        errors[0] == 0 && errors[1] > 0 && errors[2] == 0,
        "{errors:?}"
    );
}
