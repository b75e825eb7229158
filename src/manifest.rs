//! `target/manifest.json`: every node of the project (source tables, seeds,
//! models, snapshots, tests, reconciliations) as the compiler understands
//! it, with fingerprints that say what changed between two compilations.
//!
//! A node's *meaning* fingerprint hashes the resolved, typed IR (names bound,
//! types known, vars already substituted, the meaning of the ephemeral models
//! it inlines folded in), never its text and never a physical name: moving a
//! model to another file, reformatting it or building it into another schema
//! leaves it unchanged. Its *config* fingerprint hashes how it is built
//! (materialization and its settings, layer, tags, layout); its *docs*
//! fingerprint its descriptions. The node list is deterministic: the same
//! project gives the same bytes. Pure: the caller writes the file.
//! The shape is documented by `docs/manifest.schema.json`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use serde::Serialize;

use crate::check::additivity::Additivity;
use crate::emit::{Dialect, Emitter, PhysicalName, physical_name};
use crate::ir::{
    ColumnId, ExprKind, Ir, Materialized, Query, RelId, RelationKind, SnapshotStrategy,
};
use crate::span::{SourceDb, Span};
use crate::syntax::ast::{JoinClaim, JoinKind, Keep};

mod feed;
mod json;
use feed::Feed;

/// The manifest's format; a reader refuses another. 2: a column reference
/// is one string, `node.column`. 3: fingerprints are xxh3-128 of the IR's
/// structure (no longer sha256 of its printed text). 4: the numbers that
/// structure is written with are as long as they need (LEB128), so every
/// fingerprint differs from version 3's.
pub const FORMAT_VERSION: u32 = 4;

#[derive(Debug, Clone)]
pub struct Manifest {
    pub metadata: Metadata,
    /// By unique id, sorted. Boxed: a node is large, and a map moves its
    /// values as it grows.
    pub nodes: BTreeMap<Arc<str>, Box<Node>>,
    /// Each column's reference, by its index in the IR: what a node's
    /// lists of columns (`from`, `depends_on.columns`) hold the index of.
    columns: References,
}

/// A manifest of a large project is some hundreds of thousands of small
/// allocations: they are freed on every core, not one after the other.
impl Drop for Manifest {
    fn drop(&mut self) {
        use rayon::prelude::*;
        let nodes: Vec<Box<Node>> = std::mem::take(&mut self.nodes).into_values().collect();
        crate::in_pool(|| nodes.into_par_iter().for_each(drop));
    }
}

/// The command that wrote a manifest, and when: the only part of the file
/// that differs between two compilations of the same project.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    pub id: String,
    pub command: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
}

impl Manifest {
    /// How the manifest names a column of the IR,
    /// `model.shopco.fact_orders.revenue` (none for a series' column,
    /// which is no node's).
    pub fn column(&self, id: ColumnId) -> Option<&str> {
        self.columns.get(id)
    }

    /// The file's text, compact (as dbt writes its own): `metadata`,
    /// `invocation`, then `nodes`.
    pub fn to_json(&self, invocation: &Invocation) -> String {
        let mut text = Vec::new();
        // Writing to a Vec does not fail, and serde_json writes UTF-8 only.
        let _ = self.write_json(invocation, &mut text);
        String::from_utf8(text).unwrap_or_default()
    }

    /// Writes the file's text to `out`, as [`Manifest::to_json`] gives it:
    /// runs of nodes are serialized in parallel, two a core at a time, and
    /// each written out as soon as those before it are, so that the text
    /// is never whole in memory (the buffers of one wave are filled again
    /// by the next: fresh memory costs the kernel's zeroing of its pages).
    pub fn write_json(
        &self,
        invocation: &Invocation,
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        use rayon::prelude::*;
        const RUN: usize = 128;
        let wave = 8 * RUN * crate::in_pool(rayon::current_num_threads);
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(b"{\"metadata\":");
        serde_json::to_writer(&mut head, &self.metadata)?;
        head.extend_from_slice(b",\"invocation\":");
        serde_json::to_writer(&mut head, invocation)?;
        head.extend_from_slice(b",\"nodes\":{");
        out.write_all(&head)?;
        let nodes: Vec<(&Arc<str>, &Box<Node>)> = self.nodes.iter().collect();
        // A buffer per run of a wave, kept from wave to wave.
        let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); wave / RUN];
        let mut first = true;
        for wave in nodes.chunks(wave) {
            let runs = wave.chunks(RUN).count();
            crate::in_pool(|| {
                buffers[..runs]
                    .par_iter_mut()
                    .zip(wave.par_chunks(RUN))
                    .for_each(|(text, run)| {
                        text.clear();
                        for (id, node) in run {
                            text.push(b',');
                            json::string(text, id);
                            text.push(b':');
                            node.write_json(&self.columns, text);
                        }
                    })
            });
            for run in &buffers[..runs] {
                // Each run starts with the comma before its first node.
                out.write_all(if first { &run[1..] } else { run })?;
                first = false;
            }
        }
        out.write_all(b"}}\n")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub format_version: u32,
    pub shopc_version: &'static str,
    pub project: String,
    /// The dialect of the target it was compiled for.
    pub dialect: &'static str,
    /// The environment whose schemas the physical names are in.
    pub environment: String,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: Arc<str>,
    /// `source`, `seed`, `model`, `snapshot`, `test` or `reconciliation`.
    pub kind: &'static str,
    pub name: String,
    pub layer: Option<String>,
    /// The file, relative to the project, and the line it starts on.
    pub file: Arc<str>,
    pub line: usize,
    pub description: Option<String>,
    /// Where it lives in the warehouse (none for ephemeral models and tests).
    pub physical: Option<Physical>,
    pub materialized: Option<Materialization>,
    pub tags: Vec<String>,
    /// The declared grain (a model), unique key (a snapshot) or expected key
    /// (a source table).
    pub grain: Vec<String>,
    pub columns: Vec<ColumnNode>,
    pub depends_on: DependsOn,
    /// The unique ids of its tests (a relation), or the relation a test is of.
    pub tests: Vec<Arc<str>>,
    pub attached_to: Option<Arc<str>>,
    /// A test's severity: `error` or `warn`.
    pub severity: Option<&'static str>,
    /// A test whose fact the checker proved: how (`group by o.order_id`).
    /// `build` and `test` report it `PROVEN` instead of running it.
    pub proven: Option<String>,
    pub fingerprints: Fingerprints,
}

