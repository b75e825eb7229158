//! `shopc docs generate`: the project as a static site, every asset inside
//! its folder, so that it opens from `file://` as well as from GitHub Pages.
//!
//! An index (layers, relations by layer, a search over relation names,
//! column names and descriptions), then a page per relation (source table,
//! model, snapshot) and per reconciliation: what the compiler knows of it
//! (materialization, grain and its proof, columns with type, nullability,
//! additivity and tests), its compiled SQL in every dialect, its `.shop`
//! source, its neighbours, and each column's lineage both ways, through
//! ephemeral models. Pure: it returns the files; the caller writes them.
//! Every text that comes from the project is escaped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use crate::emit::{Dialect, Emitter};
use crate::ir::{Ir, RelId, RelationKind, TestKind};
use crate::manifest::{ColumnRef, Manifest, Node};
use crate::span::SourceDb;

/// What a reachable warehouse says of a relation (`docs generate
/// --target`); what it cannot tell is `None`, and left off the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFacts {
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// The facts of a warehouse: which target, and each relation's.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// `duckdb shopco_models/target/shopco.duckdb`
    pub target: String,
    pub facts: HashMap<RelId, CatalogFacts>,
}

/// One file of the site, by its path inside the site's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    pub path: String,
    pub text: String,
}

const STYLE: &str = include_str!("docs/site.css");
const SCRIPT: &str = include_str!("docs/site.js");
const LINEAGE_SCRIPT: &str = include_str!("docs/lineage.js");
/// The layout library of the lineage graph (see `docs/vendor/README.md`).
const DAGRE: &str = include_str!("docs/vendor/dagre-3.1.3.min.js");
const DAGRE_LICENSE: &str = include_str!("docs/vendor/dagre-LICENSE");

/// The site of a compiled project, from its manifest (for what every node
/// is) and its IR (for proofs, SQL and source): each file is handed to
/// `write` as soon as it is made (pages are made in parallel, so in no set
/// order), and dropped after; the first error `write` returns stops it.
/// Returns the number of pages.
pub fn site<E: Send>(
    ir: &Ir,
    analysis: &crate::check::Analysis,
    db: &SourceDb,
    manifest: &Manifest,
    project: &str,
    catalog: Option<&Catalog>,
    write: impl Fn(SiteFile) -> Result<(), E> + Sync,
) -> Result<usize, E> {
    use rayon::prelude::*;
    let lineage = Lineage::of(manifest);
    let assets: [(&str, &(dyn Fn() -> String + Sync)); 9] = [
        ("assets/site.css", &|| STYLE.into()),
        ("assets/site.js", &|| SCRIPT.into()),
        ("assets/search-index.js", &|| search_index(manifest)),
        ("index.html", &|| index(manifest, project)),
        ("lineage.html", &|| lineage_page(project)),
        ("assets/lineage.js", &|| LINEAGE_SCRIPT.into()),
        ("assets/graph.js", &|| graph(ir, project)),
        ("assets/dagre.min.js", &|| DAGRE.into()),
        ("assets/dagre-LICENSE.txt", &|| DAGRE_LICENSE.into()),
    ];
    let emitters: Vec<(Dialect, Emitter<'_>)> = Dialect::ALL
        .iter()
        .map(|&d| (d, Emitter::with_analysis(ir, d, analysis)))
        .collect();
    let mut readers: Vec<Vec<RelId>> = vec![Vec::new(); ir.relations.len()];
    for &id in &ir.order {
        for dep in &ir.relation(id).deps {
            readers[dep.index()].push(id);
        }
    }
    let pages = Pages {
        ir,
        catalog,
        readers: &readers,
        analysis,
        db,
        manifest,
        project,
        lineage: &lineage,
        emitters: &emitters,
    };
    let reconciliations: Vec<&Node> = manifest
        .nodes
        .values()
        .filter(|node| node.kind == "reconciliation")
        .map(|node| &**node)
        .collect();
    let pages = &pages;
    let write = &write;
    crate::in_pool(|| {
        assets.par_iter().try_for_each(|(path, text)| {
            write(SiteFile {
                path: path.to_string(),
                text: text(),
            })
        })?;
        let relations = ir.relations.par_iter().filter_map(|rel| {
            let id = crate::manifest::relation_id(project, rel);
            let node = manifest.nodes.get(id.as_str())?;
            Some(SiteFile {
                path: page_path(&id),
                text: pages.relation(rel.id, node),
            })
        });
        let written = relations
            .map(|file| write(file).map(|()| 1))
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        reconciliations.par_iter().try_for_each(|node| {
            write(SiteFile {
                path: page_path(&node.unique_id),
                text: pages.reconciliation(node),
            })
        })?;
        let assets = assets
            .iter()
            .filter(|(path, _)| path.ends_with(".html"))
            .count();
        Ok(assets + written + reconciliations.len())
    })
}

/// `nodes/model.shopco.fact_orders.html`
pub fn page_path(unique_id: &str) -> String {
    format!("nodes/{unique_id}.html")
}

/// Text made safe to stand in HTML, as content or as an attribute's value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Runs without a special byte are copied whole (each special byte is
    // ASCII, so the runs split the text at character boundaries).
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        if matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'') {
            out.push_str(&text[run..i]);
            out.push_str(entity(b));
            run = i + 1;
        }
    }
    out.push_str(&text[run..]);
    out
}

