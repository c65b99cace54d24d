//! Input files as activity: the docs' transaction pool JSON (parsed by `flex_ingest::parse_pool`)
//! and JSON-lines action logs (`flex_ingest::lines`). Each file imports through [`import_file`]:
//! the whole file in one store transaction (a bad line or a conflicting action writes nothing),
//! with a progress bar; a JSON-lines file is parsed on one thread while the store inserts on the
//! calling one. [`InputFiles`] is the keeper's `[input]` files as one [`Follower`]: a file whose
//! size and modification time did not change since its last import is not read again (recorded in
//! the store's meta table).
//!
//! A JSON-lines log holds one object per line: a connection `{"wallet":"0x…","connected_at":T}` or
//! an action `{"action_id":ID,"wallet":"0x…","kind":K,"side":"onchain"|"offchain","timestamp":T}`
//! (`T` RFC 3339 or unix seconds, `ID` a string or an integer; other fields ignored). Blank lines
//! are skipped. An action's wallet must be connected somewhere (in this or another source).

use std::cell::Cell;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flex_engine::WeightTable;
use flex_ingest::lines::{read_lines, Stopped, BATCH_ACTIONS};
use flex_ingest::Side;
use flex_store::{ActionRow, ActionSide, ImportBatch, ImportStats, Store, WalletRow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::follower::{self, BoxFuture};
use crate::{FollowSummary, Follower, SourceError, SourceKind, Status, Until};

/// A batch of activity as rows.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub wallets: Vec<WalletRow>,
    pub actions: Vec<ActionRow>,
}

fn file_fingerprint(path: &Path) -> Option<String> {
    let md = std::fs::metadata(path).ok()?;
    let mtime = md.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", md.len(), mtime.as_nanos()))
}

/// One input file and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: FileFormat,
}

impl InputFile {
    /// The docs' transaction pool JSON.
    pub fn pool(path: PathBuf) -> Self {
        Self {
            path,
            format: FileFormat::Pool,
        }
    }

    /// A JSON-lines log.
    pub fn lines(path: PathBuf) -> Self {
        Self {
            path,
            format: FileFormat::Lines,
        }
    }

    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The file's size and modification time; an unchanged fingerprint is not read again.
    pub fn fingerprint(&self) -> Option<String> {
        file_fingerprint(&self.path)
    }

    /// Reads the whole file as rows (all of it; the store drops what it already has). `table`
    /// holds every kind the file may name (the kinds of all weight table versions).
    pub fn read(&self, table: &WeightTable) -> Result<Batch, SourceError> {
        match self.format {
            FileFormat::Pool => self.read_pool(table),
            FileFormat::Lines => self.read_lines(table),
        }
    }

    fn read_pool(&self, table: &WeightTable) -> Result<Batch, SourceError> {
        let file = self.name();
        let (pool, ids) = flex_ingest::read_pool_with_ids(&self.path, table)?;
        let wallets = pool
            .wallets
            .iter()
            .map(|w| WalletRow {
                address: w.address,
                connected_at: w.connected_at,
            })
            .collect();
        let mut actions = Vec::with_capacity(pool.actions.len());
        for ((a, id), side) in pool.actions.iter().zip(ids.ids).zip(ids.sides) {
            // The parser resolved both; a miss would be its bug, reported, never a panic.
            let wallet = pool
                .wallets
                .get(a.wallet as usize)
                .ok_or_else(|| SourceError::File {
                    file: file.clone(),
                    message: "a pool action names no wallet".into(),
                })?;
            let kind = table.name(a.kind).ok_or_else(|| SourceError::File {
                file: file.clone(),
                message: "a pool action's kind is not in the table".into(),
            })?;
            actions.push(ActionRow {
                action_id: id,
                wallet: wallet.address,
                kind: kind.to_string(),
                side: side.name().to_string(),
                timestamp: a.timestamp,
            });
        }
        Ok(Batch { wallets, actions })
    }

    fn read_lines(&self, table: &WeightTable) -> Result<Batch, SourceError> {
        let file = self.name();
        let f = std::fs::File::open(&self.path).map_err(|e| SourceError::File {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let mut batch = Batch::default();
        let mut sink = |b: ImportBatch| {
            batch.wallets.extend_from_slice(&b.wallets);
            batch.actions.extend(b.actions().map(|a| ActionRow {
                action_id: a.action_id.to_string(),
                wallet: a.wallet,
                kind: a.kind.to_string(),
                side: a.side.as_str().to_string(),
                timestamp: a.timestamp,
            }));
            Ok(())
        };
        read_lines(f, &file, table, &mut |_| {}, &mut sink)?.map_err(|Stopped| SourceError::File {
            file,
            message: "read stopped".into(),
        })?;
        Ok(batch)
    }

    /// Imports the file into `store`, all or nothing ([`import_file`]).
    pub fn import(&self, store: &dyn Store, table: &WeightTable) -> Result<ImportStats, SourceError> {
        Ok(import_file(store, &self.path, self.format, table, true)?.stats)
    }
}

/// An input file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// The docs' transaction pool JSON (`{"wallets":[...]}`).
    Pool,
    /// JSON lines, one wallet connection or action per line.
    Lines,
}

impl FileFormat {
    /// By extension: `.jsonl`, `.ndjson` are JSON lines, `.json` is a pool; otherwise unknown.
    pub fn detect(path: &Path) -> Option<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson") => Some(FileFormat::Lines),
            Some("json") => Some(FileFormat::Pool),
            _ => None,
        }
    }
}

