//! Action import on SQLite, the one path behind `Store::import`, `Store::import_stream` and the
//! off-chain batches: multi-row `INSERT ... ON CONFLICT DO NOTHING` of [`CHUNK`] rows per statement,
//! and an exact check of every row that was not inserted.
//!
//! Per chunk of `k` rows: the insert reports how many rows it added (`c`). When `c < k` some ids
//! were there already (or twice in the chunk), and one `SELECT count(*)` joins the chunk's rows to
//! the stored ones on the id *and* the content (wallet, kind, side, timestamp): all `k` must match,
//! then `k - c` are known; otherwise the first row in input order whose stored copy differs is the
//! conflict, named with its field. After a chunk that was all known, the next one is checked first
//! and inserted only if something in it is new (a re-import costs one lookup per row, not two).
//! The multi-row statements are [`RawStatement`]s (blobs bound without a copy).

use std::collections::HashMap;

use rusqlite::{CachedStatement, Connection};

use super::raw::RawStatement;
use crate::{ActionRow, ActionSide, ActionView, ImportBatch, ImportStats, Result, StoreError, WalletRow};

/// Rows per statement (6 parameters a row for the insert, 5 for the check: well under SQLite's
/// 32766 parameters).
pub(super) const CHUNK: usize = 128;

/// `action_id` as stored. An id that is the canonical decimal of an `i64` (`"7"`, `"-3"`, not
/// `"07"`, `"+7"` or `"-0"`) is stored as that integer (8 bytes at most). Any other id is stored as
/// a blob, its [`natural_key`]. Ids are strings by meaning; both forms are one-to-one encodings of
/// them (an integer never equals a blob in SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdKey<'a> {
    Int(i64),
    Key(&'a [u8]),
}

/// The stored key of `s`, using `buf` for a blob key.
pub(super) fn id_key<'b>(s: &str, buf: &'b mut Vec<u8>) -> IdKey<'b> {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = !digits.is_empty()
        && digits.len() <= 19
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || (digits.len() == 1 && digits.len() == b.len()));
    match canonical.then(|| s.parse::<i64>().ok()).flatten() {
        Some(i) => IdKey::Int(i),
        None => {
            natural_key(s, buf);
            IdKey::Key(buf)
        }
    }
}

/// The key of a text id: its bytes, except that a run of ASCII digits that reads as a counter (not
/// after a hex letter `a-f`/`A-F`, not before a letter or digit: `act-10`, `:123:`, but not the
/// digits inside `0x9a3f…`) is written as `0x01`, the run's length and the digits (a run over 255
/// digits in pieces of 255), and a literal `0x00` or `0x01` byte is escaped by a `0x00` before it.
///
/// The key decodes back to the id ([`decode_key`]), so distinct ids have distinct keys, whichever
/// runs were taken as counters. And ids that differ in a counter order as the counters' values
/// (`act-9` < `act-10` < `act-100`; as text, `act-10` < `act-100` < `act-9`): the ids of a
/// counter-numbered stream (`act-<n>`, `sub:…:<block>:<event>`) arrive in ascending key order, so
/// SQLite appends them to the primary key's last page instead of splitting pages all over the
/// tree; hex digits are left as they are (no longer than the id).
///
/// An off-chain id's namespace, `off:0x<attester: 40 lowercase hex digits>:` at the start
/// ([`offchain_prefix`]), is written as `0x00 0x02` and the attester's 20 bytes: 22 bytes instead of
/// 47, in a key that is in every row and every index entry. `0x00 0x02` is in no other key (`0x00`
/// escapes only `0x00` and `0x01`).
pub(super) fn natural_key(s: &str, out: &mut Vec<u8>) {
    out.clear();
    let b = s.as_bytes();
    let mut i = 0;
    if let Some(attester) = offchain_prefix(b) {
        out.extend_from_slice(&OFFCHAIN_MARK);
        out.extend_from_slice(&attester);
        i = OFFCHAIN_PREFIX_LEN;
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let after_hex = start > 0 && b[start - 1].is_ascii_hexdigit();
            let before_word = b.get(i).is_some_and(u8::is_ascii_alphanumeric);
            if after_hex || before_word {
                out.extend_from_slice(&b[start..i]);
            } else {
                for piece in b[start..i].chunks(255) {
                    out.push(1);
                    out.push(piece.len() as u8);
                    out.extend_from_slice(piece);
                }
            }
        } else {
            if c <= 1 {
                out.push(0);
            }
            out.push(c);
            i += 1;
        }
    }
}