impl Node {
    /// A node with nothing but its id, kind, name and place; the rest is
    /// filled in by kind.
    fn new(
        unique_id: Arc<str>,
        kind: &'static str,
        name: String,
        (file, line): (Arc<str>, usize),
    ) -> Node {
        Node {
            unique_id,
            kind,
            name,
            layer: None,
            file,
            line,
            description: None,
            physical: None,
            materialized: None,
            tags: Vec::new(),
            grain: Vec::new(),
            columns: Vec::new(),
            depends_on: DependsOn::default(),
            tests: Vec::new(),
            attached_to: None,
            severity: None,
            proven: None,
            fingerprints: Fingerprints {
                meaning: Digest([0; 16]),
                config: Digest([0; 16]),
                docs: Digest([0; 16]),
                rows: None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Physical {
    pub schema: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Materialization {
    /// `view`, `table`, `ephemeral` or `incremental`.
    pub kind: &'static str,
    pub strategy: Option<&'static str>,
    pub unique_key: Vec<String>,
    pub since: Option<String>,
    pub lookback_seconds: Option<u64>,
    pub on_schema_change: Option<&'static str>,
}

impl Materialization {
    /// Its part of a config fingerprint.
    fn feed(&self, config: &mut Feed) {
        config.text("materialized");
        config.text(self.kind);
        config.maybe_text(self.strategy);
        config.texts(self.unique_key.iter().map(String::as_str));
        config.maybe_text(self.since.as_deref());
        config.maybe_number(self.lookback_seconds);
        config.maybe_text(self.on_schema_change);
    }
}

#[derive(Debug, Clone)]
pub struct ColumnNode {
    pub name: String,
    pub ty: crate::ir::types::Type,
    pub nullable: bool,
    /// `additive`, `semi-additive` or `non-additive`.
    pub additivity: &'static str,
    pub description: Option<String>,
    /// The upstream columns it is computed from (see [`Manifest::column`]).
    pub from: Vec<ColumnId>,
    /// Its name, type and how it is computed: which columns of a changed
    /// model changed, for `state:impacted`.
    pub fingerprint: Digest<8>,
}

/// A column of a node, written `model.shopco.fact_orders.revenue`: its
/// node's unique id, a dot and its name (which has no dot). One string,
/// made once per column and shared by every reference to it. Ordered by
/// node, then name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnRef(Arc<str>);

impl ColumnRef {
    pub fn new(node: &str, column: &str) -> ColumnRef {
        let mut text = String::with_capacity(node.len() + 1 + column.len());
        text.push_str(node);
        text.push('.');
        text.push_str(column);
        ColumnRef(text.into())
    }

    /// The unique id of its node.
    pub fn node(&self) -> &str {
        self.0.rsplit_once('.').map_or("", |(node, _)| node)
    }

    /// The column's name.
    pub fn column(&self) -> &str {
        self.0
            .rsplit_once('.')
            .map_or(&*self.0, |(_, column)| column)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Looked up by its text (hashed and compared as its text is).
impl std::borrow::Borrow<str> for ColumnRef {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ColumnRef {
    /// A reference as the manifest writes it, `node.column`.
    fn from(text: &str) -> ColumnRef {
        ColumnRef(text.into())
    }
}

/// Every column's reference (`model.shopco.fact_orders.revenue`), by its
/// index in the IR, in one text: made in one pass and freed at once, and
/// those of a relation's columns side by side, as they are read.
#[derive(Debug, Clone, Default)]
struct References {
    text: String,
    /// Where each column's reference ends in `text`; it starts where the
    /// one before ended. A series' column has an empty one: it is no
    /// node's.
    ends: Vec<usize>,
}

impl References {
    fn new(ir: &Ir, ids: &[Arc<str>]) -> References {
        let mut text = String::with_capacity(ir.columns.len() * 32);
        let ends = ir
            .columns
            .iter()
            .map(|c| {
                if !matches!(ir.relation(c.relation).kind, RelationKind::Series(_)) {
                    text.push_str(&ids[c.relation.index()]);
                    text.push('.');
                    text.push_str(&c.name);
                }
                text.len()
            })
            .collect();
        References { text, ends }
    }

    fn get(&self, id: ColumnId) -> Option<&str> {
        let i = id.index();
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        (start < end).then(|| &self.text[start..end])
    }
}

impl Ord for ColumnRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.node(), self.column()).cmp(&(other.node(), other.column()))
    }
}

impl PartialOrd for ColumnRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Default)]
pub struct DependsOn {
    pub nodes: Vec<Arc<str>>,
    /// Every upstream column the node reads, anywhere in its query (see
    /// [`Manifest::column`]).
    pub columns: Vec<ColumnId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub meaning: Digest,
    pub config: Digest,
    pub docs: Digest,
    /// What decides which rows it has: what it reads and how it joins,
    /// filters, groups and dedupes, and its grain (a part of its meaning;
    /// not of tests and seeds).
    pub rows: Option<Digest>,
}

/// A fingerprint: the xxh3-128 of what it is taken of (or its first `N`
/// bytes, `N` at most 16), written as lowercase hex. Not a cryptographic
/// hash: it tells a change from none, which no one gains by forging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest<const N: usize = 16>(pub [u8; N]);

impl<const N: usize> Digest<N> {
    /// The digest of what `bytes` holds, cut to `N` bytes.
    pub fn of(bytes: impl AsRef<[u8]>) -> Self {
        let full = xxhash_rust::xxh3::xxh3_128(bytes.as_ref()).to_be_bytes();
        let mut out = [0; N];
        out.copy_from_slice(&full[..N]);
        Digest(out)
    }

    /// Reads `N` bytes of hex, as written.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 2 * N {
            return None;
        }
        let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
        let mut out = [0; N];
        for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
            *byte = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Digest(out))
    }
}

