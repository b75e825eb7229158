//! `shopc lsp`: the checker inside the editor, over the Language Server
//! Protocol on standard input and output (`lsp-server`, `lsp-types`).
//!
//! The server holds the project's `.shop` texts (the disk's, and over them
//! the editor's for open files), compiles the whole project after every
//! change and publishes each file's diagnostics, the same `Diagnostic`s the
//! command line renders. Hover, definitions, references and symbols come
//! from [`crate::ide`] over the last compilation; formatting is
//! [`crate::syntax::format`]. A request the server cannot answer gets an
//! error response, never a panic: each message is handled under
//! `catch_unwind`, and a position outside a file answers nothing.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;

use crate::config::ProjectConfig;
use crate::diagnostic::Severity;
use crate::ide::{self, Index, SymbolKind};
use crate::problem::Problem;
use crate::span::{FileId, SourceDb, Span};

/// Serves one client on standard input and output until it says `exit` or
/// closes the stream. Errors are the transport's.
pub fn serve() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let result = serve_on(&connection);
    drop(connection);
    // The writer thread ends when the connection is dropped; the reader's
    // end is that of standard input.
    io_threads.join().map_err(|e| e.to_string())?;
    result
}

/// The server on any connection (tests use an in-memory one).
pub fn serve_on(connection: &Connection) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let params = connection
        .initialize(capabilities)
        .map_err(|e| e.to_string())?;
    let params: lsp::InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let mut server = Server::new(connection, root_of(&params));
    server.reload();
    server.publish(&[]);
    // (A message read while coalescing edits is handled next.)
    while let Some(message) = server
        .next
        .take()
        .or_else(|| connection.receiver.recv().ok())
    {
        match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|e| e.to_string())?
                {
                    return Ok(());
                }
                let id = request.id.clone();
                let method = request.method.clone();
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.request(request)
                }));
                let response = match answer {
                    Ok(Ok(value)) => Response::new_ok(id, value),
                    Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
                    Err(_) => Response::new_err(
                        id,
                        ErrorCode::InternalError as i32,
                        format!("shopc could not answer {method}"),
                    ),
                };
                server.send(Message::Response(response));
            }
            Message::Notification(notification) => {
                if notification.method == lsp::notification::Exit::METHOD {
                    return Ok(());
                }
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.notification(notification)
                }));
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// A notification that changes a file's text.
fn is_edit(method: &str) -> bool {
    use lsp::notification::{DidChangeTextDocument, DidOpenTextDocument, Notification as _};
    method == DidChangeTextDocument::METHOD || method == DidOpenTextDocument::METHOD
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::FULL),
                save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The project folder: the first folder from the client's root up that
/// holds a `shop.toml`, else the client's root itself.
fn root_of(params: &lsp::InitializeParams) -> PathBuf {
    #[allow(deprecated)]
    let uri = params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .map(|folder| folder.uri.clone())
        .or_else(|| params.root_uri.clone());
    let start = uri
        .and_then(|uri| path_of(&uri))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    start
        .ancestors()
        .find(|dir| dir.join(crate::project::PROJECT_FILE).is_file())
        .map_or(start.clone(), Path::to_path_buf)
}

fn path_of(uri: &lsp::Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

fn uri_of(path: &Path) -> Option<lsp::Uri> {
    let url = url::Url::from_file_path(path).ok()?;
    url.as_str().parse().ok()
}

/// The last compilation, and what answers requests about it.
struct Compiled {
    db: SourceDb,
    files: BTreeMap<PathBuf, FileId>,
    compilation: crate::Compilation,
    /// Made by the first request that needs it, not by every edit (on the
    /// 10,000-model project it is 35 ms of walking every expression).
    index: std::sync::OnceLock<Index>,
}

impl Compiled {
    fn index(&self) -> &Index {
        self.index
            .get_or_init(|| Index::new(&self.compilation.ir, |file| self.db.text(file)))
    }
}

struct Server<'c> {
    connection: &'c Connection,
    root: PathBuf,
    config: ProjectConfig,
    /// The `.shop` files' texts: the disk's, or the editor's when open.
    texts: BTreeMap<PathBuf, String>,
    open: HashSet<PathBuf>,
    /// Problems of reading the project (`shop.toml`, files not UTF-8…),
    /// with the texts they point into.
    load_db: SourceDb,
    load_problems: Vec<Problem>,
    /// What was published last for each file: only what changes is sent
    /// again (and a file's empty list, to clear it).
    published: HashMap<PathBuf, Vec<lsp::Diagnostic>>,
    compiled: Option<Compiled>,
    /// The files as last parsed: a change parses only its file again.
    parses: crate::ParseCache,
    /// Where each diagnostic code's documentation is written for the
    /// diagnostics' links (`target/explain/CODE.md`): `None` outside a
    /// project, or when it cannot be written.
    explain: Option<PathBuf>,
    /// A message read while coalescing edits, handled next.
    next: Option<Message>,
}