/// Text made safe to stand as an element's content (not an attribute's
/// value): `&`, `<` and `>` replaced, quotes kept as they are (SQL is
/// full of them).
fn escape_text_into(out: &mut String, text: &str) {
    let mut run = 0;
    for i in memchr::memchr3_iter(b'&', b'<', b'>', text.as_bytes()) {
        out.push_str(&text[run..i]);
        out.push_str(entity(text.as_bytes()[i]));
        run = i + 1;
    }
    out.push_str(&text[run..]);
}

/// The entity of a byte [`escape`] replaces.
fn entity(b: u8) -> &'static str {
    match b {
        b'&' => "&amp;",
        b'<' => "&lt;",
        b'>' => "&gt;",
        b'"' => "&quot;",
        _ => "&#39;",
    }
}

/// A column's anchor on its relation's page.
fn column_anchor(column: &str) -> String {
    format!("col-{}", escape(column))
}

/// The start of every page; `root` leads from the page to the site's folder.
fn head(title: &str, project: &str, root: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · {} docs</title>\n<link rel=\"stylesheet\" href=\"{root}assets/site.css\">\n\
         </head>\n<body>\n<header><a class=\"home\" href=\"{root}index.html\">{}</a> \
         <span class=\"muted\">docs, by shopc</span></header>\n<main>\n",
        escape(title),
        escape(project),
        escape(project)
    )
}