/// What [`import_file`] did.
#[derive(Debug, Clone)]
pub struct FileImport {
    pub file: String,
    pub stats: ImportStats,
    /// Lines read (JSON lines), or wallets + actions listed (pool).
    pub records: u64,
    pub bytes: u64,
    /// From opening the file to the store's commit.
    pub elapsed: Duration,
    /// Time the reader spent reading and parsing (not waiting for the store).
    pub parse: Duration,
    /// Time the store spent importing and committing (not waiting for the reader).
    pub insert: Duration,
}

enum Msg {
    Batch(ImportBatch),
    Done,
    Failed(String),
}

/// Imports one file into `store` in one transaction: all of it, or (a bad line, a conflicting
/// action, a read error) nothing, with an error naming the file, the line and the field. `kinds`
/// holds every kind an action may name. Importing the same file again adds nothing
/// (`actions_known`). `show_progress`: a progress bar on stderr when it is a terminal.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    format: FileFormat,
    kinds: &WeightTable,
    show_progress: bool,
) -> Result<FileImport, SourceError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| SourceError::File {
        file: file.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if show_progress {
        progress(size, &format!("importing {file}"))
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let out = match format {
        FileFormat::Lines => import_lines(store, f, &file, kinds, &bar, started),
        FileFormat::Pool => import_pool(store, f, &file, kinds, &bar, started),
    };
    bar.finish_and_clear();
    out
}

fn import_lines(
    store: &dyn Store,
    f: std::fs::File,
    file: &str,
    kinds: &WeightTable,
    bar: &ProgressBar,
    started: Instant,
) -> Result<FileImport, SourceError> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(4);
        let reader = s.spawn(move || {
            let mut blocked = Duration::ZERO;
            let mut send = |m: Msg| {
                let t = Instant::now();
                let r = tx.send(m).map_err(|_| Stopped);
                blocked += t.elapsed();
                r
            };
            let r = read_lines(f, file, kinds, &mut |b| bar.set_position(b), &mut |b| {
                send(Msg::Batch(b))
            });
            // A failed send means the store stopped first; its error is the one reported.
            let _ = match &r {
                Ok(Ok(_)) => send(Msg::Done),
                Ok(Err(Stopped)) => Ok(()),
                Err(e) => send(Msg::Failed(e.to_string())),
            };
            (r, started.elapsed().saturating_sub(blocked))
        });
        let waited = Cell::new(Duration::ZERO);
        let stats = {
            let mut batches = std::iter::from_fn(|| {
                let t = Instant::now();
                let m = rx.recv();
                waited.set(waited.get() + t.elapsed());
                match m {
                    Ok(Msg::Batch(b)) => Some(Ok(b)),
                    Ok(Msg::Done) => None,
                    Ok(Msg::Failed(e)) => Some(Err(e)),
                    Err(_) => Some(Err("the reader stopped unexpectedly".into())),
                }
            });
            store.import_stream(file, &mut batches)
        };
        drop(rx);
        let elapsed = started.elapsed();
        let (read, parse) = reader.join().map_err(|_| SourceError::File {
            file: file.to_string(),
            message: "the JSON-lines reader panicked".into(),
        })?;
        // The reader's own error (a bad line) first: the store only saw "aborted".
        let summary = read?;
        let stats = stats?;
        let summary = summary.map_err(|Stopped| SourceError::File {
            file: file.to_string(),
            message: "read stopped".into(),
        })?;
        Ok(FileImport {
            file: file.to_string(),
            stats,
            records: summary.lines,
            bytes: summary.bytes,
            elapsed,
            parse,
            insert: elapsed.saturating_sub(waited.get()),
        })
    })
}