type Answer = Result<serde_json::Value, (ErrorCode, String)>;

impl<'c> Server<'c> {
    fn new(connection: &'c Connection, root: PathBuf) -> Server<'c> {
        Server {
            connection,
            root,
            config: untitled(),
            texts: BTreeMap::new(),
            open: HashSet::new(),
            load_db: SourceDb::new(),
            load_problems: Vec::new(),
            published: HashMap::new(),
            compiled: None,
            parses: crate::ParseCache::default(),
            explain: None,
            next: None,
        }
    }

    fn send(&self, message: Message) {
        let _ = self.connection.sender.send(message);
    }

    /// Reads the project from disk again (open files keep the editor's
    /// text), and compiles it.
    fn reload(&mut self) {
        let mut texts = BTreeMap::new();
        match crate::project::load(&self.root) {
            Ok(loaded) => {
                for &file in &loaded.shop_files {
                    let source = loaded.db.get(file);
                    texts.insert(absolute(&source.path), source.text.clone());
                }
                self.config = loaded.config.clone().unwrap_or_else(untitled);
                self.load_problems = loaded.problems;
                self.load_db = loaded.db;
                let dir = self.root.join(&self.config.paths.target).join("explain");
                self.explain = write_explanations(&dir).then_some(dir);
            }
            Err(_) => {
                // No shop.toml: the open files alone, with a default project.
                self.load_problems.clear();
                self.explain = None;
            }
        }
        for path in &self.open {
            if let Some(text) = self.texts.get(path) {
                texts.insert(path.clone(), text.clone());
            }
        }
        self.texts = texts;
        self.compile();
    }

    fn compile(&mut self) {
        let mut db = SourceDb::new();
        let mut files = BTreeMap::new();
        let mut ids = Vec::new();
        for (path, text) in &self.texts {
            let id = db.add(path.display().to_string(), text.clone());
            files.insert(path.clone(), id);
            ids.push(id);
        }
        let compilation = crate::compile_with_cache(&db, &self.config, &ids, &mut self.parses);
        let previous = self.compiled.replace(Compiled {
            db,
            files,
            compilation,
            index: std::sync::OnceLock::new(),
        });
        // Freeing the last compilation is not on the way to the new
        // diagnostics (25 ms on the 10,000-model project): a thread of its
        // own does it.
        if let Some(previous) = previous {
            let _ = std::thread::Builder::new()
                .name("shopc-lsp-free".into())
                .stack_size(crate::STACK_SIZE)
                .spawn(move || drop(previous));
        }
    }

    /// Publishes the diagnostics of every file whose diagnostics changed
    /// (a file with none now is sent an empty list), and of `also` (the
    /// files the editor just opened or changed) in any case.
    fn publish(&mut self, also: &[PathBuf]) {
        let mut by_file: BTreeMap<PathBuf, Vec<lsp::Diagnostic>> = BTreeMap::new();
        if let Some(compiled) = &self.compiled {
            for path in compiled.files.keys() {
                by_file.entry(path.clone()).or_default();
            }
            for problem in &compiled.compilation.problems {
                if let Some((path, d)) = to_lsp(&compiled.db, problem, self.explain.as_deref()) {
                    by_file.entry(path).or_default().push(d);
                }
            }
        }
        for problem in &self.load_problems {
            if let Some((path, d)) = to_lsp(&self.load_db, problem, self.explain.as_deref()) {
                by_file.entry(path).or_default().push(d);
            }
        }
        for path in self.published.keys() {
            by_file.entry(path.clone()).or_default();
        }
        for (path, diagnostics) in by_file {
            let unchanged = self.published.get(&path) == Some(&diagnostics);
            if unchanged && !also.contains(&path) {
                continue;
            }
            let Some(uri) = uri_of(&path) else { continue };
            self.published.insert(path, diagnostics.clone());
            let params = lsp::PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            };
            self.send(Message::Notification(Notification::new(
                lsp::notification::PublishDiagnostics::METHOD.into(),
                params,
            )));
        }
    }