fn foot(root: &str, scripts: &[&str]) -> String {
    let mut out = String::from("</main>\n");
    for script in scripts {
        let _ = writeln!(out, "<script src=\"{root}assets/{script}\"></script>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The groups of the index, in order: each layer of the models (in the
/// order their models are built), then sources, snapshots, reconciliations.
fn index(manifest: &Manifest, project: &str) -> String {
    let mut by_group: BTreeMap<(u8, String), Vec<&Node>> = BTreeMap::new();
    for node in manifest.nodes.values() {
        let key = match node.kind {
            "source" => (0, "sources".to_string()),
            "model" => (1, node.layer.clone().unwrap_or_else(|| "models".into())),
            "snapshot" => (2, "snapshots".to_string()),
            "reconciliation" => (3, "reconciliations".to_string()),
            _ => continue,
        };
        by_group.entry(key).or_default().push(node);
    }
    let groups: Vec<(String, Vec<&Node>)> = by_group
        .into_iter()
        .map(|((_, name), nodes)| (name, nodes))
        .collect();
    let mut out = head("index", project, "");
    let _ = writeln!(out, "<h1>{}</h1>", escape(project));
    let relations = groups.iter().map(|(_, n)| n.len()).sum::<usize>();
    let _ = writeln!(
        out,
        "<p class=\"muted\">{relations} relations and reconciliations in {} groups.</p>",
        groups.len()
    );
    out.push_str(
        "<div class=\"search\"><label for=\"search\">Search</label> \
         <input id=\"search\" type=\"search\" autocomplete=\"off\" \
         placeholder=\"relations, columns, descriptions\">\
         <ol id=\"results\"></ol></div>\n",
    );
    out.push_str(
        "<p><a id=\"whole-lineage\" href=\"lineage.html\">Lineage graph of the whole project</a></p>\n",
    );
    out.push_str("<nav class=\"layers\">");
    for (name, nodes) in &groups {
        let _ = write!(
            out,
            "<a href=\"#group-{0}\">{0} <span class=\"muted\">{1}</span></a> ",
            escape(name),
            nodes.len()
        );
    }
    out.push_str("</nav>\n");
    for (name, nodes) in &groups {
        let _ = writeln!(
            out,
            "<section class=\"group\" id=\"group-{0}\">\n<h2>{0}</h2>\n<ul class=\"relations\">",
            escape(name)
        );
        for node in nodes {
            let _ = writeln!(
                out,
                "<li><a href=\"{}\">{}</a> <span class=\"kind\">{}</span> {}</li>",
                escape(&page_path(&node.unique_id)),
                escape(&node.name),
                escape(&kind_words(node)),
                node.description
                    .as_deref()
                    .map(|d| format!(
                        "<span class=\"muted\">{}</span>",
                        escape(d.lines().next().unwrap_or(""))
                    ))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str(&foot("", &["search-index.js", "site.js"]));
    out
}

/// The page of the lineage graph: the whole project, or around one
/// relation (`lineage.html?node=ID&depth=N`), laid out in the browser.
fn lineage_page(project: &str) -> String {
    let mut out = head("lineage", project, "");
    out.push_str(
        "<h1 id=\"lineage-title\">Lineage</h1>\n<p class=\"controls\"><label for=\"depth\">Depth</label> \
         <select id=\"depth\"><option value=\"1\">1</option><option value=\"2\">2</option>\
         <option value=\"3\">3</option><option value=\"all\" selected>all</option></select> \
         <span id=\"legend\"></span></p>\n<div id=\"graph\" class=\"graph\"></div>\n\
         <p class=\"muted\">Laid out by <a href=\"assets/dagre-LICENSE.txt\">dagre</a>.</p>\n",
    );
    out.push_str(&foot("", &["graph.js", "dagre.min.js", "lineage.js"]));
    out
}

/// Every relation and what it reads, as a script (loaded by the lineage
/// page only): `{layers, nodes: [{id, name, group, url}], edges: [[from, to]]}`.
fn graph(ir: &Ir, project: &str) -> String {
    let mut layers: Vec<String> = Vec::new();
    let group = |rel: &crate::ir::Relation| match &rel.kind {
        RelationKind::Table(_) => "sources".to_string(),
        RelationKind::Model(m) => m.layer.clone().unwrap_or_else(|| "models".into()),
        RelationKind::Snapshot(_) => "snapshots".to_string(),
        RelationKind::Series(_) => "series".to_string(),
    };
    let nodes: Vec<serde_json::Value> = ir
        .relations
        .iter()
        .filter(|rel| !matches!(rel.kind, RelationKind::Series(_)))
        .map(|rel| {
            let group = group(rel);
            if !layers.contains(&group) {
                layers.push(group.clone());
            }
            let id = crate::manifest::relation_id(project, rel);
            serde_json::json!({
                "id": id,
                "name": rel.name,
                "group": group,
                "url": page_path(&id),
            })
        })
        .collect();
    let edges: Vec<[usize; 2]> = ir
        .relations
        .iter()
        .flat_map(|rel| rel.deps.iter().map(|d| [d.index(), rel.id.index()]))
        .collect();
    // Sources first, then layers in the order their first model is built.
    let first = |layer: &str| {
        ir.order
            .iter()
            .position(|&r| group(ir.relation(r)) == layer)
            .unwrap_or(usize::MAX)
    };
    layers.sort_by_key(|l| (l != "sources", l == "snapshots", first(l)));
    format!(
        "window.SHOPC_GRAPH = {};\n",
        serde_json::json!({ "layers": layers, "nodes": nodes, "edges": edges })
    )
}

/// `incremental model`, `view`, `source table`.
fn kind_words(node: &Node) -> String {
    match (&node.materialized, node.kind) {
        (Some(m), _) => format!("{} model", m.kind),
        (None, "source") => "source table".into(),
        (None, kind) => kind.to_string(),
    }
}

/// What the search box searches: every relation and its columns, as a
/// script that sets a global (a page opened from `file://` may not fetch).
fn search_index(manifest: &Manifest) -> String {
    let entries: Vec<serde_json::Value> = manifest
        .nodes
        .values()
        .filter(|n| matches!(n.kind, "source" | "model" | "snapshot" | "reconciliation"))
        .map(|n| {
            serde_json::json!({
                "name": n.name,
                "kind": kind_words(n),
                "url": page_path(&n.unique_id),
                "description": n.description.as_deref().unwrap_or(""),
                "columns": n.columns.iter().map(|c| serde_json::json!([
                    c.name.as_str(),
                    c.description.as_deref().unwrap_or(""),
                ])).collect::<Vec<_>>(),
            })
        })
        .collect();
    format!(
        "window.SHOPC_SEARCH = {};\n",
        serde_json::Value::Array(entries)
    )
}

/// Column lineage over the whole project: for each column, the columns
/// it is computed from and those computed from it. A column is its index
/// in `columns`, which is sorted: sorting indices sorts the columns.
struct Lineage {
    columns: Vec<ColumnRef>,
    index: HashMap<ColumnRef, u32>,
    upstream: Vec<Vec<u32>>,
    downstream: Vec<Vec<u32>>,
}

impl Lineage {
    fn of(manifest: &Manifest) -> Lineage {
        let this = |node: &Node, column: &crate::manifest::ColumnNode| {
            ColumnRef::new(&node.unique_id, &column.name)
        };
        let mut columns: Vec<ColumnRef> = Vec::new();
        for node in manifest.nodes.values() {
            for column in node.columns.iter().filter(|c| !c.from.is_empty()) {
                columns.push(this(node, column));
                columns.extend(
                    column
                        .from
                        .iter()
                        .filter_map(|c| manifest.column(*c))
                        .map(ColumnRef::from),
                );
            }
        }
        columns.sort_unstable();
        columns.dedup();
        let index: HashMap<ColumnRef, u32> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as u32))
            .collect();
        let mut upstream = vec![Vec::new(); columns.len()];
        let mut downstream = vec![Vec::new(); columns.len()];
        for node in manifest.nodes.values() {
            for column in node.columns.iter().filter(|c| !c.from.is_empty()) {
                let to = index[&this(node, column)];
                for from in column.from.iter().filter_map(|c| manifest.column(*c)) {
                    let from = index[from];
                    upstream[to as usize].push(from);
                    downstream[from as usize].push(to);
                }
            }
        }
        for list in &mut downstream {
            list.sort_unstable();
            list.dedup();
        }
        Lineage {
            columns,
            index,
            upstream,
            downstream,
        }
    }

    /// The columns of these indices.
    fn named(&self, columns: impl IntoIterator<Item = u32>) -> impl Iterator<Item = &ColumnRef> {
        columns.into_iter().map(|i| &self.columns[i as usize])
    }

    /// Every column reachable from `start` through `edges`, sorted.
    fn reach(edges: &[Vec<u32>], start: Option<u32>) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<u32> = start.map(|s| edges[s as usize].clone()).unwrap_or_default();
        while let Some(at) = stack.pop() {
            if seen.insert(at) {
                stack.extend(&edges[at as usize]);
            }
        }
        seen
    }
}

/// The lineage of each column of a page, as the JSON `site.js` reads:
/// `{"nodes": [unique id…], "columns": [[name, [computed from], [read by],
/// [every upstream], [every downstream]]…]}`; each list is the index of a
/// node in `nodes` followed by the names of its columns, then the next
/// node's index…
#[derive(Default, serde::Serialize)]
struct ColumnLineage<'a> {
    nodes: Vec<&'a str>,
    #[serde(skip)]
    index: HashMap<&'a str, usize>,
    columns: Vec<(&'a str, [Vec<Named<'a>>; 4])>,
}

/// A node's index in [`ColumnLineage::nodes`], or a column's name.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Named<'a> {
    Node(usize),
    Column(&'a str),
}

impl<'a> ColumnLineage<'a> {
    /// Columns, each run of one node's after that node's index.
    fn list(&mut self, columns: impl Iterator<Item = &'a ColumnRef>) -> Vec<Named<'a>> {
        let mut out = Vec::new();
        let mut last: Option<&str> = None;
        for c in columns {
            let node: &'a str = c.node();
            if last != Some(node) {
                let next = self.nodes.len();
                let index = *self.index.entry(node).or_insert(next);
                if index == next {
                    self.nodes.push(node);
                }
                out.push(Named::Node(index));
                last = Some(node);
            }
            out.push(Named::Column(c.column()));
        }
        out
    }

    /// The JSON, safe inside a `<script>` element: no `<` in it, so no
    /// `</script>`.
    fn write(&self, out: &mut String) {
        let json = serde_json::to_string(self).unwrap_or_default();
        if json.contains('<') {
            out.push_str(&json.replace('<', "\\u003c"));
        } else {
            out.push_str(&json);
        }
    }
}

fn node_link(unique_id: &str, name: &str) -> String {
    format!(
        "<a href=\"{}.html\">{}</a>",
        escape(unique_id),
        escape(name)
    )
}

struct Pages<'a> {
    ir: &'a Ir,
    catalog: Option<&'a Catalog>,
    /// The relations that read each relation, in build order, by index.
    readers: &'a [Vec<RelId>],
    analysis: &'a crate::check::Analysis,
    db: &'a SourceDb,
    manifest: &'a Manifest,
    project: &'a str,
    lineage: &'a Lineage,
    emitters: &'a [(Dialect, Emitter<'a>)],
}