impl<const N: usize> Digest<N> {
    /// Its hex digits, written into `out` (of `2 * N` bytes).
    fn hex(&self, out: &mut [u8]) {
        // The two digits of each byte.
        const PAIRS: [[u8; 2]; 256] = {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut pairs = [[0; 2]; 256];
            let mut b = 0;
            while b < 256 {
                pairs[b] = [DIGITS[b >> 4], DIGITS[b & 0xf]];
                b += 1;
            }
            pairs
        };
        for (pair, b) in out.as_chunks_mut::<2>().0.iter_mut().zip(self.0) {
            *pair = PAIRS[usize::from(b)];
        }
    }
}

impl<const N: usize> std::fmt::Display for Digest<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut digits = [0; 32];
        self.hex(&mut digits[..2 * N]);
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&digits[..2 * N]).unwrap_or_default())
    }
}

/// The manifest of a compiled project. `root` is the project folder as
/// its files are named in `db`, so that paths are written relative to it;
/// `seeds` are the seed files found (the source table each fills, its
/// path and its bytes' digest).
pub fn build(
    ir: &Ir,
    analysis: &crate::check::Analysis,
    db: &SourceDb,
    project: &str,
    root: &str,
    dialect: Dialect,
    seeds: &[(RelId, String, Digest)],
) -> Manifest {
    use rayon::prelude::*;
    let ids: Vec<Arc<str>> = crate::in_pool(|| {
        ir.relations
            .par_iter()
            .map(|rel| relation_id(project, rel).into())
            .collect()
    });
    let refs = References::new(ir, &ids);
    let rank = ranks(ir, &ids);
    let mut builder = Builder {
        ir,
        db,
        project,
        ids,
        refs,
        rank,
        files: (0..db.len())
            .map(|i| relative(root, &db.get(crate::span::FileId(i as u32)).path).into())
            .collect(),
        lines: lines(ir, db),
        meaning: vec![None; ir.relations.len()],
        additivity: &analysis.additivities,
        nullability: &analysis.nullability,
    };
    // In waves, each relation's node built on its own, in parallel within
    // a wave (nothing it folds in is still to come): the ephemeral models
    // by depth (their readers fold their meaning in: those that read no
    // ephemeral first, then those that read only those…), then the sources
    // and the other models, then the snapshots (which fold in the meaning
    // of what they record). Kept by relation until all are sorted into the
    // map at once (inserting them one by one compares long ids again and
    // again).
    let ephemeral = |id: &RelId| {
        matches!(&ir.relation(*id).kind,
            RelationKind::Model(m) if m.materialized == Materialized::Ephemeral)
    };
    let snapshot = |id: &RelId| matches!(ir.relation(*id).kind, RelationKind::Snapshot(_));
    let mut depth = vec![0usize; ir.relations.len()];
    let mut waves: Vec<Vec<RelId>> = Vec::new();
    for &id in ir.order.iter().filter(|id| ephemeral(id)) {
        let d = ir
            .relation(id)
            .deps
            .iter()
            .filter(|dep| ephemeral(dep))
            .map(|dep| depth[dep.index()] + 1)
            .max()
            .unwrap_or(0);
        depth[id.index()] = d;
        if waves.len() <= d {
            waves.resize_with(d + 1, Vec::new);
        }
        waves[d].push(id);
    }
    let (snapshots, others) = ir
        .order
        .iter()
        .filter(|id| !ephemeral(id))
        .partition(|id| snapshot(id));
    waves.extend([others, snapshots]);
    let mut relations: Vec<Option<Box<Node>>> = vec![None; ir.relations.len()];
    for wave in waves {
        let built: Vec<(Node, Digest)> = {
            let builder = &builder;
            crate::in_pool(|| {
                wave.par_iter()
                    .map_init(Scratch::default, |scratch, &id| {
                        builder.relation(scratch, id)
                    })
                    .collect()
            })
        };
        for (&id, (node, meaning)) in wave.iter().zip(built) {
            builder.meaning[id.index()] = Some(meaning);
            relations[id.index()] = Some(Box::new(node));
        }
    }
    // A test's meaning is its DuckDB query reading each relation by its
    // logical name (`"model"."fact_orders"`): the same whatever the target.
    let logical = ir
        .relations
        .iter()
        .filter(|rel| physical_name(ir, rel.id).is_some())
        .map(|rel| {
            let name = PhysicalName {
                schema: relation_kind(rel).to_string(),
                name: rel.name.clone(),
            };
            (rel.id, name)
        })
        .collect();
    let emitter = Emitter::with_analysis(ir, Dialect::DuckDb, analysis).reading(logical);
    emitter.name_tests();
    let tests: Vec<Vec<Node>> = {
        let builder = &builder;
        crate::in_pool(|| {
            ir.order
                .par_iter()
                .map(|&id| builder.tests_of(&emitter, id))
                .collect()
        })
    };
    let mut nodes: Vec<Box<Node>> = Vec::with_capacity(relations.len() + tests.len());
    for (&id, tests) in ir.order.iter().zip(tests) {
        if let Some(node) = &mut relations[id.index()] {
            node.tests = tests.iter().map(|t| t.unique_id.clone()).collect();
        }
        nodes.extend(tests.into_iter().map(Box::new));
    }
    nodes.extend(relations.into_iter().flatten());
    for (table, path, digest) in seeds {
        let rel = ir.relation(*table);
        let name = match &rel.kind {
            RelationKind::Table(t) => t.identifier.clone(),
            _ => rel.name.clone(),
        };
        let id: Arc<str> = format!("seed.{project}.{name}").into();
        let fills = builder.id(*table);
        let mut node = Node::new(id.clone(), "seed", name, (relative(root, path).into(), 1));
        node.attached_to = Some(fills);
        node.fingerprints = Fingerprints {
            meaning: *digest,
            config: Digest::of(""),
            docs: Digest::of(""),
            rows: None,
        };
        nodes.push(Box::new(node));
    }
    crate::in_pool(|| nodes.par_sort_unstable_by(|a, b| a.unique_id.cmp(&b.unique_id)));
    // Sorted: the map is built from them in one pass.
    let nodes = nodes
        .into_iter()
        .map(|n| (n.unique_id.clone(), n))
        .collect();
    Manifest {
        metadata: Metadata {
            format_version: FORMAT_VERSION,
            shopc_version: env!("CARGO_PKG_VERSION"),
            project: project.to_string(),
            dialect: dialect.name(),
            environment: ir.environment.name.clone(),
        },
        nodes,
        columns: builder.refs,
    }
}