    /// Handles a notification. An edit (a file opened or changed) is
    /// compiled with the edits that came in behind it, so that typing
    /// faster than the project compiles costs one compilation, not one a
    /// keystroke: the first other message read waits in `next`.
    fn notification(&mut self, notification: Notification) {
        let Some(first) = self.edit(notification) else {
            return;
        };
        let mut touched = vec![first];
        while let Ok(message) = self.connection.receiver.try_recv() {
            match message {
                Message::Notification(n) if is_edit(&n.method) => {
                    touched.extend(self.edit(n));
                }
                other => {
                    self.next = Some(other);
                    break;
                }
            }
        }
        self.compile();
        self.publish(&touched);
    }

    /// Applies an opened or changed text (the file it touched), or handles
    /// any other notification (`None`).
    fn edit(&mut self, notification: Notification) -> Option<PathBuf> {
        use lsp::notification::{
            DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
        };
        let touched = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(params) = parse::<lsp::DidOpenTextDocumentParams>(notification.params)
                else {
                    return None;
                };
                let path = path_of(&params.text_document.uri)?;
                self.open.insert(path.clone());
                self.texts.insert(path.clone(), params.text_document.text);
                path
            }
            DidChangeTextDocument::METHOD => {
                let Ok(params) = parse::<lsp::DidChangeTextDocumentParams>(notification.params)
                else {
                    return None;
                };
                let path = path_of(&params.text_document.uri)?;
                // Full synchronisation: the last change is the whole text.
                if let Some(change) = params.content_changes.into_iter().last() {
                    self.texts.insert(path.clone(), change.text);
                }
                path
            }
            DidSaveTextDocument::METHOD => return None,
            DidCloseTextDocument::METHOD => {
                let Ok(params) = parse::<lsp::DidCloseTextDocumentParams>(notification.params)
                else {
                    return None;
                };
                if let Some(path) = path_of(&params.text_document.uri) {
                    self.open.remove(&path);
                    // What is on disk counts again (nothing, if it was deleted).
                    self.texts.remove(&path);
                    self.reload();
                    self.publish(&[path]);
                }
                return None;
            }
            _ => return None,
        };
        Some(touched)
    }

    fn request(&mut self, request: Request) -> Answer {
        use lsp::request::{
            Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
            References, Rename, WorkspaceSymbolRequest,
        };
        let params = request.params;
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp::HoverParams = parse(params)?;
                let Some((compiled, occurrence)) = self.at(&p.text_document_position_params) else {
                    return json(self.function_hover(&p.text_document_position_params));
                };
                let analysis = &compiled.compilation.analysis;
                let text = ide::hover(&compiled.compilation.ir, analysis, occurrence.symbol);
                let hover = lsp::Hover {
                    contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                        kind: lsp::MarkupKind::Markdown,
                        value: text,
                    }),
                    range: range(&compiled.db, occurrence.span),
                };
                json(hover)
            }
            GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = parse(params)?;
                let Some((compiled, occurrence)) = self.at(&p.text_document_position_params) else {
                    return Ok(serde_json::Value::Null);
                };
                let ir = &compiled.compilation.ir;
                let found = match compiled.index().definition(ir, occurrence.symbol) {
                    Some(span) => location(&compiled.db, span),
                    None => self.in_project_file(ir, occurrence.symbol),
                };
                json(found)
            }
            References::METHOD => {
                let p: lsp::ReferenceParams = parse(params)?;
                let Some((compiled, occurrence)) = self.at(&p.text_document_position) else {
                    return Ok(serde_json::Value::Null);
                };
                let ir = &compiled.compilation.ir;
                let mut spans = compiled.index().references(occurrence.symbol);
                let definition = compiled.index().definition(ir, occurrence.symbol);
                if !p.context.include_declaration {
                    spans.retain(|s| Some(*s) != definition);
                }
                let mut locations: Vec<lsp::Location> = spans
                    .into_iter()
                    .filter_map(|s| location(&compiled.db, s))
                    .collect();
                // A var's key in shop.toml, first.
                if p.context.include_declaration
                    && let Some(key) = self.in_project_file(ir, occurrence.symbol)
                {
                    locations.insert(0, key);
                }
                json(locations)
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp::DocumentSymbolParams = parse(params)?;
                let Some((compiled, file)) = self.file(&p.text_document.uri) else {
                    return Ok(serde_json::Value::Null);
                };
                let symbols = ide::file_symbols(&compiled.compilation.ir, file);
                let symbols: Vec<lsp::DocumentSymbol> = symbols
                    .iter()
                    .filter_map(|s| document_symbol(&compiled.db, s))
                    .collect();
                json(lsp::DocumentSymbolResponse::Nested(symbols))
            }
            WorkspaceSymbolRequest::METHOD => {
                let p: lsp::WorkspaceSymbolParams = parse(params)?;
                let Some(compiled) = &self.compiled else {
                    return Ok(serde_json::Value::Null);
                };
                let ir = &compiled.compilation.ir;
                #[allow(deprecated)]
                let found: Vec<lsp::SymbolInformation> = ir
                    .by_name
                    .iter()
                    .filter(|(name, _)| name.contains(p.query.as_str()))
                    .filter_map(|(name, &id)| {
                        let rel = ir.relation(id);
                        Some(lsp::SymbolInformation {
                            name: name.clone(),
                            kind: lsp::SymbolKind::CLASS,
                            tags: None,
                            deprecated: None,
                            location: location(&compiled.db, rel.name_span)?,
                            container_name: Some(rel.kind_word().into()),
                        })
                    })
                    .collect();
                json(found)
            }
            Formatting::METHOD => {
                let p: lsp::DocumentFormattingParams = parse(params)?;
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Ok(serde_json::Value::Null);
                };
                let Some(text) = self.texts.get(&path) else {
                    return Ok(serde_json::Value::Null);
                };
                match crate::syntax::format(FileId(0), text) {
                    Ok(formatted) if formatted == *text => json(Vec::<lsp::TextEdit>::new()),
                    Ok(formatted) => {
                        let end = position(text, text.len());
                        json(vec![lsp::TextEdit {
                            range: lsp::Range::new(lsp::Position::new(0, 0), end),
                            new_text: formatted,
                        }])
                    }
                    Err(_) => Err((
                        ErrorCode::RequestFailed,
                        "the file does not parse: it is formatted once its errors are fixed".into(),
                    )),
                }
            }
            Rename::METHOD => {
                let p: lsp::RenameParams = parse(params)?;
                json(self.rename(&p.text_document_position, &p.new_name)?)
            }
            Completion::METHOD => {
                let p: lsp::CompletionParams = parse(params)?;
                json(self.complete(&p.text_document_position))
            }
            method => Err((
                ErrorCode::MethodNotFound,
                format!("shopc lsp does not answer {method}"),
            )),
        }
    }

    /// The compilation and the file an editor's URI names.
    fn file(&self, uri: &lsp::Uri) -> Option<(&Compiled, FileId)> {
        let compiled = self.compiled.as_ref()?;
        let path = path_of(uri)?;
        let file = *compiled.files.get(&path)?;
        Some((compiled, file))
    }

    /// The name at an editor's position, if any.
    fn at(&self, at: &lsp::TextDocumentPositionParams) -> Option<(&Compiled, ide::Occurrence)> {
        let (compiled, file) = self.file(&at.text_document.uri)?;
        let offset = offset(compiled.db.text(file), at.position)?;
        let occurrence = compiled.index().at(file, offset)?;
        Some((compiled, occurrence))
    }

    /// Renames the relation or column at a position in every file. The
    /// edits are tried first: a rename that would leave errors the project
    /// does not have now (the name is also written where the index does
    /// not follow it yet: a test's argument, a setting) is refused, with
    /// the first of them, and nothing changes.
    // lsp-types keys a WorkspaceEdit by `Uri`, whose lazily computed parts
    // clippy takes for mutability; no key is changed here.
    #[allow(clippy::mutable_key_type)]
    fn rename(
        &self,
        at: &lsp::TextDocumentPositionParams,
        new: &str,
    ) -> Result<Option<lsp::WorkspaceEdit>, (ErrorCode, String)> {
        let Some((compiled, occurrence)) = self.at(at) else {
            return Ok(None);
        };
        let ir = &compiled.compilation.ir;
        let text = |file: FileId| compiled.db.text(file);
        let edits = ide::rename(ir, compiled.index(), text, occurrence.symbol, new)
            .map_err(|e| (ErrorCode::InvalidParams, e))?;
        // The project as it would be.
        let mut texts: BTreeMap<PathBuf, String> = self.texts.clone();
        let mut by_file: BTreeMap<FileId, Vec<(Span, String)>> = BTreeMap::new();
        for (span, name) in edits {
            by_file.entry(span.file).or_default().push((span, name));
        }
        for (file, edits) in &mut by_file {
            let path = absolute(&compiled.db.get(*file).path);
            let Some(text) = texts.get_mut(&path) else {
                continue;
            };
            edits.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
            for (span, name) in edits.iter() {
                text.replace_range(span.range(), name);
            }
        }
        let mut db = SourceDb::new();
        let ids: Vec<FileId> = texts
            .iter()
            .map(|(p, t)| db.add(p.display().to_string(), t.clone()))
            .collect();
        let after = crate::compile(&db, &self.config, &ids);
        let before = compiled.compilation.error_count();
        if after.error_count() > before {
            let first = after.problems.iter().find(|p| p.is_error());
            let why = first
                .and_then(|p| to_lsp(&db, p, None))
                .map(|(path, d)| {
                    format!(
                        ": {}:{}: {}",
                        path.display(),
                        d.range.start.line + 1,
                        d.message.lines().next().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            return Err((
                ErrorCode::RequestFailed,
                format!(
                    "renaming to `{new}` would leave {} error(s) (the name is also written \
                     where shopc lsp does not rename it yet){why}",
                    after.error_count() - before
                ),
            ));
        }
        let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
        for (file, mut edits) in by_file {
            edits.sort_by_key(|(s, _)| s.start);
            let Some(uri) = uri_of(&absolute(&compiled.db.get(file).path)) else {
                continue;
            };
            let file_edits = edits
                .into_iter()
                .filter_map(|(span, name)| {
                    Some(lsp::TextEdit::new(range(&compiled.db, span)?, name))
                })
                .collect();
            changes.insert(uri, file_edits);
        }
        Ok(Some(lsp::WorkspaceEdit::new(changes)))
    }

    /// The signature of the function called at a position (`coalesce(`,
    /// or a `fn` of the project), if one is.
    /// Where a var is set: its key in `shop.toml` (whose text is the
    /// loaded project's, not the compiled `.shop` files').
    fn in_project_file(&self, ir: &crate::ir::Ir, symbol: ide::Symbol) -> Option<lsp::Location> {
        let ide::Symbol::Var(index) = symbol else {
            return None;
        };
        let span = ir.vars.get(index as usize)?.defined?;
        ((span.file.0 as usize) < self.load_db.len())
            .then(|| location(&self.load_db, span))
            .flatten()
    }

    fn function_hover(&self, at: &lsp::TextDocumentPositionParams) -> Option<lsp::Hover> {
        let compiled = self.compiled.as_ref()?;
        let text = self.texts.get(&path_of(&at.text_document.uri)?)?;
        let (word, called) = ide::word_at(text, offset(text, at.position)?)?;
        if !called {
            return None;
        }
        let value = ide::function_hover(&compiled.compilation.ir, word)?;
        Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value,
            }),
            range: None,
        })
    }

    /// Relations after `from` / `join`, columns after `alias.`, and the
    /// functions of the library elsewhere.
    fn complete(&self, at: &lsp::TextDocumentPositionParams) -> Vec<lsp::CompletionItem> {
        let Some((compiled, file)) = self.file(&at.text_document.uri) else {
            return Vec::new();
        };
        let Some(path) = path_of(&at.text_document.uri) else {
            return Vec::new();
        };
        // The editor's text now, which may be ahead of the compilation.
        let Some(text) = self.texts.get(&path) else {
            return Vec::new();
        };
        let Some(offset) = offset(text, at.position) else {
            return Vec::new();
        };
        let before = &text[..offset];
        let word_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[word_start..];
        let ir = &compiled.compilation.ir;
        let item = |label: String, kind, detail: String| lsp::CompletionItem {
            label,
            kind: Some(kind),
            detail: Some(detail),
            ..Default::default()
        };
        // `alias.`: the columns of what that alias reads in this model.
        if before[..word_start].ends_with('.') {
            let qualifier_end = word_start - 1;
            let qualifier_start = before[..qualifier_end]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let alias = &before[qualifier_start..qualifier_end];
            let model = ir.relations.iter().find(|r| {
                r.span.file == file
                    && r.span.start as usize <= offset
                    && offset <= r.span.end as usize
            });
            let scan = model.and_then(|m| match &m.kind {
                crate::ir::RelationKind::Model(model) => {
                    model.query.scans.iter().find(|s| s.alias == alias)
                }
                _ => None,
            });
            if let Some(relation) = scan.map(|s| s.relation) {
                return ir
                    .relation(relation)
                    .columns
                    .iter()
                    .filter(|(name, _)| name.starts_with(word))
                    .map(|(name, &id)| {
                        item(
                            name.clone(),
                            lsp::CompletionItemKind::FIELD,
                            ir.column(id).ty.to_string(),
                        )
                    })
                    .collect();
            }
            // Not an alias: `raw.` in `from raw.…`, a source's tables.
            let prefix = format!("{alias}.{word}");
            return ide::relations_named(ir, &prefix)
                .map(|id| {
                    let rel = ir.relation(id);
                    let label = rel.name[alias.len() + 1..].to_string();
                    item(
                        label,
                        lsp::CompletionItemKind::CLASS,
                        rel.kind_word().into(),
                    )
                })
                .collect();
        }
        let previous = before[..word_start].trim_end();
        if previous.ends_with("from") || previous.ends_with("join") {
            return ide::relations_named(ir, word)
                .map(|id| {
                    let rel = ir.relation(id);
                    item(
                        rel.name.clone(),
                        lsp::CompletionItemKind::CLASS,
                        rel.kind_word().into(),
                    )
                })
                .collect();
        }
        // In `tests { … }`: the tests; first on a line of an item: its
        // settings.
        let block = ide::block_at(text, offset);
        if block == Some("tests") {
            return crate::ir::TEST_NAMES
                .iter()
                .filter(|t| t.starts_with(word))
                .map(|t| {
                    item(
                        t.to_string(),
                        lsp::CompletionItemKind::FUNCTION,
                        "test".into(),
                    )
                })
                .collect();
        }
        let line_start = before[..word_start].rfind('\n').map_or(0, |n| n + 1);
        let first_on_line = before[line_start..word_start].trim().is_empty();
        let settings = block.map_or(&[][..], ide::settings_of);
        if first_on_line && !settings.is_empty() {
            return settings
                .iter()
                .filter(|k| k.starts_with(word))
                .map(|k| {
                    item(
                        k.to_string(),
                        lsp::CompletionItemKind::PROPERTY,
                        "setting".into(),
                    )
                })
                .collect();
        }
        crate::ir::library::FUNCTIONS
            .iter()
            .filter(|f| f.name.starts_with(word))
            .map(|f| {
                item(
                    f.name.into(),
                    lsp::CompletionItemKind::FUNCTION,
                    format!("{:?} function", f.kind).to_lowercase(),
                )
            })
            .collect()
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    params: serde_json::Value,
) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(params).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn json<T: serde::Serialize>(value: T) -> Answer {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

/// The project of files outside one (no `shop.toml`), or whose `shop.toml`
/// does not parse (its problems are published).
fn untitled() -> ProjectConfig {
    crate::config::parse_project_config(FileId(0), "name = \"untitled\"\n")
        .expect("a constant project file parses")
}

/// A path of the project as the editor names it: the project's paths are
/// made from the folder the client gave (absolute), so only a relative one
/// (the current directory's project) is looked up on disk.
fn absolute(path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

// ------------------------------------------------------------ positions

/// The byte offset of an editor's position (UTF-16 code units within a
/// line, as LSP counts by default), or `None` outside the text.
pub fn offset(text: &str, position: lsp::Position) -> Option<usize> {
    let mut line_start = 0;
    for _ in 0..position.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |n| line_start + n);
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= position.character {
            return Some(line_start + i);
        }
        units += c.len_utf16() as u32;
    }
    (units >= position.character).then_some(line_end)
}