impl<'a> Pages<'a> {
    fn relation(&self, id: RelId, node: &Node) -> String {
        let ir = self.ir;
        let rel = ir.relation(id);
        let mut out = head(&node.name, self.project, "../");
        let _ = writeln!(
            out,
            "<h1>{} <span class=\"kind\">{}</span></h1>",
            escape(&node.name),
            escape(&kind_words(node))
        );
        if let Some(doc) = &node.description {
            let _ = writeln!(out, "<p class=\"description\">{}</p>", escape(doc));
        }
        out.push_str("<dl class=\"facts\">\n");
        let mut fact = |name: &str, value: String| {
            let _ = writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
        };
        if let Some(layer) = &node.layer {
            fact("Layer", escape(layer));
        }
        if let Some(m) = &node.materialized {
            let mut words = escape(m.kind);
            if let Some(strategy) = m.strategy {
                let _ = write!(words, ", strategy <code>{strategy}</code>");
            }
            if !m.unique_key.is_empty() {
                let _ = write!(
                    words,
                    ", unique key <code>[{}]</code>",
                    escape(&m.unique_key.join(", "))
                );
            }
            if let Some(since) = &m.since {
                let _ = write!(words, ", since <code>{}</code>", escape(since));
            }
            if let Some(seconds) = m.lookback_seconds {
                let _ = write!(words, ", lookback {}", lookback_words(seconds));
            }
            if let Some(change) = m.on_schema_change {
                let _ = write!(words, ", on schema change <code>{change}</code>");
            }
            fact("Materialization", words);
        }
        if let Some(p) = &node.physical {
            fact(
                "Physical name",
                format!("<code>{}.{}</code>", escape(&p.schema), escape(&p.name)),
            );
        }
        if let Some(catalog) = self.catalog
            && let Some(facts) = catalog.facts.get(&id)
        {
            let on = format!(
                " <span class=\"muted\">on {}</span>",
                escape(&catalog.target)
            );
            if let Some(rows) = facts.rows {
                fact(
                    "Rows",
                    format!("<span id=\"rows\">{}</span>{on}", thousands(rows)),
                );
            }
            if let Some(bytes) = facts.bytes {
                fact(
                    "Size",
                    format!("<span id=\"bytes\">{}</span>{on}", size_words(bytes)),
                );
            }
        }
        fact(
            "File",
            format!("<code>{}:{}</code>", escape(&node.file), node.line),
        );
        let grain = if node.grain.is_empty() {
            "none declared".to_string()
        } else {
            format!("<code>[{}]</code>", escape(&node.grain.join(", ")))
        };
        fact("Grain", format!("<span id=\"grain\">{grain}</span>"));
        out.push_str("</dl>\n");
        let _ = writeln!(
            out,
            "<p><a id=\"lineage-graph\" href=\"../lineage.html?node={}\">Lineage graph</a> \
             <span class=\"muted\">(its ancestors and descendants)</span></p>",
            escape(&node.unique_id)
        );
        let _ = writeln!(
            out,
            "<h2>Grain, and why</h2>\n<pre class=\"proof\">{}</pre>",
            escape(&crate::check::grain::explain(ir, &self.analysis.grains, id))
        );
        self.columns(&mut out, id, node);
        self.tests(&mut out, node);
        self.neighbours(&mut out, id);
        self.sql(&mut out, id);
        out.push_str("<h2>Source</h2>\n<pre class=\"shop\">");
        escape_text_into(&mut out, self.db.snippet(rel.span));
        out.push_str("</pre>\n");
        out.push_str(&foot("../", &["site.js"]));
        out
    }