/// The line each relation starts on, by index: looked up in the order of
/// the files and offsets, so that each search reads what the last one read
/// (one by one, as nodes are built, each is a cache miss).
fn lines(ir: &Ir, db: &SourceDb) -> Vec<usize> {
    let mut starts: Vec<(u32, u32, usize)> = ir
        .relations
        .iter()
        .map(|r| (r.span.file.0, r.span.start, r.id.index()))
        .collect();
    starts.sort_unstable();
    let mut lines = vec![0; ir.relations.len()];
    for (file, start, i) in starts {
        lines[i] = db.get(crate::span::FileId(file)).line_index(start as usize) + 1;
    }
    lines
}

/// Each column's place in the order of [`ColumnRef`]s, by column index:
/// its relation's place among the unique ids, then its own among the names
/// of its relation's columns. A column of no relation's is last.
fn ranks(ir: &Ir, ids: &[Arc<str>]) -> Vec<u32> {
    use rayon::prelude::*;
    let mut relations: Vec<RelId> = ir.relations.iter().map(|r| r.id).collect();
    let by_relation: Vec<Vec<ColumnId>> = crate::in_pool(|| {
        relations.par_sort_unstable_by(|a, b| ids[a.index()].cmp(&ids[b.index()]));
        relations
            .par_iter()
            .map(|&r| {
                let mut columns: Vec<ColumnId> = ir.relation(r).columns.values().copied().collect();
                columns.sort_unstable_by(|a, b| ir.column(*a).name.cmp(&ir.column(*b).name));
                columns
            })
            .collect()
    });
    let mut rank = vec![u32::MAX; ir.columns.len()];
    for (next, c) in by_relation.iter().flatten().enumerate() {
        rank[c.index()] = next as u32;
    }
    rank
}

/// A relation's unique id: `model.shopco.fact_orders`,
/// `source.shopco.raw.raw_orders`, `snapshot.shopco.customers_snapshot`.
pub fn relation_id(project: &str, rel: &crate::ir::Relation) -> String {
    format!("{}.{project}.{}", relation_kind(rel), rel.name)
}

/// A relation's kind of node: `source`, `model` or `snapshot`.
pub fn relation_kind(rel: &crate::ir::Relation) -> &'static str {
    match rel.kind {
        RelationKind::Table(_) => "source",
        RelationKind::Model(_) => "model",
        RelationKind::Snapshot(_) => "snapshot",
        RelationKind::Series(_) => "series",
    }
}

/// The hex digest of a text (or of bytes), 32 digits.
pub fn hash(text: impl AsRef<[u8]>) -> String {
    Digest::<16>::of(text).to_string()
}

