//! `shopc docs generate`: the site of ShopCo, read as files (every page,
//! every link followed), escaping, and bad output folders.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// `shopc docs generate --project ROOT --out OUT`
fn generate(root: &Path, out: &Path) -> std::process::Output {
    common::run_in(
        "docs",
        &["generate"],
        root,
        &["--out", out.to_str().unwrap()],
    )
}

/// Generates ShopCo's site into a temporary folder.
fn shopco_site() -> (tempfile::TempDir, std::path::PathBuf) {
    let (temp, root) = common::shopco_copy(&["target"]);
    let out = temp.path().join("site");
    let run = generate(&root, &out);
    assert_eq!(run.status.code(), Some(0), "{}", common::stderr(&run));
    assert!(
        common::stdout(&run).contains("wrote the docs of shopco: 23 pages"),
        "{}",
        common::stdout(&run)
    );
    (temp, out)
}

fn read(site: &Path, page: &str) -> String {
    std::fs::read_to_string(site.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"))
}

/// The `href`s of a page.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

#[test]
fn the_index_lists_every_relation_and_every_link_leads_somewhere() {
    let (_temp, site) = shopco_site();
    let index = read(&site, "index.html");
    let manifest: serde_json::Value = serde_json::from_str(&read(
        &site.parent().unwrap().join("shopco/target"),
        "manifest.json",
    ))
    .unwrap();
    let relations: Vec<(&str, &str)> = manifest["nodes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| {
            matches!(
                n["kind"].as_str(),
                Some("source" | "model" | "snapshot" | "reconciliation")
            )
        })
        .map(|(id, n)| (id.as_str(), n["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        relations.len(),
        21,
        "and the index and the lineage: 23 pages"
    );
    for (id, name) in &relations {
        assert!(
            index.contains(&format!("<a href=\"nodes/{id}.html\">{name}</a>")),
            "the index lists {id}"
        );
    }
    for layer in ["staging", "intermediate", "marts", "sources", "snapshots"] {
        assert!(index.contains(&format!("id=\"group-{layer}\"")), "{layer}");
    }
    // The lineage graph's data: every relation (reconciliations are not
    // relations), and the layout library with its licence.
    let graph = read(&site, "assets/graph.js");
    for (id, _) in relations
        .iter()
        .filter(|(id, _)| !id.starts_with("reconciliation."))
    {
        assert!(
            graph.contains(&format!("\"id\":\"{id}\"")),
            "{id} in the graph"
        );
    }
    assert!(read(&site, "assets/dagre.min.js").contains("dagre"));
    assert!(read(&site, "assets/dagre-LICENSE.txt").contains("Chris Pettitt"));
    // Every link of every page is a file of the site, and every `#anchor`
    // an id on that page.
    let mut pages: Vec<String> = vec!["index.html".into(), "lineage.html".into()];
    pages.extend(relations.iter().map(|(id, _)| format!("nodes/{id}.html")));
    let mut followed = BTreeSet::new();
    for page in &pages {
        let html = read(&site, page);
        let dir = Path::new(page).parent().unwrap();
        for href in links(&html) {
            if href.starts_with('#') {
                continue;
            }
            // `lineage.html?node=ID` is a page of the site with a question.
            let href = href.split('?').next().unwrap_or_default().to_string();
            let (file, anchor) = href.split_once('#').unwrap_or((&href, ""));
            let target = dir.join(file);
            let text = read(&site, target.to_str().unwrap());
            if !anchor.is_empty() {
                assert!(
                    text.contains(&format!("id=\"{anchor}\"")),
                    "{page}: {href} has no #{anchor}"
                );
            }
            followed.insert(href.clone());
        }
        // And every column the lineage names is on its relation's page.
        for (_, lists) in page_lineage(&html) {
            for column in lists.values().flatten() {
                let (node, name) = column.rsplit_once('.').unwrap();
                let text = read(&site, &format!("nodes/{node}.html"));
                assert!(
                    text.contains(&format!("id=\"col-{name}\"")),
                    "{page}: lineage names {column}, not on its page"
                );
                followed.insert(column.clone());
            }
        }
    }
    assert!(followed.len() > 100, "{}", followed.len());
}

#[test]
fn fact_orders_page_shows_grain_columns_settings_and_lineage() {
    let (_temp, site) = shopco_site();
    let page = read(&site, "nodes/model.shopco.fact_orders.html");
    assert!(page.contains("<span id=\"grain\"><code>[order_id]</code></span>"));
    assert!(page.contains("derived grain [order_id]"), "the proof");
    for setting in [
        "incremental, strategy <code>merge</code>",
        "unique key <code>[order_id]</code>",
        "since <code>updated_at</code>",
        "lookback 3 days",
    ] {
        assert!(page.contains(setting), "{setting}");
    }
    assert!(page.contains(
        "<tr id=\"col-revenue\"><td><code>revenue</code></td><td><code>numeric(38, 2)</code></td>"
    ));
    // The lineage of revenue reaches the raw columns it is computed from,
    // through the ephemeral models between.
    let revenue = column_lineage(&page, "revenue");
    for raw in ["quantity", "unit_price", "discount"] {
        assert!(
            revenue["upstream"].contains(&format!("source.shopco.raw.raw_order_items.{raw}")),
            "revenue ← raw_order_items.{raw}: {:?}",
            revenue["upstream"]
        );
    }
    assert!(
        revenue["upstream"].contains(&"model.shopco.int_orders_items.revenue".to_string()),
        "an ephemeral"
    );
    assert!(
        !revenue["from"].is_empty()
            && revenue["from"]
                .iter()
                .all(|c| revenue["upstream"].contains(c))
    );
    // And the other way: raw_order_items.discount is read, in the end, by
    // fact_orders.revenue.
    let raw = read(&site, "nodes/source.shopco.raw.raw_order_items.html");
    let discount = column_lineage(&raw, "discount");
    assert!(discount["downstream"].contains(&"model.shopco.fact_orders.revenue".to_string()));
    assert!(discount["upstream"].is_empty() && discount["from"].is_empty());
    // The compiled SQL in the four dialects, DuckDB's shown first.
    for dialect in ["duckdb", "postgres", "snowflake", "bigquery"] {
        assert!(page.contains(&format!("<pre class=\"sql\" data-dialect=\"{dialect}\"")));
    }
    assert!(page.contains("<pre class=\"shop\">"), "the .shop source");
    assert!(
        page.contains("model.shopco.int_orders_customers.html"),
        "upstream"
    );
}

/// The lineage of every column on a relation's page (the data `site.js`
/// makes into links), by column: each list (`from`, `read-by`,
/// `upstream`, `downstream`) as `node.column` texts.
fn page_lineage(page: &str) -> Vec<(String, HashMap<&'static str, Vec<String>>)> {
    let start = "<script type=\"application/json\" id=\"column-lineage-data\">";
    let Some(at) = page.find(start) else {
        return Vec::new();
    };
    let json = &page[at + start.len()..];
    let json = &json[..json.find("</script>").unwrap()];
    let data: serde_json::Value = serde_json::from_str(json).unwrap();
    let nodes = data["nodes"].as_array().unwrap();
    let names = |list: &serde_json::Value| {
        let mut node = "";
        let mut out = Vec::new();
        for item in list.as_array().unwrap() {
            match item.as_u64() {
                Some(i) => node = nodes[i as usize].as_str().unwrap(),
                None => out.push(format!("{node}.{}", item.as_str().unwrap())),
            }
        }
        out
    };
    data["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let lists = ["from", "read-by", "upstream", "downstream"]
                .into_iter()
                .zip(c[1].as_array().unwrap())
                .map(|(kind, list)| (kind, names(list)))
                .collect();
            (c[0].as_str().unwrap().to_string(), lists)
        })
        .collect()
}

/// One column's lineage on its relation's page.
fn column_lineage(page: &str, column: &str) -> HashMap<&'static str, Vec<String>> {
    page_lineage(page)
        .into_iter()
        .find(|(name, _)| name == column)
        .unwrap()
        .1
}