    /// The columns table, then each column's lineage.
    fn columns(&self, out: &mut String, id: RelId, node: &Node) {
        if node.columns.is_empty() {
            return;
        }
        let tests = self.column_tests(id);
        out.push_str(
            "<h2>Columns</h2>\n<table id=\"columns\">\n<thead><tr><th>Column</th><th>Type</th>\
             <th>Null</th><th>Additivity</th><th>Description</th><th>Tests</th></tr></thead>\n<tbody>\n",
        );
        for c in &node.columns {
            let _ = writeln!(
                out,
                "<tr id=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                column_anchor(&c.name),
                escape(&c.name),
                escape(&c.ty.to_string()),
                if c.nullable { "nullable" } else { "not null" },
                c.additivity,
                escape(c.description.as_deref().unwrap_or("")),
                escape(
                    &tests
                        .get(c.name.as_str())
                        .cloned()
                        .unwrap_or_default()
                        .join(", ")
                )
            );
        }
        // Each column's lineage is data that `site.js` makes into links
        // (in a large project, most of a page): each relation named once,
        // not in every link.
        out.push_str(
            "</tbody>\n</table>\n<h2>Column lineage</h2>\n<div id=\"column-lineage\"></div>\n",
        );
        let lineage = self.lineage;
        let mut data = ColumnLineage::default();
        for c in &node.columns {
            let this = lineage
                .index
                .get(&ColumnRef::new(&node.unique_id, &c.name))
                .copied();
            let direct =
                |edges: &'a [Vec<u32>]| -> &'a [u32] { this.map_or(&[], |i| &edges[i as usize]) };
            let lists = [
                data.list(lineage.named(direct(&lineage.upstream).iter().copied())),
                data.list(lineage.named(direct(&lineage.downstream).iter().copied())),
                data.list(lineage.named(Lineage::reach(&lineage.upstream, this))),
                data.list(lineage.named(Lineage::reach(&lineage.downstream, this))),
            ];
            data.columns.push((&c.name, lists));
        }
        out.push_str("<script type=\"application/json\" id=\"column-lineage-data\">");
        data.write(out);
        out.push_str("</script>\n");
    }

