//! [`Store`] on SQLite: one file, WAL journal, `synchronous = FULL` (a committed epoch survives a
//! power cut, not only a killed process), migrations by `PRAGMA user_version`.
//!
//! One writer connection behind a mutex, and a small pool of reader connections (WAL lets readers
//! run beside the writer), so the API keeps serving while the keeper writes an epoch.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::{
    ActionRow, Address, ClaimRow, EpochRecord, Hash, ImportBatch, ImportStats, MonthRecord, Phase, Result,
    ScoreRow, Store, StoreError, StoredTree, WalletEpochRow, WalletRow,
};
use crate::{ArchivedBatch, OffchainBatch, OffchainImport};

/// Each migration moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE wallets (
        address BLOB PRIMARY KEY,
        connected_at INTEGER NOT NULL,
        source TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE actions (
        action_id TEXT PRIMARY KEY,
        wallet BLOB NOT NULL,
        kind TEXT NOT NULL,
        side TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        source TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX actions_by_time ON actions (timestamp);
    CREATE TABLE epochs (
        epoch INTEGER PRIMARY KEY,
        month_index INTEGER NOT NULL,
        phase TEXT NOT NULL,
        commitment BLOB NOT NULL,
        commitment_hash BLOB NOT NULL,
        scores_root BLOB NOT NULL,
        active INTEGER NOT NULL,
        ranked INTEGER NOT NULL,
        multiplier_sum TEXT NOT NULL,
        total_weight TEXT NOT NULL,
        pool TEXT NOT NULL,
        distributed TEXT NOT NULL,
        wallet_index INTEGER NOT NULL,
        halving INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        forecast TEXT NOT NULL,
        wallets INTEGER NOT NULL,
        voted INTEGER NOT NULL,
        note TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE wallet_epochs (
        epoch INTEGER NOT NULL,
        wallet BLOB NOT NULL,
        score INTEGER NOT NULL,
        weight BLOB NOT NULL,
        reward BLOB NOT NULL,
        PRIMARY KEY (epoch, wallet)
    ) WITHOUT ROWID;
    CREATE INDEX wallet_epochs_by_wallet ON wallet_epochs (wallet, epoch);
    CREATE TABLE months (
        month_index INTEGER PRIMARY KEY,
        phase TEXT NOT NULL,
        root BLOB NOT NULL,
        root_hash BLOB NOT NULL,
        claims_root BLOB NOT NULL,
        total TEXT NOT NULL,
        claim_price TEXT NOT NULL,
        first_epoch INTEGER NOT NULL,
        end_epoch INTEGER NOT NULL,
        claims INTEGER NOT NULL,
        voted INTEGER NOT NULL,
        note TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE claims (
        month_index INTEGER NOT NULL,
        wallet BLOB NOT NULL,
        amount BLOB NOT NULL,
        tree_index INTEGER NOT NULL,
        PRIMARY KEY (month_index, wallet)
    ) WITHOUT ROWID;
    CREATE TABLE trees (
        kind TEXT NOT NULL,
        id INTEGER NOT NULL,
        root BLOB NOT NULL,
        nodes BLOB NOT NULL,
        PRIMARY KEY (kind, id)
    );
    "#,
    // 2: the epoch read covers (timestamp, wallet, kind) from the index alone, without a lookup
    // of each action row by its id (19 s -> about 1 s for 1.5M actions).
    r#"
    DROP INDEX actions_by_time;
    CREATE INDEX actions_by_time ON actions (timestamp, wallet, kind);
    "#,
    // 3: the forecast's details (JSON) beside the published bits, for the API.
    r#"
    ALTER TABLE epochs ADD COLUMN forecast_detail TEXT NOT NULL DEFAULT '';
    "#,
    // 4: off-chain submissions: each attester's last accepted nonce (u64, 8 bytes big-endian) and
    // the batches accepted (`sqlite/offchain.rs`).
    r#"
    CREATE TABLE offchain_attesters (
        attester BLOB PRIMARY KEY,
        last_nonce BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE offchain_batches (
        attester BLOB NOT NULL,
        nonce BLOB NOT NULL,
        digest BLOB NOT NULL,
        actions INTEGER NOT NULL,
        via TEXT NOT NULL,
        accepted_at INTEGER NOT NULL,
        PRIMARY KEY (attester, nonce)
    ) WITHOUT ROWID;
    "#,
    // 5: compact actions (bulk import at about a million a second): the kind and the source as
    // small integers (tables `kinds`, `sources`), the side as 0 (onchain) / 1 (offchain), and an
    // `action_id` that is the canonical decimal of an i64 stored as that integer (`sqlite/bulk.rs`,
    // `id_key`; any other id stays text). Rows and index entries shrink by about half.
    r#"
    CREATE TABLE kinds (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    INSERT INTO kinds (name) SELECT DISTINCT kind FROM actions ORDER BY kind;
    INSERT INTO sources (name) SELECT DISTINCT source FROM actions ORDER BY source;
    CREATE TABLE actions_compact (
        action_id PRIMARY KEY,
        wallet BLOB NOT NULL,
        kind INTEGER NOT NULL,
        side INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        source INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO actions_compact (action_id, wallet, kind, side, timestamp, source)
    SELECT CASE WHEN CAST(CAST(a.action_id AS INTEGER) AS TEXT) = a.action_id
                THEN CAST(a.action_id AS INTEGER) ELSE a.action_id END,
           a.wallet, k.id,
           CASE a.side WHEN 'onchain' THEN 0 WHEN 'offchain' THEN 1 END,
           a.timestamp, s.id
    FROM actions AS a JOIN kinds AS k ON k.name = a.kind JOIN sources AS s ON s.name = a.source;
    DROP TABLE actions;
    ALTER TABLE actions_compact RENAME TO actions;
    CREATE INDEX actions_by_time ON actions (timestamp, wallet, kind);
    "#,
    // 6: a text `action_id` is stored as its natural-order key, a blob (`sqlite/bulk.rs`,
    // `natural_key`: counters order by value, so counter-numbered ids are appended in order; the
    // rows are re-keyed in Rust: `migrate_data`); a wallet's source as its `sources` id.
    r#"
    INSERT INTO sources (name) SELECT DISTINCT source FROM wallets
        WHERE source NOT IN (SELECT name FROM sources) ORDER BY source;
    CREATE TABLE wallets_compact (
        address BLOB PRIMARY KEY,
        connected_at INTEGER NOT NULL,
        source INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO wallets_compact (address, connected_at, source)
    SELECT w.address, w.connected_at, s.id FROM wallets AS w JOIN sources AS s ON s.name = w.source;
    DROP TABLE wallets;
    ALTER TABLE wallets_compact RENAME TO wallets;
    "#,
    // 7: the natural-order key takes only counters as numbers, not the digits of hex strings (a
    // hash id's key no longer grows by two bytes per digit run); re-keyed in Rust: `migrate_data`.
    "-- 7: bulk::rekey_blob_ids",
    // 8: each accepted off-chain batch kept whole (its compact JSON envelope, signature included),
    // so a keeper rebuilding its history can re-import and re-verify it (`sqlite/offchain.rs`);
    // batches accepted before have none. And ids of the off-chain namespace `off:0x<attester>:`
    // get its compact key (`bulk::natural_key`; re-keyed in Rust: `migrate_data`).
    r#"
    ALTER TABLE offchain_batches ADD COLUMN envelope TEXT;
    "#,
];

const READERS: usize = 4;

/// Every connection's durability and cache settings.
const NORMAL_PRAGMAS: &str = "PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;";
/// The writer's settings during `import_stream` (see there), restored to [`NORMAL_PRAGMAS`] after.
const BULK_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -524288;";

/// The SQLite store.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn open_conn(path: &Path) -> Result<Connection> {
    let open_err = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(open_err)?;
    // 16 KiB pages for a new database (an existing one keeps its own): a bulk import's commit writes
    // a quarter of the WAL frames of 4 KiB pages.
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(open_err)?;
    conn.execute_batch(NORMAL_PRAGMAS).map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable (SQLite rolls back an unfinished
    // transaction when it is dropped), so a poisoned lock is taken over.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn be(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

fn from_be(b: &[u8], what: &'static str) -> Result<u128> {
    <[u8; 16]>::try_from(b)
        .map(u128::from_be_bytes)
        .map_err(|_| StoreError::Corrupt { what })
}

fn addr(b: &[u8], what: &'static str) -> Result<Address> {
    <[u8; 20]>::try_from(b)
        .map(Address)
        .map_err(|_| StoreError::Corrupt { what })
}

fn hash(b: &[u8], what: &'static str) -> Result<Hash> {
    <[u8; 32]>::try_from(b).map_err(|_| StoreError::Corrupt { what })
}

fn dec(s: &str, what: &'static str) -> Result<u128> {
    s.parse().map_err(|_| StoreError::Corrupt { what })
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut writer = open_conn(path)?;
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_conn(path)?);
        }
        Ok(Self {
            writer: Mutex::new(writer),
            readers: Mutex::new(readers),
            path: path.display().to_string(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Copies the WAL into the database file and truncates it (after a large import).
    pub fn checkpoint(&self) -> Result<()> {
        lock(&self.writer).execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_conn(Path::new(&self.path))?,
        };
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        // IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before the first
        // read, so a read-then-write step cannot fail midway with SQLITE_BUSY when another process
        // (an import, a follower) writes to the same file.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    loop {
        // IMMEDIATE takes the write lock before the version is read: two processes opening a new
        // database at once (a keeper and an operator's tool) must not both run the same step.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        let Some(sql) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        migrate_data(&tx, version + 1)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
    }
}

/// The data changes of migrations that SQL alone cannot express, after their SQL.
fn migrate_data(tx: &Transaction<'_>, version: i64) -> Result<()> {
    match version {
        6 => bulk::rekey_text_ids(tx)?,
        7 => bulk::rekey_blob_ids(tx)?,
        8 => bulk::rekey_offchain_ids(tx)?,
        _ => {}
    }
    Ok(())
}

fn epoch_from_row(r: &Row<'_>) -> rusqlite::Result<RawEpoch> {
    Ok(RawEpoch {
        epoch: r.get(0)?,
        month_index: r.get(1)?,
        phase: r.get(2)?,
        commitment: r.get(3)?,
        commitment_hash: r.get(4)?,
        scores_root: r.get(5)?,
        active: r.get(6)?,
        ranked: r.get(7)?,
        multiplier_sum: r.get(8)?,
        total_weight: r.get(9)?,
        pool: r.get(10)?,
        distributed: r.get(11)?,
        wallet_index: r.get(12)?,
        halving: r.get(13)?,
        snapshot: r.get(14)?,
        forecast: r.get(15)?,
        wallets: r.get(16)?,
        voted: r.get(17)?,
        note: r.get(18)?,
        updated_at: r.get(19)?,
        forecast_detail: r.get(20)?,
    })
}

const EPOCH_COLS: &str = "epoch, month_index, phase, commitment, commitment_hash, scores_root, active, ranked, \
     multiplier_sum, total_weight, pool, distributed, wallet_index, halving, snapshot, forecast, wallets, voted, \
     note, updated_at, forecast_detail";

struct RawEpoch {
    epoch: i64,
    month_index: i64,
    phase: String,
    commitment: Vec<u8>,
    commitment_hash: Vec<u8>,
    scores_root: Vec<u8>,
    active: i64,
    ranked: i64,
    multiplier_sum: String,
    total_weight: String,
    pool: String,
    distributed: String,
    wallet_index: i64,
    halving: i64,
    snapshot: String,
    forecast: String,
    wallets: i64,
    voted: bool,
    note: String,
    updated_at: i64,
    forecast_detail: String,
}

impl RawEpoch {
    fn into_record(self) -> Result<EpochRecord> {
        Ok(EpochRecord {
            epoch: self.epoch as u64,
            month_index: self.month_index as u32,
            phase: Phase::parse(&self.phase).ok_or(StoreError::Corrupt { what: "epochs.phase" })?,
            commitment: self.commitment,
            commitment_hash: hash(&self.commitment_hash, "epochs.commitment_hash")?,
            scores_root: hash(&self.scores_root, "epochs.scores_root")?,
            active: self.active as u64,
            ranked: self.ranked as u64,
            multiplier_sum: dec(&self.multiplier_sum, "epochs.multiplier_sum")?,
            total_weight: dec(&self.total_weight, "epochs.total_weight")?,
            pool: dec(&self.pool, "epochs.pool")?,
            distributed: dec(&self.distributed, "epochs.distributed")?,
            wallet_index: self.wallet_index as u8,
            halving: self.halving as u64,
            snapshot: dec(&self.snapshot, "epochs.snapshot")?,
            forecast: dec(&self.forecast, "epochs.forecast")?,
            wallets: self.wallets as u64,
            voted: self.voted,
            note: self.note,
            updated_at: self.updated_at,
            forecast_detail: self.forecast_detail,
        })
    }
}

const MONTH_COLS: &str =
    "month_index, phase, root, root_hash, claims_root, total, claim_price, first_epoch, \
     end_epoch, claims, voted, note, updated_at";

fn month_from_row(r: &Row<'_>) -> rusqlite::Result<RawMonth> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

type RawMonth = (
    i64,
    String,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    String,
    String,
    i64,
    i64,
    i64,
    bool,
    String,
    i64,
);

fn month_record(m: RawMonth) -> Result<MonthRecord> {
    Ok(MonthRecord {
        month_index: m.0 as u32,
        phase: Phase::parse(&m.1).ok_or(StoreError::Corrupt { what: "months.phase" })?,
        root: m.2,
        root_hash: hash(&m.3, "months.root_hash")?,
        claims_root: hash(&m.4, "months.claims_root")?,
        total: dec(&m.5, "months.total")?,
        claim_price: dec(&m.6, "months.claim_price")?,
        first_epoch: m.7 as u64,
        end_epoch: m.8 as u64,
        claims: m.9 as u64,
        voted: m.10,
        note: m.11,
        updated_at: m.12,
    })
}

impl Store for SqliteStore {
    fn import(&self, source: &str, wallets: &[WalletRow], actions: &[ActionRow]) -> Result<ImportStats> {
        let batch = bulk::batch_of(wallets, actions)?;
        self.write(|tx| {
            let mut imp = bulk::Importer::new(tx, source)?;
            imp.batch(&batch)?;
            Ok(imp.stats)
        })
    }

    fn import_stream(
        &self,
        source: &str,
        batches: &mut dyn Iterator<Item = std::result::Result<ImportBatch, String>>,
    ) -> Result<ImportStats> {
        let mut conn = lock(&self.writer);
        // For the import's duration only: a larger page cache (fewer spills of dirty pages to the
        // WAL inside the transaction), and `synchronous = NORMAL`, under which a WAL commit is not
        // followed by an fsync of its own (the WAL is synced before each checkpoint, so the
        // database cannot be corrupted; a power cut right after the commit can lose the import,
        // which re-importing the file restores). Still one transaction: all or nothing.
        conn.execute_batch(BULK_PRAGMAS)?;
        let out = (|| -> Result<ImportStats> {
            let tx = conn.transaction()?;
            let stats = {
                let mut imp = bulk::Importer::new(&tx, source)?;
                for b in batches {
                    let b = b.map_err(|reason| StoreError::Aborted {
                        source_name: source.to_string(),
                        reason,
                    })?;
                    imp.batch(&b)?;
                }
                imp.stats
            };
            tx.commit()?;
            Ok(stats)
        })();
        let restored = conn.execute_batch(NORMAL_PRAGMAS);
        let stats = out?;
        restored?;
        Ok(stats)
    }

    fn input_counts(&self) -> Result<(u64, u64)> {
        self.read(|c| {
            let w: i64 = c.query_row("SELECT count(*) FROM wallets", [], |r| r.get(0))?;
            let a: i64 = c.query_row("SELECT count(*) FROM actions", [], |r| r.get(0))?;
            Ok((w as u64, a as u64))
        })
    }

    fn wallets_connected_before(&self, before: i64) -> Result<Vec<WalletRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT address, connected_at FROM wallets WHERE connected_at < ?1 ORDER BY address",
            )?;
            let mut rows = st.query([before])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let a: Vec<u8> = r.get(0)?;
                out.push(WalletRow {
                    address: addr(&a, "wallets.address")?,
                    connected_at: r.get(1)?,
                });
            }
            Ok(out)
        })
    }

    fn actions_between(&self, start: i64, end: i64) -> Result<Vec<(Address, String, i64)>> {
        self.read(|c| {
            let mut kinds: Vec<(i64, String)> = Vec::new();
            {
                let mut st = c.prepare_cached("SELECT id, name FROM kinds")?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    kinds.push((r.get(0)?, r.get(1)?));
                }
            }
            kinds.sort_unstable();
            let mut st = c.prepare_cached(
                "SELECT wallet, kind, timestamp FROM actions WHERE timestamp >= ?1 AND timestamp < ?2",
            )?;
            let mut rows = st.query([start, end])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let a: Vec<u8> = r.get(0)?;
                let k: i64 = r.get(1)?;
                let kind = kinds
                    .binary_search_by_key(&k, |(id, _)| *id)
                    .map(|i| kinds[i].1.clone())
                    .map_err(|_| StoreError::Corrupt { what: "actions.kind" })?;
                out.push((addr(&a, "actions.wallet")?, kind, r.get(2)?));
            }
            Ok(out)
        })
    }

    fn wallet(&self, address: &Address) -> Result<Option<WalletRow>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT connected_at FROM wallets WHERE address = ?1")?
                    .query_row([&address.0[..]], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(|connected_at| WalletRow {
                        address: *address,
                        connected_at,
                    }),
            )
        })
    }

    fn save_epoch(&self, e: &EpochRecord, rows: &[ScoreRow]) -> Result<()> {
        self.write(|tx| {
            let epoch = e.epoch as i64;
            tx.execute("DELETE FROM wallet_epochs WHERE epoch = ?1", [epoch])?;
            tx.execute("DELETE FROM epochs WHERE epoch = ?1", [epoch])?;
            tx.execute(
                &format!("INSERT INTO epochs ({EPOCH_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"),
                params![
                    epoch,
                    e.month_index,
                    e.phase.as_str(),
                    e.commitment,
                    &e.commitment_hash[..],
                    &e.scores_root[..],
                    e.active as i64,
                    e.ranked as i64,
                    e.multiplier_sum.to_string(),
                    e.total_weight.to_string(),
                    e.pool.to_string(),
                    e.distributed.to_string(),
                    e.wallet_index,
                    e.halving as i64,
                    e.snapshot.to_string(),
                    e.forecast.to_string(),
                    e.wallets as i64,
                    e.voted,
                    e.note,
                    now(),
                    e.forecast_detail,
                ],
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO wallet_epochs (epoch, wallet, score, weight, reward) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in rows {
                ins.execute(params![epoch, &r.wallet.0[..], r.score, &be(r.weight)[..], &be(r.reward)[..]])?;
            }
            Ok(())
        })
    }

    fn epoch(&self, epoch: u64) -> Result<Option<EpochRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {EPOCH_COLS} FROM epochs WHERE epoch = ?1"))?
                .query_row([epoch as i64], epoch_from_row)
                .optional()?
                .map(RawEpoch::into_record)
                .transpose()
        })
    }

    fn last_epoch(&self) -> Result<Option<u64>> {
        self.read(|c| {
            let v: Option<i64> = c.query_row("SELECT max(epoch) FROM epochs", [], |r| r.get(0))?;
            Ok(v.map(|v| v as u64))
        })
    }

    fn open_epochs(&self) -> Result<Vec<u64>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT epoch FROM epochs WHERE phase NOT IN ('finalized', 'mismatch') ORDER BY epoch",
            )?;
            let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
            Ok(rows
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .map(|e| e as u64)
                .collect())
        })
    }

    fn set_epoch_phase(&self, epoch: u64, phase: Phase, voted: bool, note: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE epochs SET phase = ?2, voted = ?3, note = ?4, updated_at = ?5 WHERE epoch = ?1",
                params![epoch as i64, phase.as_str(), voted, note, now()],
            )?;
            Ok(())
        })
    }

    fn wallet_epochs(&self, address: &Address, from: u64, to: u64) -> Result<Vec<WalletEpochRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT epoch, score, weight, reward FROM wallet_epochs WHERE wallet = ?1 AND epoch >= ?2 \
                 AND epoch < ?3 ORDER BY epoch",
            )?;
            let mut rows = st.query(params![
                &address.0[..],
                from as i64,
                to.min(i64::MAX as u64) as i64
            ])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let w: Vec<u8> = r.get(2)?;
                let rw: Vec<u8> = r.get(3)?;
                out.push(WalletEpochRow {
                    epoch: r.get::<_, i64>(0)? as u64,
                    score: r.get(1)?,
                    weight: from_be(&w, "wallet_epochs.weight")?,
                    reward: from_be(&rw, "wallet_epochs.reward")?,
                });
            }
            Ok(out)
        })
    }

    fn reward_totals(&self, first: u64, end: u64) -> Result<Vec<(Address, u128)>> {
        self.read(|c| {
            // u128 sums are done here, not in SQL (SQLite integers are 64-bit).
            let mut st = c.prepare_cached(
                "SELECT wallet, reward FROM wallet_epochs WHERE epoch >= ?1 AND epoch < ?2",
            )?;
            let mut rows = st.query([first as i64, end as i64])?;
            let mut totals: std::collections::BTreeMap<Address, u128> = std::collections::BTreeMap::new();
            while let Some(r) = rows.next()? {
                let a: Vec<u8> = r.get(0)?;
                let rw: Vec<u8> = r.get(1)?;
                let t = totals.entry(addr(&a, "wallet_epochs.wallet")?).or_default();
                *t = t
                    .checked_add(from_be(&rw, "wallet_epochs.reward")?)
                    .ok_or(StoreError::Corrupt {
                        what: "reward total overflows u128",
                    })?;
            }
            Ok(totals.into_iter().collect())
        })
    }

    fn save_month(&self, m: &MonthRecord, tree: &StoredTree) -> Result<()> {
        self.write(|tx| {
            let month = i64::from(m.month_index);
            tx.execute("DELETE FROM claims WHERE month_index = ?1", [month])?;
            tx.execute("DELETE FROM months WHERE month_index = ?1", [month])?;
            tx.execute("DELETE FROM trees WHERE kind = 'claims' AND id = ?1", [month])?;
            tx.execute(
                &format!("INSERT INTO months ({MONTH_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
                params![
                    month,
                    m.phase.as_str(),
                    m.root,
                    &m.root_hash[..],
                    &m.claims_root[..],
                    m.total.to_string(),
                    m.claim_price.to_string(),
                    m.first_epoch as i64,
                    m.end_epoch as i64,
                    m.claims as i64,
                    m.voted,
                    m.note,
                    now(),
                ],
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO claims (month_index, wallet, amount, tree_index) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in &tree.leaves {
                ins.execute(params![month, &c.wallet.0[..], &be(c.amount)[..], c.tree_index])?;
            }
            let mut nodes = Vec::with_capacity(tree.nodes.len() * 32);
            for n in &tree.nodes {
                nodes.extend_from_slice(n);
            }
            tx.execute(
                "INSERT INTO trees (kind, id, root, nodes) VALUES ('claims', ?1, ?2, ?3)",
                params![month, &tree.root[..], nodes],
            )?;
            Ok(())
        })
    }

    fn month(&self, month_index: u32) -> Result<Option<MonthRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {MONTH_COLS} FROM months WHERE month_index = ?1"))?
                .query_row([i64::from(month_index)], month_from_row)
                .optional()?
                .map(month_record)
                .transpose()
        })
    }

    fn months(&self) -> Result<Vec<MonthRecord>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {MONTH_COLS} FROM months ORDER BY month_index"))?;
            let rows = st.query_map([], month_from_row)?;
            rows.map(|r| month_record(r?)).collect()
        })
    }

    fn set_month_phase(&self, month_index: u32, phase: Phase, voted: bool, note: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE months SET phase = ?2, voted = ?3, note = ?4, updated_at = ?5 WHERE month_index = ?1",
                params![i64::from(month_index), phase.as_str(), voted, note, now()],
            )?;
            Ok(())
        })
    }

    fn claim(&self, month_index: u32, wallet: &Address) -> Result<Option<ClaimRow>> {
        self.read(|c| {
            let row: Option<(Vec<u8>, u32)> = c
                .prepare_cached(
                    "SELECT amount, tree_index FROM claims WHERE month_index = ?1 AND wallet = ?2",
                )?
                .query_row(params![i64::from(month_index), &wallet.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            row.map(|(amount, tree_index)| {
                Ok(ClaimRow {
                    wallet: *wallet,
                    amount: from_be(&amount, "claims.amount")?,
                    tree_index,
                })
            })
            .transpose()
        })
    }

    fn claim_tree(&self, month_index: u32) -> Result<Option<StoredTree>> {
        self.read(|c| {
            let tree: Option<(Vec<u8>, Vec<u8>)> = c
                .prepare_cached("SELECT root, nodes FROM trees WHERE kind = 'claims' AND id = ?1")?
                .query_row([i64::from(month_index)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((root, blob)) = tree else {
                return Ok(None);
            };
            if blob.len() % 32 != 0 {
                return Err(StoreError::Corrupt { what: "trees.nodes" });
            }
            let nodes = blob
                .chunks_exact(32)
                .map(|c| hash(c, "trees.nodes"))
                .collect::<Result<Vec<_>>>()?;
            let mut st = c.prepare_cached(
                "SELECT wallet, amount, tree_index FROM claims WHERE month_index = ?1 ORDER BY wallet",
            )?;
            let mut rows = st.query([i64::from(month_index)])?;
            let mut leaves = Vec::new();
            while let Some(r) = rows.next()? {
                let w: Vec<u8> = r.get(0)?;
                let a: Vec<u8> = r.get(1)?;
                leaves.push(ClaimRow {
                    wallet: addr(&w, "claims.wallet")?,
                    amount: from_be(&a, "claims.amount")?,
                    tree_index: r.get(2)?,
                });
            }
            Ok(Some(StoredTree {
                root: hash(&root, "trees.root")?,
                nodes,
                leaves,
            }))
        })
    }

    fn import_offchain(&self, batch: &OffchainBatch<'_>, actions: &[ActionRow]) -> Result<OffchainImport> {
        self.offchain_import(batch, actions)
    }

    fn offchain_nonce(&self, attester: &Address) -> Result<Option<u64>> {
        self.offchain_last_nonce(attester)
    }

    fn offchain_batch(&self, attester: &Address, nonce: u64) -> Result<Option<Hash>> {
        self.offchain_batch_digest(attester, nonce)
    }

    fn offchain_archive(
        &self,
        visit: &mut dyn FnMut(ArchivedBatch) -> std::result::Result<(), String>,
    ) -> Result<()> {
        self.offchain_batches(visit)
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )?;
            Ok(())
        })
    }
}

mod bulk;
mod offchain;
mod raw;

#[cfg(test)]
mod tests;