fn relative(root: &str, path: &str) -> String {
    let trimmed = path
        .strip_prefix(root)
        .map(|p| p.trim_start_matches(['/', '\\']))
        .unwrap_or(path);
    trimmed.trim_start_matches("./").replace('\\', "/")
}

/// What building a relation's node writes and then forgets, kept from
/// one to the next on each thread.
#[derive(Default)]
struct Scratch {
    meaning: Feed,
    config: Feed,
    docs: Feed,
    /// The columns a query reads.
    read: Vec<ColumnId>,
}

struct Builder<'a> {
    ir: &'a Ir,
    db: &'a SourceDb,
    project: &'a str,

    /// Each relation's unique id, by index.
    ids: Vec<std::sync::Arc<str>>,
    /// Each file's path relative to the project, by index.
    files: Vec<Arc<str>>,
    /// The line each relation starts on, by index.
    lines: Vec<usize>,
    /// Each column's reference, by index (a series' column is no node's:
    /// it has none).
    refs: References,
    /// Each column's place among all references, by index: sorting
    /// columns by it sorts their references.
    rank: Vec<u32>,
    /// Meaning fingerprints so far, by relation: an ephemeral's, for its
    /// readers.
    meaning: Vec<Option<Digest>>,
    additivity: &'a crate::check::additivity::Additivities,
    nullability: &'a crate::check::nullability::Nullability,
}