    /// The tests on each column, by name: what the project declares and what
    /// the grain derives.
    fn column_tests(&self, id: RelId) -> HashMap<&str, Vec<String>> {
        let ir = self.ir;
        let mut out: HashMap<&str, Vec<String>> = HashMap::new();
        let name = |c: crate::ir::ColumnId| ir.column(c).name.as_str();
        match &ir.relation(id).kind {
            RelationKind::Model(m) => {
                for (c, _) in m.grain.iter().flatten() {
                    out.entry(name(*c)).or_default().push("grain".into());
                }
                for test in &m.tests {
                    match &test.kind {
                        TestKind::Unique(columns) => {
                            for c in columns {
                                out.entry(name(*c)).or_default().push("unique".into());
                            }
                        }
                        TestKind::NotNull(c) => {
                            out.entry(name(*c)).or_default().push("not_null".into())
                        }
                        TestKind::AcceptedValues { column, .. } => out
                            .entry(name(*column))
                            .or_default()
                            .push("accepted_values".into()),
                        TestKind::Relationships { column, to } => {
                            let to_rel = &ir.relation(ir.column(*to).relation).name;
                            out.entry(name(*column))
                                .or_default()
                                .push(format!("relationships → {to_rel}.{}", name(*to)));
                        }
                    }
                }
            }
            RelationKind::Table(t) => {
                for c in &t.expect_key {
                    out.entry(name(*c)).or_default().push("expect_key".into());
                }
            }
            RelationKind::Snapshot(s) => {
                for c in &s.unique_key {
                    out.entry(name(*c)).or_default().push("unique_key".into());
                }
            }
            RelationKind::Series(_) => {}
        }
        out
    }