fn import_pool(
    store: &dyn Store,
    f: std::fs::File,
    file: &str,
    kinds: &WeightTable,
    bar: &ProgressBar,
    started: Instant,
) -> Result<FileImport, SourceError> {
    let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(f));
    let (pool, ids) = flex_ingest::parse_pool_with_ids(reader, file, kinds)?;
    let parse = started.elapsed();
    let names: Vec<String> = (0..kinds.len())
        .filter_map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| kinds.name(i))
                .map(str::to_string)
        })
        .collect();
    let mut batches = Vec::new();
    let mut batch = ImportBatch::with_kinds(names.iter().cloned());
    batch.wallets.extend(pool.wallets.iter().map(|w| WalletRow {
        address: w.address,
        connected_at: w.connected_at,
    }));
    for ((a, id), side) in pool.actions.iter().zip(&ids.ids).zip(&ids.sides) {
        let wallet = pool
            .wallets
            .get(a.wallet as usize)
            .ok_or_else(|| SourceError::File {
                file: file.to_string(),
                message: "a pool action names no wallet".into(),
            })?;
        let side = match side {
            Side::Onchain => ActionSide::Onchain,
            Side::Offchain => ActionSide::Offchain,
        };
        batch
            .push_action(id, wallet.address, a.kind, side, a.timestamp, 0)
            .map_err(|e| SourceError::File {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        if batch.len() >= BATCH_ACTIONS {
            batches.push(std::mem::replace(
                &mut batch,
                ImportBatch::with_kinds(names.iter().cloned()),
            ));
        }
    }
    batches.push(batch);
    let records = (pool.wallets.len() + pool.actions.len()) as u64;
    drop(pool);
    let t = Instant::now();
    let stats = store.import_stream(file, &mut batches.into_iter().map(Ok))?;
    Ok(FileImport {
        file: file.to_string(),
        stats,
        records,
        bytes,
        elapsed: started.elapsed(),
        parse,
        insert: t.elapsed(),
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Imports every file whose fingerprint changed since its last import (each in one
/// transaction). `table` holds every kind an action may name (all weight table versions:
/// [`flex_ingest::WeightSchedule::all_kinds`]). Returns the totals.
pub fn import_sources(
    store: &dyn Store,
    files: &[InputFile],
    table: &WeightTable,
) -> Result<ImportStats, SourceError> {
    let mut total = ImportStats::default();
    for source in files {
        let name = source.name();
        let key = format!("import:{name}");
        let fp = source.fingerprint();
        if fp.is_some() && store.meta(&key)? == fp {
            continue;
        }
        let started = Instant::now();
        let stats = source.import(store, table)?;
        if let Some(fp) = fp {
            store.set_meta(&key, &fp)?;
        }
        tracing::info!(
            source = %name,
            wallets_new = stats.wallets_new,
            wallets_earlier = stats.wallets_earlier,
            actions_new = stats.actions_new,
            actions_known = stats.actions_known,
            ms = started.elapsed().as_millis() as u64,
            "imported activity"
        );
        total.wallets_new += stats.wallets_new;
        total.wallets_known += stats.wallets_known;
        total.wallets_earlier += stats.wallets_earlier;
        total.actions_new += stats.actions_new;
        total.actions_known += stats.actions_known;
    }
    Ok(total)
}

/// The keeper's `[input]` files as one follower. The keeper imports them at the start of every
/// tick ([`InputFiles::import_changed`], `Until::CaughtUp`); followed on their own they are
/// checked every `poll`.
#[derive(Debug, Clone)]
pub struct InputFiles {
    pub files: Vec<InputFile>,
    /// Every kind an action may name.
    pub kinds: WeightTable,
    pub poll: Duration,
    /// Fingerprint of each file whose last import failed ([`InputFiles::import_each`]).
    failed: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
}

/// What [`InputFiles::import_each`] did.
#[derive(Debug, Clone, Default)]
pub struct FileImports {
    pub stats: ImportStats,
    /// Every file is imported cleanly (none missing or failing).
    pub complete: bool,
}

impl InputFiles {
    pub fn new(files: Vec<InputFile>, kinds: WeightTable, poll: Duration) -> Self {
        Self {
            files,
            kinds,
            poll,
            failed: Arc::default(),
        }
    }

    /// One pass, each file on its own: a file that fails (missing, a bad line, an `action_id`
    /// conflict) is reported in `status` (logged once per change of error, counted) and the
    /// others are imported all the same; it is not read again until its size or modification
    /// time changes. Returns what was imported and whether every file is imported cleanly (the
    /// runner closes epochs only then).
    pub fn import_each(&self, store: &dyn Store, status: &Status) -> FileImports {
        let mut out = FileImports {
            complete: true,
            ..FileImports::default()
        };
        for source in &self.files {
            let name = source.name();
            status.register_source(&name, SourceKind::File);
            let fp = source.fingerprint();
            let failed_before = status.source(&name).is_some_and(|s| s.state != "ok");
            let result = match &fp {
                None => Err(SourceError::File {
                    file: name.clone(),
                    message: "cannot read: no such file, or no size and modification time".into(),
                }),
                Some(fp) if failed_before && self.failed_at(&name).as_ref() == Some(fp) => {
                    // Unchanged since it failed: not parsed again.
                    out.complete = false;
                    continue;
                }
                Some(_) => import_sources(store, std::slice::from_ref(source), &self.kinds),
            };
            match result {
                Ok(stats) => {
                    status.source_ok(&name, SourceKind::File);
                    self.set_failed_at(&name, None);
                    out.stats.wallets_new += stats.wallets_new;
                    out.stats.wallets_known += stats.wallets_known;
                    out.stats.actions_new += stats.actions_new;
                    out.stats.actions_known += stats.actions_known;
                }
                Err(e) => {
                    out.complete = false;
                    status.source_failed(&name, SourceKind::File, &e.to_string());
                    self.set_failed_at(&name, fp);
                }
            }
        }
        out
    }

    fn failed_at(&self, name: &str) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn set_failed_at(&self, name: &str, fp: Option<String>) {
        let mut map = self
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match fp {
            Some(fp) => map.insert(name.to_string(), fp),
            None => map.remove(name),
        };
    }

    /// One pass: every changed file imported.
    pub fn import_changed(&self, store: &dyn Store) -> Result<FollowSummary, SourceError> {
        let stats = import_sources(store, &self.files, &self.kinds)?;
        Ok(FollowSummary {
            name: "input".into(),
            batches: u64::from(stats.actions_new + stats.wallets_new > 0),
            actions_new: stats.actions_new,
            actions_known: stats.actions_known,
            ..FollowSummary::default()
        })
    }
}

impl Follower for InputFiles {
    fn name(&self) -> String {
        "input".into()
    }

    fn kind(&self) -> SourceKind {
        SourceKind::File
    }

    fn follow<'a>(
        &'a self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Result<FollowSummary, SourceError>> {
        Box::pin(follower::by_passes(
            self.name(),
            until,
            self.poll,
            stop,
            move || {
                let pass = self.import_changed(&*store)?;
                if let Some(s) = &status {
                    s.imported_actions.fetch_add(pass.actions_new, Ordering::Relaxed);
                }
                Ok(pass)
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bad line in one file is reported (once, with the file and line), the other file is
    /// imported all the same, and the failing file is not parsed again until it changes.
    #[test]
    fn a_failing_file_is_isolated_and_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = flex_store::SqliteStore::open(dir.path().join("k.db")).unwrap();
        let mut kinds = WeightTable::new();
        kinds.insert_str("swap", "1").unwrap();
        let good = dir.path().join("good.jsonl");
        let bad = dir.path().join("bad.jsonl");
        let w = "0x1111111111111111111111111111111111111111";
        std::fs::write(&good, format!("{{\"wallet\":\"{w}\",\"connected_at\":1}}\n{{\"action_id\":\"g1\",\"wallet\":\"{w}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":5}}\n")).unwrap();
        std::fs::write(&bad, format!("{{\"action_id\":\"b1\",\"wallet\":\"{w}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":6}}\n{{\"action_id\":\"b2\",\"wallet\":\"0x12\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":7}}\n")).unwrap();
        let files = InputFiles::new(
            vec![InputFile::lines(bad.clone()), InputFile::lines(good.clone())],
            kinds,
            Duration::from_millis(10),
        );
        let status = Status::default();
        let out = files.import_each(&store, &status);
        assert!(!out.complete);
        assert_eq!(out.stats.actions_new, 1, "the good file is imported");
        let b = status.source(&bad.display().to_string()).unwrap();
        assert_eq!((b.state, b.failures), ("failed", 1));
        assert!(
            b.error
                .as_deref()
                .unwrap_or_default()
                .contains("bad.jsonl:2: field \"wallet\""),
            "{b:?}"
        );
        assert_eq!(status.source(&good.display().to_string()).unwrap().state, "ok");
        // Unchanged: not read again, not reported again, still incomplete.
        let out = files.import_each(&store, &status);
        assert!(!out.complete);
        assert_eq!(status.source(&bad.display().to_string()).unwrap().failures, 1);
        // Fixed: imported, recovered, complete.
        std::fs::write(&bad, format!("{{\"action_id\":\"b1\",\"wallet\":\"{w}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":6}}\n")).unwrap();
        let out = files.import_each(&store, &status);
        assert!(out.complete);
        assert_eq!(out.stats.actions_new, 1);
        assert_eq!(status.source(&bad.display().to_string()).unwrap().state, "ok");
        // A missing file fails (once) and holds the inputs incomplete.
        std::fs::remove_file(&good).unwrap();
        assert!(!files.import_each(&store, &status).complete);
        let g = status.source(&good.display().to_string()).unwrap();
        assert_eq!((g.state, g.failures), ("failed", 1));
    }
}