impl Builder<'_> {
    /// `model.shopco.fact_orders`, `source.shopco.raw.raw_orders`.
    fn id(&self, id: RelId) -> Arc<str> {
        self.ids[id.index()].clone()
    }

    fn location(&self, span: Span) -> (Arc<str>, usize) {
        let file = self.db.get(span.file);
        (
            self.files[span.file.0 as usize].clone(),
            file.line_index(span.start as usize) + 1,
        )
    }

    /// Where a relation is declared: its file and line.
    fn place(&self, id: RelId) -> (Arc<str>, usize) {
        let file = self.ir.relation(id).span.file;
        (self.files[file.0 as usize].clone(), self.lines[id.index()])
    }

    /// A relation's node, and its meaning fingerprint.
    fn relation(&self, scratch: &mut Scratch, id: RelId) -> (Node, Digest) {
        let ir = self.ir;
        let rel = ir.relation(id);
        let (file, line) = self.place(id);
        let Scratch {
            meaning,
            config,
            docs,
            read,
        } = scratch;
        meaning.clear();
        config.clear();
        docs.clear();
        meaning.text(rel.kind_word());
        meaning.text(&rel.name);
        // The part of the meaning that decides the rows.
        let mut rows = 0..0;
        docs.text(rel.doc.as_deref().unwrap_or_default());
        let mut node = Node::new(
            self.id(id),
            relation_kind(rel),
            rel.name.clone(),
            (file, line),
        );
        node.description = rel.doc.clone();
        node.physical = physical_name(ir, id).map(|p| Physical {
            schema: p.schema,
            name: p.name,
        });
        node.depends_on.nodes = rel.deps.iter().map(|d| self.id(*d)).collect();
        let name = |c: &ColumnId| ir.column(*c).name.as_str();
        let names =
            |ids: &[ColumnId]| -> Vec<String> { ids.iter().map(|c| name(c).to_string()).collect() };
        match &rel.kind {
            RelationKind::Table(t) => {
                node.grain = names(&t.expect_key);
                config.text("loaded_at");
                config.maybe_text(t.loaded_at.as_ref().map(name));
                config.text("freshness");
                config.flag(t.freshness.is_some());
                if let Some(f) = t.freshness {
                    config.maybe_number(f.warn_after);
                    config.maybe_number(f.error_after);
                }
            }
            RelationKind::Model(m) => {
                node.layer = m.layer.clone();
                node.tags = m.tags.clone();
                node.tags.sort();
                node.grain = m
                    .grain
                    .iter()
                    .flatten()
                    .map(|(c, _)| name(c).to_string())
                    .collect();
                node.materialized = Some(materialization(&m.materialized));
                rows.start = meaning.len();
                meaning.text("grain");
                meaning.texts(node.grain.iter().map(String::as_str));
                self.clauses(meaning, &m.query);
                if let Some(union) = &m.union {
                    meaning.text("union");
                    meaning.flag(union.distinct);
                    meaning.texts(union.names(ir).into_iter());
                }
                rows.end = meaning.len();
                meaning.text("non_additive");
                meaning.texts(m.non_additive.iter().map(name));
                for (measure, dimension) in &m.semi_additive {
                    meaning.text("semi_additive");
                    meaning.text(name(measure));
                    meaning.text(name(dimension));
                }
                self.inputs(meaning, read, &m.query);
                for (i, branch) in m.union.iter().flat_map(|u| &u.branches).enumerate() {
                    if let RelationKind::Model(b) = &ir.relation(branch.relation).kind
                        && b.materialized == Materialized::Ephemeral
                        && let Some(inlined) = self.meaning[branch.relation.index()].as_ref()
                    {
                        meaning.text("branch inlining");
                        meaning.number(i as u64);
                        meaning.digest_in(inlined);
                    }
                }
                if let Some(materialized) = &node.materialized {
                    materialized.feed(config);
                }
                config.text("layer");
                config.maybe_text(node.layer.as_deref());
                config.text("tags");
                config.texts(node.tags.iter().map(String::as_str));
                config.text("cluster_by");
                config.texts(m.cluster_by.iter().map(name));
                config.flag(m.partition_by.is_some());
                if let Some(p) = &m.partition_by {
                    config.text(name(&p.column));
                    config.text(p.granularity);
                }
            }
            RelationKind::Snapshot(s) => {
                node.grain = names(&s.unique_key);
                rows.start = meaning.len();
                meaning.text("from");
                meaning.text(&ir.relation(s.from).name);
                meaning.text("unique_key");
                meaning.texts(node.grain.iter().map(String::as_str));
                match &s.strategy {
                    SnapshotStrategy::Check(columns) => {
                        meaning.text("check");
                        meaning.texts(columns.iter().map(name));
                    }
                    SnapshotStrategy::CheckAll => meaning.text("check all"),
                    SnapshotStrategy::Timestamp(c) => {
                        meaning.text("timestamp");
                        meaning.text(name(c));
                    }
                }
                meaning.text(match s.hard_deletes {
                    crate::ir::HardDeletes::Ignore => "ignore",
                    crate::ir::HardDeletes::Invalidate => "invalidate",
                    crate::ir::HardDeletes::NewRecord => "new_record",
                });
                rows.end = meaning.len();
                if let Some(m) = self.meaning[s.from.index()].as_ref() {
                    meaning.text("reads");
                    meaning.digest_in(m);
                }
            }
            RelationKind::Series(_) => {}
        }
        let query = match &rel.kind {
            RelationKind::Model(m) => Some(&m.query),
            _ => None,
        };
        let from_relation = match &rel.kind {
            RelationKind::Snapshot(s) => Some(s.from),
            _ => None,
        };
        let union = match &rel.kind {
            RelationKind::Model(m) => m.union.as_ref(),
            _ => None,
        };
        // Every upstream column a model reads, anywhere in its query: those
        // its clauses read (found by `inputs`), and those its columns are
        // computed from.
        let mut reads = query.map(|_| std::mem::take(read));
        node.columns.reserve(rel.columns.len());
        for &c in rel.columns.values() {
            let column = ir.column(c);
            let start = meaning.len();
            meaning.text("column");
            meaning.text(&column.name);
            meaning.ty(column.ty);
            meaning.text(match column.role {
                crate::ir::Role::Source => "source",
                crate::ir::Role::Column => "column",
                crate::ir::Role::Dimension => "dimension",
                crate::ir::Role::Measure => "measure",
                crate::ir::Role::Meta => "meta",
            });
            match (&column.expr, query) {
                (Some(expr), Some(q)) => meaning.maybe_expr(ir, q, Some(expr)),
                _ => meaning.flag(false),
            }
            let fingerprint = meaning.digest_of(start..meaning.len());
            docs.text(&column.name);
            docs.text(column.doc.as_deref().unwrap_or_default());
            let mut from = Vec::new();
            if let Some(expr) = &column.expr {
                expr.walk(&mut |e| {
                    if let ExprKind::Column { column, .. } = &e.kind {
                        from.push(*column);
                    }
                });
            } else if let Some(source) = from_relation
                && let Some(&upstream) = ir.relation(source).columns.get(&column.name)
            {
                from.push(upstream);
            } else if let Some(union) = union {
                from.extend(union.inputs(ir, &column.name));
            }
            if let Some(reads) = &mut reads {
                reads.extend_from_slice(&from);
                if column.expr.is_some()
                    && let Some(union) = union
                {
                    reads.extend(union.inputs(ir, &column.name));
                }
            }
            let from = self.column_refs(from);
            node.columns.push(ColumnNode {
                name: column.name.clone(),
                ty: column.ty,
                nullable: !self.nullability.never_null(c),
                additivity: match self.additivity.of(c) {
                    Additivity::Additive => "additive",
                    Additivity::Semi { .. } => "semi-additive",
                    Additivity::NonAdditive { .. } => "non-additive",
                },
                description: column.doc.clone(),
                from,
                fingerprint,
            });
        }
        if let Some(reads) = reads {
            node.depends_on.columns = self.column_refs(reads);
        }
        let meaning_digest = meaning.digest();
        node.fingerprints = Fingerprints {
            meaning: meaning_digest,
            config: config.digest(),
            docs: docs.digest(),
            rows: Some(meaning.digest_of(rows)),
        };
        (node, meaning_digest)
    }

    /// The clauses of a query, which decide its rows: what it scans, how
    /// it joins, filters, groups and dedupes.
    fn clauses(&self, out: &mut Feed, q: &Query) {
        let ir = self.ir;
        for (i, scan) in q.scans.iter().enumerate() {
            out.text("scan");
            out.number(i as u64);
            out.text(&ir.relation(scan.relation).name);
            out.text(&scan.alias);
        }
        for join in &q.joins {
            out.text("join");
            out.text(match join.kind {
                JoinKind::Inner => "inner",
                JoinKind::Left => "left",
                JoinKind::Full => "full",
            });
            out.maybe_text(join.claim.map(|(claim, _)| match claim {
                JoinClaim::One => "one",
                JoinClaim::Many => "many",
            }));
            out.number(join.scan as u64);
            out.expr(ir, q, &join.on);
        }
        if let Some(e) = &q.filter {
            out.text("where");
            out.expr(ir, q, e);
        }
        for key in &q.group_by {
            out.text("group by");
            out.expr(ir, q, key);
        }
        if let Some(e) = &q.having {
            out.text("having");
            out.expr(ir, q, e);
        }
        if let Some(d) = &q.dedupe {
            out.text("dedupe");
            out.number(d.keys.len() as u64);
            for key in &d.keys {
                out.expr(ir, q, key);
            }
            out.text(match d.keep {
                Keep::Latest => "latest",
                Keep::Earliest => "earliest",
            });
            out.expr(ir, q, &d.order_by);
        }
    }

    /// What a query reads: the meaning of each ephemeral model it inlines,
    /// and the types of the columns it reads (a source column's new type
    /// changes the meaning of the models that read it).
    fn inputs(&self, out: &mut Feed, ids: &mut Vec<ColumnId>, q: &Query) {
        let ir = self.ir;
        for (i, scan) in q.scans.iter().enumerate() {
            if let RelationKind::Model(m) = &ir.relation(scan.relation).kind
                && m.materialized == Materialized::Ephemeral
                && let Some(inlined) = self.meaning[scan.relation.index()].as_ref()
            {
                out.text("scan inlining");
                out.number(i as u64);
                out.digest_in(inlined);
            }
        }
        ids.clear();
        q.walk_clauses(&mut |e| {
            if let ExprKind::Column { column, .. } = &e.kind {
                ids.push(*column);
            }
        });
        ids.sort_unstable();
        ids.dedup();
        let mut read: Vec<(&str, &str, crate::ir::types::Type)> = ids
            .iter()
            .map(|&id| {
                let c = ir.column(id);
                (ir.relation(c.relation).name.as_str(), c.name.as_str(), c.ty)
            })
            .collect();
        read.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (relation, column, ty) in read {
            out.text("reads");
            out.text(relation);
            out.text(column);
            out.ty(ty);
        }
    }

    /// Columns each once, sorted as the manifest names them. A series'
    /// column is no node's: it is left out.
    fn column_refs(&self, mut columns: Vec<ColumnId>) -> Vec<ColumnId> {
        columns.retain(|c| self.refs.get(*c).is_some());
        columns.sort_unstable_by_key(|c| (self.rank[c.index()], *c));
        columns.dedup();
        columns
    }

    /// A node per test and reconciliation of a relation. Its meaning is
    /// its query as `emitter` writes it, which reads every relation by its
    /// logical name: the same whatever the target or schemas.
    fn tests_of(&self, emitter: &Emitter<'_>, id: RelId) -> Vec<Node> {
        let ir = self.ir;
        let owner = self.id(id);
        let tests = emitter.tests(id).into_iter().map(|t| ("test", t));
        let reconciliations = emitter
            .reconciliations(id)
            .into_iter()
            .map(|t| ("reconciliation", t));
        let mut out = Vec::new();
        for (kind, test) in tests.chain(reconciliations) {
            let severity = match test.severity {
                crate::ir::TestSeverity::Error => "error",
                crate::ir::TestSeverity::Warn => "warn",
            };
            let unique_id: Arc<str> = format!("{kind}.{}.{}", self.project, test.name).into();
            let mut nodes = vec![owner.clone()];
            nodes.extend(test.reads.iter().map(|r| self.id(*r)));
            nodes.dedup();
            let reconciles = match kind {
                "reconciliation" => ir.reconciles.iter().find(|r| test.name.ends_with(&r.name)),
                _ => None,
            };
            let (file, line) = match reconciles {
                Some(r) => self.location(r.span),
                None => self.place(id),
            };
            out.push(Node {
                depends_on: DependsOn {
                    nodes,
                    columns: Vec::new(),
                },
                attached_to: Some(owner.clone()),
                severity: Some(severity),
                proven: test.proven.clone(),
                fingerprints: Fingerprints {
                    meaning: Digest::of(format!(
                        "{kind} {} {}\n{}",
                        test.name, test.derived, test.sql
                    )),
                    config: Digest::of(severity),
                    docs: Digest::of(""),
                    rows: None,
                },
                ..Node::new(unique_id, kind, test.name.clone(), (file, line))
            });
        }
        out
    }
}