    fn tests(&self, out: &mut String, node: &Node) {
        if node.tests.is_empty() {
            return;
        }
        out.push_str(
            "<h2>Tests</h2>\n<table id=\"tests\">\n<thead><tr><th>Test</th><th>Kind</th>\
             <th>Severity</th><th>Proven</th></tr></thead>\n<tbody>\n",
        );
        for id in &node.tests {
            let Some(test) = self.manifest.nodes.get(id) else {
                continue;
            };
            // A proven test is reported PROVEN, not run (`--verify-proofs`
            // runs it): say how.
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&test.name),
                escape(test_kind(&test.name, test.kind)),
                test.severity.unwrap_or("error"),
                test.proven.as_deref().map(escape).unwrap_or_default()
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    fn neighbours(&self, out: &mut String, id: RelId) {
        let ir = self.ir;
        let link = |r: RelId| {
            let rel = ir.relation(r);
            node_link(&crate::manifest::relation_id(self.project, rel), &rel.name)
        };
        let upstream: Vec<String> = ir.relation(id).deps.iter().map(|&d| link(d)).collect();
        let downstream: Vec<String> = self.readers[id.index()].iter().map(|&r| link(r)).collect();
        let list = |items: &[String]| {
            if items.is_empty() {
                "<p class=\"muted\">none</p>".to_string()
            } else {
                format!("<ul><li>{}</li></ul>", items.join("</li><li>"))
            }
        };
        let _ = writeln!(
            out,
            "<h2>Upstream</h2>\n<div id=\"upstream\">{}</div>\n<h2>Downstream</h2>\n<div id=\"downstream\">{}</div>",
            list(&upstream),
            list(&downstream)
        );
    }

    /// The compiled SQL in every dialect, one shown at a time.
    fn sql(&self, out: &mut String, id: RelId) {
        let statements = |emitter: &Emitter<'_>| -> Option<String> {
            match &self.ir.relation(id).kind {
                RelationKind::Table(_) | RelationKind::Series(_) => None,
                RelationKind::Model(_) => Some(emitter.select(id)),
                RelationKind::Snapshot(_) => {
                    Some(emitter.build_script(&emitter.build(id)).join(";\n\n"))
                }
            }
        };
        let written: Vec<(Dialect, String)> = self
            .emitters
            .iter()
            .filter_map(|(d, e)| Some((*d, statements(e)?)))
            .collect();
        if written.is_empty() {
            return;
        }
        out.push_str("<h2>Compiled SQL</h2>\n<div class=\"dialects\" role=\"tablist\">");
        for (i, (d, _)) in written.iter().enumerate() {
            let _ = write!(
                out,
                "<button type=\"button\" data-dialect=\"{}\"{}>{}</button>",
                d.name(),
                if i == 0 { " class=\"chosen\"" } else { "" },
                dialect_label(*d)
            );
        }
        out.push_str("</div>\n");
        for (i, (d, sql)) in written.iter().enumerate() {
            let _ = write!(
                out,
                "<pre class=\"sql\" data-dialect=\"{}\"{}>",
                d.name(),
                if i == 0 { "" } else { " hidden" },
            );
            escape_text_into(out, sql);
            out.push_str("</pre>\n");
        }
    }