/// An editor's position of a byte offset.
pub fn position(text: &str, offset: usize) -> lsp::Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let character = before[line_start..].encode_utf16().count() as u32;
    lsp::Position::new(line, character)
}

fn range(db: &SourceDb, span: Span) -> Option<lsp::Range> {
    if span.file.0 as usize >= db.len() {
        return None;
    }
    let text = db.text(span.file);
    let (start, end) = (span.start as usize, span.end as usize);
    if end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return None;
    }
    Some(lsp::Range::new(position(text, start), position(text, end)))
}

fn location(db: &SourceDb, span: Span) -> Option<lsp::Location> {
    let path = absolute(&db.get(span.file).path);
    Some(lsp::Location::new(uri_of(&path)?, range(db, span)?))
}

/// Writes every diagnostic code's documentation into `dir` (each file only
/// when it is missing or another version's), for the diagnostics' links;
/// false when the folder cannot be written.
fn write_explanations(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    crate::diagnostic::Code::ALL.iter().all(|code| {
        let path = dir.join(format!("{}.md", code.as_str()));
        let text = code.explanation();
        std::fs::read_to_string(&path).is_ok_and(|old| old == text)
            || std::fs::write(&path, text).is_ok()
    })
}

/// A problem as LSP says it: its primary label's range, its code (linked
/// to its documentation in `explain`, when there is one), its title with
/// notes and help, and its other labels as related information.
fn to_lsp(
    db: &SourceDb,
    problem: &Problem,
    explain: Option<&Path>,
) -> Option<(PathBuf, lsp::Diagnostic)> {
    let diagnostic = problem.to_diagnostic();
    let primary = diagnostic
        .labels
        .iter()
        .find(|l| l.primary)
        .or(diagnostic.labels.first())?;
    let path = absolute(&db.get(primary.span.file).path);
    let mut message = diagnostic.title.clone();
    if !primary.message.is_empty() {
        message.push_str(&format!(": {}", primary.message));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\n{note}"));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    message.push_str(&format!("\n(shopc explain {})", diagnostic.code.as_str()));
    let related: Vec<lsp::DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|l| !std::ptr::eq(*l, primary))
        .filter_map(|l| {
            Some(lsp::DiagnosticRelatedInformation {
                location: location(db, l.span)?,
                message: l.message.clone(),
            })
        })
        .collect();
    let d = lsp::Diagnostic {
        range: range(db, primary.span).unwrap_or_default(),
        severity: Some(match diagnostic.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(diagnostic.code.as_str().into())),
        code_description: explain
            .and_then(|dir| uri_of(&dir.join(format!("{}.md", diagnostic.code.as_str()))))
            .map(|href| lsp::CodeDescription { href }),
        source: Some("shopc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    };
    Some((path, d))
}

#[allow(deprecated)]
fn document_symbol(db: &SourceDb, symbol: &ide::FileSymbol) -> Option<lsp::DocumentSymbol> {
    let kind = match symbol.kind {
        SymbolKind::Source => lsp::SymbolKind::NAMESPACE,
        SymbolKind::Table | SymbolKind::Model | SymbolKind::Snapshot => lsp::SymbolKind::CLASS,
        SymbolKind::Column => lsp::SymbolKind::FIELD,
        SymbolKind::Function => lsp::SymbolKind::FUNCTION,
        SymbolKind::Test => lsp::SymbolKind::METHOD,
    };
    let range = range(db, symbol.span)?;
    let selection = range_within(db, symbol.name_span, range);
    let children: Vec<lsp::DocumentSymbol> = symbol
        .children
        .iter()
        .filter_map(|c| document_symbol(db, c))
        .filter(|c| within(c.range, range))
        .collect();
    Some(lsp::DocumentSymbol {
        name: symbol.name.clone(),
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range: selection,
        children: (!children.is_empty()).then_some(children),
    })
}

/// `span`'s range when it lies within `outer` (as LSP requires of a
/// symbol's name), else `outer`.
fn range_within(db: &SourceDb, span: Span, outer: lsp::Range) -> lsp::Range {
    match range(db, span) {
        Some(r) if within(r, outer) => r,
        _ => outer,
    }
}

fn within(inner: lsp::Range, outer: lsp::Range) -> bool {
    let key = |p: lsp::Position| (p.line, p.character);
    key(outer.start) <= key(inner.start) && key(inner.end) <= key(outer.end)
}