fn materialization(m: &Materialized) -> Materialization {
    let plain = |kind| Materialization {
        kind,
        strategy: None,
        unique_key: Vec::new(),
        since: None,
        lookback_seconds: None,
        on_schema_change: None,
    };
    match m {
        Materialized::View => plain("view"),
        Materialized::Table => plain("table"),
        Materialized::Ephemeral => plain("ephemeral"),
        Materialized::Incremental(inc) => Materialization {
            kind: "incremental",
            strategy: Some(match inc.strategy {
                crate::ir::IncrementalStrategy::Merge => "merge",
                crate::ir::IncrementalStrategy::Append => "append",
            }),
            unique_key: inc.unique_key.clone(),
            since: inc.since.clone(),
            lookback_seconds: inc.lookback,
            on_schema_change: Some(match inc.on_schema_change {
                crate::ir::OnSchemaChange::Fail => "fail",
                crate::ir::OnSchemaChange::AppendNewColumns => "append_new_columns",
                crate::ir::OnSchemaChange::SyncAllColumns => "sync_all_columns",
            }),
        },
    }
}

/// Another run's manifest (`--state DIR`), as far as comparing needs it.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    nodes: std::collections::HashMap<String, PreviousNode>,
    /// The environment that run built in (`prod`).
    pub environment: String,
}