    fn reconciliation(&self, node: &Node) -> String {
        let mut out = head(&node.name, self.project, "../");
        let _ = writeln!(
            out,
            "<h1>{} <span class=\"kind\">reconciliation</span></h1>",
            escape(&node.name)
        );
        let reconcile = self
            .ir
            .reconciles
            .iter()
            .find(|r| node.name.ends_with(&r.name));
        if let Some(doc) = reconcile.and_then(|r| r.doc.as_deref()) {
            let _ = writeln!(out, "<p class=\"description\">{}</p>", escape(doc));
        }
        out.push_str("<dl class=\"facts\">\n");
        if let Some(owner) = &node.attached_to
            && let Some(rel) = self.manifest.nodes.get(owner)
        {
            let _ = writeln!(
                out,
                "<dt>Tested with</dt><dd>{}</dd>",
                node_link(owner, &rel.name)
            );
        }
        let _ = writeln!(
            out,
            "<dt>Severity</dt><dd>{}</dd>\n<dt>File</dt><dd><code>{}:{}</code></dd>\n</dl>",
            node.severity.unwrap_or("error"),
            escape(&node.file),
            node.line
        );
        let reads: Vec<String> = node
            .depends_on
            .nodes
            .iter()
            .filter_map(|id| Some(node_link(id, &self.manifest.nodes.get(id)?.name)))
            .collect();
        let _ = writeln!(
            out,
            "<h2>Reads</h2>\n<ul><li>{}</li></ul>",
            reads.join("</li><li>")
        );
        if let Some(r) = reconcile {
            let _ = writeln!(
                out,
                "<h2>Source</h2>\n<pre class=\"shop\">{}</pre>",
                escape(self.db.snippet(r.span))
            );
        }
        out.push_str(&foot("../", &["site.js"]));
        out
    }
}

/// `not_null`, `grain_unique`, `accepted_values`…: the kind a test's name
/// starts with.
fn test_kind<'a>(name: &'a str, kind: &'a str) -> &'a str {
    const KINDS: &[&str] = &[
        "grain_unique",
        "grain_not_null",
        "expect_key_unique",
        "expect_key_not_null",
        "accepted_values",
        "relationships",
        "not_null",
        "unique",
    ];
    KINDS
        .iter()
        .find(|k| name.starts_with(&format!("{k}_")))
        .copied()
        .unwrap_or(kind)
}

fn dialect_label(d: Dialect) -> &'static str {
    match d {
        Dialect::DuckDb => "DuckDB",
        Dialect::Postgres => "PostgreSQL",
        Dialect::Snowflake => "Snowflake",
        Dialect::BigQuery => "BigQuery",
    }
}

/// `1,234,567`
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `512 B`, `48.0 kB`, `3.2 MB`: powers of 1,000, as warehouses bill.
fn size_words(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1_000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1_000.0;
    let mut unit = 0;
    while value >= 1_000.0 && unit + 1 < UNITS.len() {
        value /= 1_000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `3 days`, `6 hours`, `90 seconds`.
fn lookback_words(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s > 0 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s > 0 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s > 0 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn counts_and_sizes_in_words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(size_words(512), "512 B");
        assert_eq!(size_words(48_000), "48.0 kB");
        assert_eq!(size_words(3_200_000), "3.2 MB");
    }

    #[test]
    fn lookback_in_words() {
        assert_eq!(lookback_words(259_200), "3 days");
        assert_eq!(lookback_words(3_600), "1 hour");
        assert_eq!(lookback_words(90), "90 seconds");
    }
}
