//! Loading a project from disk: `shop.toml` and the `.shop` files under its
//! model paths, into a [`SourceDb`]. This is where the compiler meets the
//! file system; everything after it works on the loaded text.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use crate::config::{ProjectConfig, parse_project_config};
use crate::problem::Problem;
use crate::span::{FileId, SourceDb, Span};

/// Largest `.shop` file accepted. Real model files are a few KiB; a file this
/// large is almost certainly not a model file.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

pub const PROJECT_FILE: &str = "shop.toml";

/// A project read from disk, ready to compile.
#[derive(Debug)]
pub struct LoadedProject {
    pub root: PathBuf,
    pub db: SourceDb,
    pub config_file: FileId,
    /// `None` when `shop.toml` is invalid (see `problems`).
    pub config: Option<ProjectConfig>,
    pub shop_files: Vec<FileId>,
    /// Problems met while loading (bad project file, unreadable files…).
    pub problems: Vec<Problem>,
}

/// Loading failed before anything could be compiled.
#[derive(Debug)]
pub enum LoadError {
    NoProjectFile(PathBuf),
    Unreadable(PathBuf, ReadError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NoProjectFile(dir) => write!(
                f,
                "no {PROJECT_FILE} in `{}`: pass the project folder with --project DIR",
                dir.display()
            ),
            LoadError::Unreadable(path, e) => write!(f, "cannot read `{}`: {e}", path.display()),
        }
    }
}

/// Reads `dir/shop.toml` and every `.shop` file under the configured paths.
pub fn load(dir: &Path) -> Result<LoadedProject, LoadError> {
    let config_path = dir.join(PROJECT_FILE);
    if !config_path.exists() {
        return Err(LoadError::NoProjectFile(dir.to_path_buf()));
    }
    let mut db = SourceDb::new();
    let mut problems = Vec::new();
    let config_text = read_file(&config_path, MAX_FILE_BYTES)
        .map_err(|e| LoadError::Unreadable(config_path.clone(), e))?;
    let config_file = add_text(&mut db, &config_path, config_text, &mut problems);
    let config = match parse_project_config(config_file, db.text(config_file)) {
        Ok(config) => Some(config),
        Err(found) => {
            // A secret written in the file is never shown, not even in
            // the diagnostic's snippet.
            for problem in &found {
                if let Problem::SecretInProjectFile { span, .. } = problem {
                    db.mask(*span);
                }
            }
            problems.extend(found);
            None
        }
    };
    let mut shop_files = Vec::new();
    if let Some(config) = &config {
        let mut paths: Vec<PathBuf> = Vec::new();
        for models in &config.paths.models {
            let root = dir.join(models);
            for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
                match entry {
                    Ok(entry)
                        if !entry.file_type().is_dir()
                            && entry.path().extension().is_some_and(|e| e == "shop") =>
                    {
                        paths.push(entry.into_path())
                    }
                    // A dbt model copied in: say that it is not read.
                    Ok(entry)
                        if !entry.file_type().is_dir()
                            && entry.path().extension().is_some_and(|e| e == "sql") =>
                    {
                        let line = first_line(entry.path());
                        let len = line.len();
                        let file = db.add(entry.path().display().to_string(), line);
                        problems.push(Problem::SqlFile {
                            span: Span::new(file, 0, len),
                        });
                    }
                    Ok(_) => {}
                    // A configured folder that does not exist simply holds no models.
                    Err(e)
                        if e.io_error()
                            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => {}
                    Err(e) => problems.push(Problem::UnreadableFile {
                        path: e.path().unwrap_or(&root).display().to_string(),
                        reason: e.to_string(),
                    }),
                }
            }
        }
        paths.dedup();
        for path in paths {
            if let Some(file) = load_shop_file(&mut db, &path, &mut problems) {
                shop_files.push(file);
            }
        }
        if shop_files.is_empty() && !problems.iter().any(Problem::is_error) {
            problems.push(Problem::EmptyProject {
                paths: config
                    .paths
                    .models
                    .iter()
                    .map(|m| dir.join(m).display().to_string())
                    .collect(),
                files: 0,
            });
        }
    }
    Ok(LoadedProject {
        root: dir.to_path_buf(),
        db,
        config_file,
        config,
        shop_files,
        problems,
    })
}

/// Reads one `.shop` file into `db`: `None`, and a problem, when it is too
/// large, unreadable or not UTF-8.
pub fn load_shop_file(
    db: &mut SourceDb,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Option<FileId> {
    let display = path.display().to_string();
    match read_file(path, MAX_FILE_BYTES) {
        Ok(bytes) => {
            let before = problems.len();
            let file = add_text(db, path, bytes, problems);
            // A file that is not text is reported once, not parsed.
            (problems.len() == before).then_some(file)
        }
        Err(ReadError::TooLarge { size }) => {
            let file = db.add(display, String::new());
            problems.push(Problem::FileTooLarge {
                span: Span::new(file, 0, 0),
                size,
                limit: MAX_FILE_BYTES,
            });
            None
        }
        Err(e) => {
            problems.push(Problem::UnreadableFile {
                path: display,
                reason: e.to_string(),
            });
            None
        }
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file (after following links): a FIFO would block the
    /// read forever, a device such as `/dev/zero` never ends.
    NotRegular {
        what: &'static str,
    },
    /// More than the limit; `size` is at least `limit + 1`.
    TooLarge {
        size: u64,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular { what } => {
                write!(
                    f,
                    "it is {what}, not a regular file; shopc reads only regular files"
                )
            }
            ReadError::TooLarge { size } => write!(f, "it has more than {} bytes", size - 1),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The first line of a regular file (at most 4 KiB of it), for a
/// diagnostic that points at a file shopc does not otherwise read (a seed,
/// a `.sql` file); empty when it cannot be read.
pub fn first_line(path: &Path) -> String {
    use std::io::Read;
    if check_regular(path).is_err() {
        return String::new();
    }
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(4096).read_to_end(&mut head);
    }
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    String::from_utf8_lossy(&head[..end]).trim_end().to_string()
}

/// What a file that is not a regular file is, in words.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let ty = meta.file_type();
    if ty.is_dir() {
        "a directory"
    } else if ty.is_fifo() {
        "a FIFO (named pipe)"
    } else if ty.is_char_device() {
        "a character device"
    } else if ty.is_block_device() {
        "a block device"
    } else if ty.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Whether `path` (after following links) is a regular file; the error
/// says what it is instead. Checked before opening, since opening a FIFO
/// blocks until a writer comes.
pub fn check_regular(path: &Path) -> Result<std::fs::Metadata, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(ReadError::NotRegular {
            what: file_kind(&meta),
        })
    }
}

/// Reads a regular file of at most `limit` bytes. The limit is enforced
/// while reading, not taken from the metadata, so a file that grows (or
/// lies about its size) is cut off at `limit + 1` bytes and refused.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    check_regular(path)?;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            what: file_kind(&meta),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: meta.len().max(limit + 1),
        });
    }
    Ok(bytes)
}

/// Adds a file's bytes as text; invalid UTF-8 is reported at the first bad byte.
fn add_text(db: &mut SourceDb, path: &Path, bytes: Vec<u8>, problems: &mut Vec<Problem>) -> FileId {
    let display = path.display().to_string();
    match String::from_utf8(bytes) {
        Ok(text) => db.add(display, text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = db.add(display, text);
            // The replacement character U+FFFD is three bytes long.
            problems.push(Problem::InvalidUtf8 {
                span: Span::new(file, offset, offset + '\u{FFFD}'.len_utf8()),
            });
            file
        }
    }
}