#[derive(Debug, Clone)]
struct PreviousNode {
    meaning: Digest,
    config: Digest,
    docs: Digest,
    /// Each column's name and type, in order.
    columns: Vec<(String, String)>,
    /// Each column's fingerprint, by name (`None`: a manifest without).
    column_prints: std::collections::HashMap<String, Option<Digest<8>>>,
    rows: Option<Digest>,
    physical: Option<Physical>,
}

impl Previous {
    /// Where that run built a node (`--defer` reads it there).
    pub fn physical(&self, unique_id: &str) -> Option<&Physical> {
        self.nodes.get(unique_id)?.physical.as_ref()
    }
}

/// Reads another run's manifest: it must be of this format version and of
/// `project`. The error says what is wrong, not where (the caller knows
/// the file).
pub fn read_previous(text: &str, project: &str) -> Result<Previous, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("is not a manifest: {e}"))?;
    let version = value["metadata"]["format_version"].as_u64();
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(format!(
            "is a manifest of format version {}, and this shopc reads version {FORMAT_VERSION}: \
             write it again with this shopc",
            version.map_or("(none)".to_string(), |v| v.to_string())
        ));
    }
    let theirs = value["metadata"]["project"].as_str().unwrap_or_default();
    if theirs != project {
        return Err(format!(
            "is the manifest of project `{theirs}`, not `{project}`"
        ));
    }
    let nodes = value["nodes"]
        .as_object()
        .ok_or("has no `nodes`")?
        .iter()
        .map(|(id, node)| {
            let print = |k: &str| {
                node["fingerprints"][k]
                    .as_str()
                    .and_then(Digest::parse)
                    .ok_or_else(|| format!("node `{id}` has no `{k}` fingerprint"))
            };
            let listed = node["columns"].as_array().into_iter().flatten();
            let columns = listed
                .clone()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        c["type"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let column_prints = listed
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        c["fingerprint"].as_str().and_then(Digest::parse),
                    )
                })
                .collect();
            Ok((
                id.clone(),
                PreviousNode {
                    meaning: print("meaning")?,
                    config: print("config")?,
                    docs: print("docs")?,
                    columns,
                    column_prints,
                    rows: node["fingerprints"]["rows"]
                        .as_str()
                        .and_then(Digest::parse),
                    physical: match (
                        node["physical"]["schema"].as_str(),
                        node["physical"]["name"].as_str(),
                    ) {
                        (Some(schema), Some(name)) => Some(Physical {
                            schema: schema.to_string(),
                            name: name.to_string(),
                        }),
                        _ => None,
                    },
                },
            ))
        })
        .collect::<Result<_, String>>()?;
    let environment = value["metadata"]["environment"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok(Previous { nodes, environment })
}

/// How each node of `current` differs from the same node in `previous`.
pub fn changes(current: &Manifest, previous: &Previous) -> BTreeMap<Arc<str>, crate::plan::Change> {
    let mut ty = String::new();
    current
        .nodes
        .values()
        .map(|node| {
            let change = match previous.nodes.get(&*node.unique_id) {
                None => crate::plan::Change {
                    new: true,
                    ..Default::default()
                },
                Some(before) => {
                    let same_columns = node.columns.len() == before.columns.len()
                        && node
                            .columns
                            .iter()
                            .zip(&before.columns)
                            .all(|(c, (name, was))| {
                                ty.clear();
                                let _ = write!(ty, "{}", c.ty);
                                c.name == *name && ty == *was
                            });
                    let f = &node.fingerprints;
                    crate::plan::Change {
                        new: false,
                        body: f.meaning != before.meaning,
                        config: f.config != before.config,
                        columns: !same_columns,
                        docs: f.docs != before.docs,
                    }
                }
            };
            (node.unique_id.clone(), change)
        })
        .collect()
}

/// For each relation whose meaning or columns changed since `previous`
/// (or that is new): whether its rows may have changed, and which of its
/// columns changed, appeared or went (for `state:impacted`). A manifest
/// without row or column fingerprints says every row changed.
pub fn diffs(current: &Manifest, previous: &Previous) -> BTreeMap<Arc<str>, crate::plan::Diff> {
    let mut out = BTreeMap::new();
    for node in current.nodes.values() {
        if node.fingerprints.rows.is_none() {
            continue;
        }
        let diff = match previous.nodes.get(&*node.unique_id) {
            None => crate::plan::Diff {
                rows: true,
                columns: node.columns.iter().map(|c| c.name.to_string()).collect(),
            },
            Some(before) => {
                let mut columns: Vec<String> = node
                    .columns
                    .iter()
                    .filter(|c| {
                        before.column_prints.get(&c.name).copied().flatten() != Some(c.fingerprint)
                    })
                    .map(|c| c.name.to_string())
                    .collect();
                columns.extend(
                    before
                        .column_prints
                        .keys()
                        .filter(|name| !node.columns.iter().any(|c| c.name == **name))
                        .cloned(),
                );
                columns.sort();
                let rows = before.rows != node.fingerprints.rows;
                if !rows && columns.is_empty() {
                    continue;
                }
                crate::plan::Diff { rows, columns }
            }
        };
        out.insert(node.unique_id.clone(), diff);
    }
    out
}