/// The key's mark of an off-chain namespace ([`natural_key`]).
const OFFCHAIN_MARK: [u8; 2] = [0, 2];
/// `off:0x` + 40 hex digits + `:`.
const OFFCHAIN_PREFIX_LEN: usize = 47;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The attester of an id that starts with `off:0x<40 lowercase hex digits>:` (`flex_ingest::ids`).
fn offchain_prefix(b: &[u8]) -> Option<[u8; 20]> {
    let digits = b.strip_prefix(b"off:0x")?.get(..41)?;
    if digits[40] != b':' {
        return None;
    }
    let nibble = |c: u8| HEX.iter().position(|&h| h == c).map(|v| v as u8);
    let mut a = [0u8; 20];
    for (byte, pair) in a.iter_mut().zip(digits[..40].chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(a)
}

/// The id a [`natural_key`] was made from (of any version of it: schema 6 length-prefixed every
/// digit run, schema 7 only counters; both decode the same way). `None`: not a key.
pub(super) fn decode_key(k: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(k.len() + OFFCHAIN_PREFIX_LEN);
    let mut i = 0;
    if let Some(rest) = k.strip_prefix(&OFFCHAIN_MARK) {
        out.extend_from_slice(b"off:0x");
        for &byte in rest.get(..20)? {
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        }
        out.push(b':');
        i = 22;
    }
    while i < k.len() {
        match k[i] {
            0 => {
                out.push(*k.get(i + 1)?);
                i += 2;
            }
            1 => {
                let n = usize::from(*k.get(i + 1)?);
                out.extend_from_slice(k.get(i + 2..i + 2 + n)?);
                i += 2 + n;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl rusqlite::ToSql for IdKey<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match *self {
            IdKey::Int(i) => i.into(),
            IdKey::Key(k) => k.into(),
        })
    }
}

/// Schema 7: the keys of schema 6 (every digit run length-prefixed) re-made with the
/// [`natural_key`] of schema 7 (counters only). Old and new keys decode the same way, so a new
/// key never equals another id's old key.
pub(super) fn rekey_blob_ids(tx: &Connection) -> Result<()> {
    let keys: Vec<Vec<u8>> = tx
        .prepare("SELECT action_id FROM actions WHERE typeof(action_id) = 'blob'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = tx.prepare("UPDATE actions SET action_id = ?1 WHERE action_id = ?2")?;
    let mut key = Vec::new();
    for old in &keys {
        let id = decode_key(old).ok_or(StoreError::Corrupt {
            what: "actions.action_id",
        })?;
        natural_key(&id, &mut key);
        if key != *old {
            st.execute(rusqlite::params![&key[..], &old[..]])?;
        }
    }
    Ok(())
}

/// Schema 8: off-chain ids (`off:0x<attester>:…`, before only a file could give one) take the
/// compact key of their namespace ([`natural_key`]). Only keys starting with `off:0x` are read.
pub(super) fn rekey_offchain_ids(tx: &Connection) -> Result<()> {
    let keys: Vec<Vec<u8>> = tx
        .prepare(
            "SELECT action_id FROM actions WHERE typeof(action_id) = 'blob' \
             AND action_id >= CAST('off:0x' AS BLOB) AND action_id < CAST('off:0y' AS BLOB)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = tx.prepare("UPDATE actions SET action_id = ?1 WHERE action_id = ?2")?;
    let mut key = Vec::new();
    for old in &keys {
        let id = decode_key(old).ok_or(StoreError::Corrupt {
            what: "actions.action_id",
        })?;
        natural_key(&id, &mut key);
        if key != *old {
            st.execute(rusqlite::params![&key[..], &old[..]])?;
        }
    }
    Ok(())
}

/// Schema 6: the text ids of schema 5 become their [`natural_key`] blobs.
pub(super) fn rekey_text_ids(tx: &Connection) -> Result<()> {
    let ids: Vec<String> = tx
        .prepare("SELECT action_id FROM actions WHERE typeof(action_id) = 'text'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = tx.prepare("UPDATE actions SET action_id = ?1 WHERE action_id = ?2")?;
    let mut key = Vec::new();
    for id in &ids {
        natural_key(id, &mut key);
        st.execute(rusqlite::params![&key[..], id])?;
    }
    Ok(())
}

/// The stored side code.
pub(super) fn side_code(s: ActionSide) -> i64 {
    match s {
        ActionSide::Onchain => 0,
        ActionSide::Offchain => 1,
    }
}

fn values(rows: usize, per_row: usize, first: usize, tail: &str) -> String {
    let mut s = String::with_capacity(rows * per_row * 6);
    let mut n = first;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..per_row {
            if c > 0 {
                s.push(',');
            }
            s.push('?');
            s.push_str(&n.to_string());
            n += 1;
        }
        s.push_str(tail);
        s.push(')');
    }
    s
}

fn insert_sql(rows: usize) -> String {
    // ?1 is the source, bound once.
    format!(
        "INSERT OR IGNORE INTO actions (action_id, wallet, kind, side, timestamp, source) VALUES {}",
        values(rows, 5, 2, ",?1")
    )
}

fn wallets_sql(rows: usize) -> String {
    // ?1 is the source; a wallet seen before is left to `earlier_sql`.
    format!(
        "INSERT OR IGNORE INTO wallets (address, connected_at, source) VALUES {}",
        values(rows, 2, 2, ",?1")
    )
}

/// The same rows again, after `wallets_sql`: a wallet seen before takes the earlier connection
/// time (and the source that gave it), so the stored time is the minimum over every import,
/// whatever their order (`docs/PROTOCOL.md`, "Ingestion: files"). Rows are applied in turn, so a
/// wallet twice in one statement ends with the smaller of the two too.
fn earlier_sql(rows: usize) -> String {
    format!(
        "INSERT INTO wallets (address, connected_at, source) VALUES {} \
         ON CONFLICT (address) DO UPDATE SET connected_at = excluded.connected_at, source = excluded.source \
         WHERE excluded.connected_at < wallets.connected_at",
        values(rows, 2, 2, ",?1")
    )
}

fn check_sql(rows: usize) -> String {
    format!(
        "SELECT count(*) FROM (VALUES {}) AS v JOIN actions AS a ON a.action_id = v.column1 \
         WHERE a.wallet = v.column2 AND a.kind = v.column3 AND a.side = v.column4 \
         AND a.timestamp = v.column5",
        values(rows, 5, 1, "")
    )
}

/// Rows as one batch (`Store::import`).
pub(super) fn batch_of(wallets: &[WalletRow], actions: &[ActionRow]) -> Result<ImportBatch> {
    let mut b = ImportBatch::new();
    b.wallets.extend_from_slice(wallets);
    for a in actions {
        b.push_row(a, 0)?;
    }
    Ok(b)
}

/// A chunk's stored ids: integers, or ranges of one buffer of blob keys.
#[derive(Default)]
struct ChunkKeys {
    bytes: Vec<u8>,
    keys: Vec<Result<i64, (usize, usize)>>,
}

impl ChunkKeys {
    fn fill(&mut self, rows: &[ActionView<'_>]) {
        self.bytes.clear();
        self.keys.clear();
        let mut one = Vec::new();
        for a in rows {
            match id_key(a.action_id, &mut one) {
                IdKey::Int(i) => self.keys.push(Ok(i)),
                IdKey::Key(k) => {
                    let start = self.bytes.len();
                    self.bytes.extend_from_slice(k);
                    self.keys.push(Err((start, self.bytes.len())));
                }
            }
        }
    }
}

/// Binds `rows` as `(action_id, wallet, kind, side, timestamp)` from parameter `first` on. The
/// caller runs the statement before `rows` or `keys` change or go.
fn bind_rows(
    st: &mut RawStatement<'_>,
    first: usize,
    rows: &[ActionView<'_>],
    codes: &[i64],
    keys: &ChunkKeys,
) -> Result<()> {
    let mut bind = || -> rusqlite::Result<()> {
        for (i, ((a, code), key)) in rows.iter().zip(codes).zip(&keys.keys).enumerate() {
            let p = first + 5 * i;
            // SAFETY: the blobs are `keys.bytes` and the rows' wallets, which the caller keeps
            // unchanged until the statement has run (`execute`/`count` clear the bindings).
            unsafe {
                match *key {
                    Ok(int) => st.bind_i64(p, int)?,
                    Err((from, to)) => st.bind_blob(p, &keys.bytes[from..to])?,
                }
                st.bind_blob(p + 1, &a.wallet.0[..])?;
            }
            st.bind_i64(p + 2, *code)?;
            st.bind_i64(p + 3, side_code(a.side))?;
            st.bind_i64(p + 4, a.timestamp)?;
        }
        Ok(())
    };
    let out = bind();
    if out.is_err() {
        st.clear_bindings();
    }
    Ok(out?)
}

/// Imports actions and wallets inside one transaction (the caller's).
pub(super) struct Importer<'c> {
    tx: &'c Connection,
    source: String,
    source_id: i64,
    /// Stored kind ids by name.
    kind_ids: HashMap<String, i64>,
    ins_wallets: RawStatement<'c>,
    ins_wallet: RawStatement<'c>,
    earlier_wallets: RawStatement<'c>,
    earlier_wallet: RawStatement<'c>,
    ins_chunk: RawStatement<'c>,
    check_chunk: RawStatement<'c>,
    ins_one: RawStatement<'c>,
    check_one: RawStatement<'c>,
    get_one: CachedStatement<'c>,
    /// The last chunk was all known: check before inserting.
    check_first: bool,
    /// The current chunk's keys.
    keys: ChunkKeys,
    /// Scratch space for one key.
    key: Vec<u8>,
    pub(super) stats: ImportStats,
}

impl<'c> Importer<'c> {
    pub(super) fn new(tx: &'c Connection, source: &str) -> Result<Self> {
        tx.execute(
            "INSERT INTO sources (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
            [source],
        )?;
        let source_id: i64 =
            tx.query_row("SELECT id FROM sources WHERE name = ?1", [source], |r| r.get(0))?;
        let mut kind_ids = HashMap::new();
        {
            let mut st = tx.prepare_cached("SELECT id, name FROM kinds")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                kind_ids.insert(r.get::<_, String>(1)?, r.get::<_, i64>(0)?);
            }
        }
        Ok(Self {
            tx,
            source: source.to_string(),
            source_id,
            kind_ids,
            ins_wallets: RawStatement::prepare(tx, &wallets_sql(CHUNK))?,
            ins_wallet: RawStatement::prepare(tx, &wallets_sql(1))?,
            earlier_wallets: RawStatement::prepare(tx, &earlier_sql(CHUNK))?,
            earlier_wallet: RawStatement::prepare(tx, &earlier_sql(1))?,
            ins_chunk: RawStatement::prepare(tx, &insert_sql(CHUNK))?,
            check_chunk: RawStatement::prepare(tx, &check_sql(CHUNK))?,
            ins_one: RawStatement::prepare(tx, &insert_sql(1))?,
            check_one: RawStatement::prepare(tx, &check_sql(1))?,
            get_one: tx
                .prepare_cached("SELECT wallet, kind, side, timestamp FROM actions WHERE action_id = ?1")?,
            check_first: false,
            keys: ChunkKeys::default(),
            key: Vec::new(),
            stats: ImportStats::default(),
        })
    }

    fn kind_id(&mut self, name: &str) -> Result<i64> {
        if let Some(&id) = self.kind_ids.get(name) {
            return Ok(id);
        }
        self.tx.execute("INSERT INTO kinds (name) VALUES (?1)", [name])?;
        let id = self.tx.last_insert_rowid();
        self.kind_ids.insert(name.to_string(), id);
        Ok(id)
    }

    pub(super) fn wallets(&mut self, wallets: &[WalletRow]) -> Result<()> {
        let mut chunks = wallets.chunks_exact(CHUNK);
        for rows in chunks.by_ref() {
            self.wallet_rows(rows, true)?;
        }
        for w in chunks.remainder() {
            self.wallet_rows(std::slice::from_ref(w), false)?;
        }
        Ok(())
    }

    /// `rows`: `CHUNK` of them (`full`) or one. New wallets are inserted; when some were known,
    /// the rows go again through [`earlier_sql`] (the earliest `connected_at` wins).
    fn wallet_rows(&mut self, rows: &[WalletRow], full: bool) -> Result<()> {
        let source_id = self.source_id;
        let run = |st: &mut RawStatement<'_>| -> Result<usize> {
            let mut bind = || -> rusqlite::Result<()> {
                st.bind_i64(1, source_id)?;
                for (i, w) in rows.iter().enumerate() {
                    // SAFETY: `rows` is unchanged until `execute` below has run.
                    unsafe { st.bind_blob(2 + 2 * i, &w.address.0[..])? };
                    st.bind_i64(3 + 2 * i, w.connected_at)?;
                }
                Ok(())
            };
            if let Err(e) = bind() {
                st.clear_bindings();
                return Err(e.into());
            }
            Ok(st.execute()?)
        };
        let added = run(if full {
            &mut self.ins_wallets
        } else {
            &mut self.ins_wallet
        })?;
        self.stats.wallets_new += added as u64;
        self.stats.wallets_known += (rows.len() - added) as u64;
        if added < rows.len() {
            let moved = run(if full {
                &mut self.earlier_wallets
            } else {
                &mut self.earlier_wallet
            })?;
            self.stats.wallets_earlier += moved as u64;
        }
        Ok(())
    }

    pub(super) fn batch(&mut self, batch: &ImportBatch) -> Result<()> {
        self.wallets(&batch.wallets)?;
        let mut kinds = Vec::with_capacity(batch.kinds().len());
        for k in batch.kinds() {
            kinds.push(self.kind_id(k)?);
        }
        let mut chunk: Vec<ActionView<'_>> = Vec::with_capacity(CHUNK);
        for a in batch.actions() {
            chunk.push(a);
            if chunk.len() == CHUNK {
                self.chunk(&chunk, &kinds)?;
                chunk.clear();
            }
        }
        for a in &chunk {
            self.chunk(std::slice::from_ref(a), &kinds)?;
        }
        Ok(())
    }

    /// Imports `rows` (`CHUNK` of them, or one).
    fn chunk(&mut self, rows: &[ActionView<'_>], kinds: &[i64]) -> Result<()> {
        let k = rows.len();
        let mut codes = [0i64; CHUNK];
        for (c, a) in codes.iter_mut().zip(rows) {
            *c = *kinds.get(usize::from(a.kind_index)).ok_or(StoreError::Corrupt {
                what: "batch kind index",
            })?;
        }
        self.keys.fill(rows);
        if self.check_first && self.count_matching(rows, &codes)? == k {
            self.stats.actions_known += k as u64;
            return Ok(());
        }
        let ins = if k == CHUNK {
            &mut self.ins_chunk
        } else {
            &mut self.ins_one
        };
        ins.bind_i64(1, self.source_id)?;
        bind_rows(ins, 2, rows, &codes, &self.keys)?;
        let added = ins.execute()?;
        self.stats.actions_new += added as u64;
        if added == k {
            self.check_first = false;
            return Ok(());
        }
        if self.count_matching(rows, &codes)? != k {
            return Err(self.conflict(rows, &codes)?);
        }
        self.stats.actions_known += (k - added) as u64;
        self.check_first = added == 0;
        Ok(())
    }

    /// How many of `rows` are stored with exactly this content.
    fn count_matching(&mut self, rows: &[ActionView<'_>], codes: &[i64]) -> Result<usize> {
        let st = if rows.len() == CHUNK {
            &mut self.check_chunk
        } else {
            &mut self.check_one
        };
        bind_rows(st, 1, rows, codes, &self.keys)?;
        let n = st.count()?;
        Ok(n as usize)
    }

    /// The first row (in input order) whose stored copy differs, as an error.
    fn conflict(&mut self, rows: &[ActionView<'_>], codes: &[i64]) -> Result<StoreError> {
        for (a, &kind) in rows.iter().zip(codes) {
            let stored: Option<(Vec<u8>, i64, i64, i64)> = {
                let mut q = self.get_one.query([id_key(a.action_id, &mut self.key)])?;
                match q.next()? {
                    Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    None => None,
                }
            };
            let Some((wallet, k, side, ts)) = stored else {
                continue;
            };
            let field = if wallet != a.wallet.0 {
                "wallet"
            } else if side != side_code(a.side) {
                "side"
            } else if k != kind {
                "kind"
            } else if ts != a.timestamp {
                "timestamp"
            } else {
                continue;
            };
            return Ok(StoreError::ActionConflict {
                id: a.action_id.to_string(),
                field,
                source_name: if a.line > 0 {
                    format!("{}:{}", self.source, a.line)
                } else {
                    self.source.clone()
                },
            });
        }
        Err(StoreError::Corrupt {
            what: "actions: a chunk neither matches nor conflicts",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> IdKey<'static> {
        let mut buf = Vec::new();
        match id_key(s, &mut buf) {
            IdKey::Int(i) => IdKey::Int(i),
            IdKey::Key(_) => IdKey::Key(Vec::leak(buf)),
        }
    }

    fn decode(k: &[u8]) -> Vec<u8> {
        decode_key(k).expect("a key").into_bytes()
    }

    #[test]
    fn ids_are_integers_only_when_canonical() {
        assert_eq!(key("7"), IdKey::Int(7));
        assert_eq!(key("0"), IdKey::Int(0));
        assert_eq!(key("-3"), IdKey::Int(-3));
        assert_eq!(key("9223372036854775807"), IdKey::Int(i64::MAX));
        assert_eq!(key("-9223372036854775808"), IdKey::Int(i64::MIN));
        for text in [
            "07",
            "+7",
            "-0",
            "-",
            "",
            " 7",
            "7 ",
            "9223372036854775808",
            "-9223372036854775809",
            "1e3",
            "act-1",
            "00",
        ] {
            let IdKey::Key(k) = key(text) else {
                panic!("{text:?} is not an integer id")
            };
            assert_eq!(decode(k), text.as_bytes(), "{text:?}");
        }
        assert_eq!(key("act-12"), IdKey::Key(b"act-\x01\x0212"));
        // Hex digits and digits before a letter stay as they are; counters after ":" do not.
        assert_eq!(key("0x12ab9"), IdKey::Key(b"0x12ab9"));
        assert_eq!(key("evm:1:0xa9:17"), IdKey::Key(b"evm:\x01\x011:0xa9:\x01\x0217"));
        assert_eq!(key("x7y"), IdKey::Key(b"x7y"));
        assert_eq!(key("a\u{1}\u{0}b"), IdKey::Key(b"a\x00\x01\x00\x00b"));
        // An off-chain namespace: the mark and the attester's 20 bytes, then the attester's id.
        let off = format!("off:0x{}:x:post:1", "ab".repeat(20));
        let mut compact = vec![0u8, 2];
        compact.extend_from_slice(&[0xab; 20]);
        compact.extend_from_slice(b"x:post:\x01\x011");
        assert_eq!(key(&off), IdKey::Key(Vec::leak(compact)));
        // Not the exact form (upper case, short, no colon): bytes as they are.
        for text in [
            format!("off:0x{}:x", "AB".repeat(20)),
            format!("off:0x{}:x", "ab".repeat(19)),
            format!("off:0x{}x", "ab".repeat(20)),
            format!("off:0x{}", "ab".repeat(20)),
        ] {
            let IdKey::Key(k) = key(&text) else {
                panic!("{text:?}")
            };
            assert!(k.starts_with(b"off:0x"), "{text:?}");
            assert_eq!(decode(k), text.as_bytes(), "{text:?}");
        }
    }

    proptest::proptest! {
        /// Every key decodes back to its id (so distinct ids never share a key), off-chain
        /// namespaces included.
        #[test]
        fn natural_keys_decode_back(
            s in "[a-hx0-9:\\x00\\x01\\x02é-]{0,40}",
            run in 0usize..600,
            attester in proptest::option::of(proptest::array::uniform20(0u8..)),
        ) {
            let ns = attester.map(|a| {
                let hex: String = a.iter().map(|b| format!("{b:02x}")).collect();
                format!("off:0x{hex}:")
            });
            let s = format!("{}{s}{}", ns.unwrap_or_default(), "9".repeat(run));
            let mut k = Vec::new();
            natural_key(&s, &mut k);
            proptest::prop_assert_eq!(decode(&k), s.as_bytes());
        }

        /// Counter-numbered ids (a counter after punctuation) order as their counters.
        #[test]
        fn counters_order_by_value(a in 0u64..u64::MAX, b in 0u64..u64::MAX, p in "[a-z:-]{0,8}") {
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            natural_key(&format!("{p}-{a}:x"), &mut ka);
            natural_key(&format!("{p}-{b}:x"), &mut kb);
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }
    }

    #[test]
    fn statements_number_their_parameters() {
        assert_eq!(
            insert_sql(2),
            "INSERT OR IGNORE INTO actions (action_id, wallet, kind, side, timestamp, source) VALUES \
             (?2,?3,?4,?5,?6,?1),(?7,?8,?9,?10,?11,?1)"
        );
        assert!(check_sql(2).contains("(VALUES (?1,?2,?3,?4,?5),(?6,?7,?8,?9,?10))"));
    }
}