#[test]
fn the_search_index_knows_columns_and_descriptions() {
    let (_temp, site) = shopco_site();
    let script = read(&site, "assets/search-index.js");
    let json = script
        .strip_prefix("window.SHOPC_SEARCH = ")
        .and_then(|s| s.trim_end().strip_suffix(';'))
        .unwrap();
    let entries: serde_json::Value = serde_json::from_str(json).unwrap();
    let fact = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fact_orders")
        .unwrap();
    assert_eq!(fact["url"], "nodes/model.shopco.fact_orders.html");
    assert!(
        fact["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c[0] == "revenue")
    );
}

#[test]
fn text_from_the_project_is_escaped_everywhere() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("p");
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::write(root.join("shop.toml"), "name = \"evil\"\n").unwrap();
    std::fs::write(
        root.join("models/m.shop"),
        "## <script>alert(1)</script> & more\n\
         source raw {\n  table t { columns { id: integer, s: text } }\n}\n\n\
         ## A <b>bold</b> model.\n\
         model m {\n  from raw.t t\n  columns {\n    id = t.id\n    ## <img src=x onerror=alert(2)>\n    s = t.s || '<script>'\n  }\n}\n",
    )
    .unwrap();
    let out = temp.path().join("site");
    let run = generate(&root, &out);
    assert_eq!(run.status.code(), Some(0), "{}", common::stderr(&run));
    let mut pages = vec![read(&out, "index.html")];
    for entry in std::fs::read_dir(out.join("nodes")).unwrap() {
        pages.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let all = pages.join("\n");
    assert!(all.contains("A &lt;b&gt;bold&lt;/b&gt; model."));
    assert!(all.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // In the SQL and the source, which are an element's text: quotes stay
    // (SQL is full of them), `<` and `>` do not.
    assert_eq!(
        all.matches("'&lt;script&gt;'").count(),
        5,
        "in the SQL of each of the four dialects and in the source"
    );
    for raw in ["<b>bold", "<img", "<script>alert", "'<script>'"] {
        assert!(!all.contains(raw), "{raw} unescaped");
    }
}

#[test]
fn a_site_written_over_an_older_one_keeps_no_page_of_a_removed_relation() {
    let (temp, root) = common::shopco_copy(&["target"]);
    let out = temp.path().join("site");
    let stale = out.join("nodes/model.shopco.removed_since.html");
    let notes = out.join("nodes/notes.txt");
    std::fs::create_dir_all(out.join("nodes")).unwrap();
    std::fs::write(&stale, "<p>an older site's page</p>").unwrap();
    std::fs::write(&notes, "not the site's").unwrap();
    let run = generate(&root, &out);
    assert_eq!(run.status.code(), Some(0), "{}", common::stderr(&run));
    assert!(!stale.exists(), "the page of a relation that is gone");
    assert!(notes.exists(), "what is not a page is left alone");
    assert!(out.join("nodes/model.shopco.fact_orders.html").exists());
}

#[test]
fn an_output_folder_that_is_a_file_is_a_usage_error() {
    let (temp, root) = common::shopco_copy(&["target"]);
    let file = temp.path().join("taken");
    std::fs::write(&file, "x").unwrap();
    let run = generate(&root, &file);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        common::stderr(&run).contains("is a file, not a folder"),
        "{}",
        common::stderr(&run)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x", "left alone");
    // A folder that cannot be made (under that file) says which file.
    let run = generate(&root, &file.join("site"));
    assert_eq!(run.status.code(), Some(2));
    assert!(
        common::stderr(&run).contains("error: cannot write"),
        "{}",
        common::stderr(&run)
    );
}

/// A plain HTTP/1.1 GET; the status line and the body.
fn get(address: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn serve_answers_on_localhost_keeps_to_its_folder_and_stops_on_ctrl_c() {
    use std::io::BufRead;
    let (_temp, site) = shopco_site();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_shopc"))
        .args([
            "docs",
            "serve",
            "--port",
            "0",
            "--dir",
            site.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    assert!(address.starts_with("127.0.0.1:"), "{line}");
    let (status, body) = get(&address, "/");
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("<h1>shopco</h1>"));
    let (status, body) = get(&address, "/nodes/model.shopco.fact_orders.html");
    assert!(status.contains("200") && body.contains("id=\"col-revenue\""));
    let (status, _) = get(&address, "/../../../etc/passwd");
    assert!(status.contains("404") || status.contains("400"), "{status}");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let code = server.wait().unwrap();
    assert_eq!(code.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn serve_without_a_site_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let out = common::shopc(&["docs", "serve", "--dir", temp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("holds no index.html"));
}

/// The row count a page shows, if any.
fn rows_shown(page: &str) -> Option<u64> {
    let at = page.find("<span id=\"rows\">")? + "<span id=\"rows\">".len();
    page[at..].split('<').next()?.replace(',', "").parse().ok()
}

#[test]
fn catalog_facts_come_from_the_target_and_only_with_one() {
    let (temp, root) = common::shopco_copy(&["target"]);
    common::build(&root, &[]);
    let mut profiles = std::fs::read_to_string(root.join("profiles.toml")).unwrap();
    profiles.push_str("\n[targets.local]\nadapter = \"duckdb\"\npath = \"target/shopco.duckdb\"\n");
    std::fs::write(root.join("profiles.toml"), profiles).unwrap();
    let counted: u64 = common::database(&root)
        .query_row("SELECT count(*) FROM marts.fact_orders", [], |r| r.get(0))
        .unwrap();
    assert!(counted > 100, "{counted}");

    let plain = temp.path().join("plain");
    assert_eq!(generate(&root, &plain).status.code(), Some(0));
    let page = read(&plain, "nodes/model.shopco.fact_orders.html");
    assert_eq!(rows_shown(&page), None, "no target, no facts");

    let out = temp.path().join("site");
    let run = common::run_in(
        "docs",
        &["generate"],
        &root,
        &["--out", out.to_str().unwrap(), "--target", "local"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", common::stderr(&run));
    assert!(
        common::stdout(&run).contains("read the row counts of"),
        "{}",
        common::stdout(&run)
    );
    let page = read(&out, "nodes/model.shopco.fact_orders.html");
    assert_eq!(rows_shown(&page), Some(counted));
    assert!(!page.contains("id=\"bytes\""), "DuckDB tells no size");
    // An ephemeral model is nowhere in the warehouse: no facts.
    let ephemeral = read(&out, "nodes/model.shopco.int_orders_customers.html");
    assert_eq!(rows_shown(&ephemeral), None);
}

#[test]
fn catalog_facts_on_postgresql_include_sizes() {
    let pg = common::Postgres::start("docs");
    let (temp, root) = common::shopco_copy(&["target"]);
    pg.write_profiles(&root);
    common::build(&root, &["--target", "pg"]);
    let out = temp.path().join("site");
    let run = common::run_in(
        "docs",
        &["generate"],
        &root,
        &["--out", out.to_str().unwrap(), "--target", "pg"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", common::stderr(&run));
    assert!(common::stdout(&run).contains("read the row counts and sizes of"));
    let mut warehouse = pg.connect();
    let counted: u64 = shopc::warehouse::Warehouse::query(
        &mut warehouse,
        "SELECT count(*) FROM marts.fact_orders",
    )
    .unwrap()
    .first_value()
    .parse()
    .unwrap();
    let page = read(&out, "nodes/model.shopco.fact_orders.html");
    assert_eq!(rows_shown(&page), Some(counted));
    assert!(page.contains("<span id=\"bytes\">"), "a size");
    assert!(page.contains(" kB</span>") || page.contains(" MB</span>"));
}
