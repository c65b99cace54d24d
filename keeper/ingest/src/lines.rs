//! The JSON-lines action log, parsed straight into [`ImportBatch`]es: one typed pass per line
//! (serde visitors over the line's bytes, strings borrowed, no `serde_json::Value`), the file read
//! in large blocks and split on newlines.
//!
//! A line is a connection `{"wallet":"0x…","connected_at":T}` or an action
//! `{"action_id":ID,"wallet":"0x…","kind":K,"side":"onchain"|"offchain","timestamp":T}`: `T` is
//! RFC 3339 or unix seconds (an integer or a string of digits), `ID` a non-empty string or an
//! integer (the same id as its decimal text), `K` a kind of the weight table (of any of its
//! versions). Other fields are ignored; a field given twice is an error; blank lines are skipped.
//! Errors name the file, the line (from 1) and the field.

use std::cell::Cell;
use std::fmt;
use std::io::Read;

use flex_engine::{Address, WeightTable};
use flex_store::{ActionSide, ImportBatch, WalletRow};
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

use crate::IngestError;

/// Actions per batch handed on.
pub const BATCH_ACTIONS: usize = 16_384;

/// What a read found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinesSummary {
    pub lines: u64,
    pub actions: u64,
    pub wallets: u64,
    pub bytes: u64,
}

/// Why a read stopped early without an error of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Reads a JSON-lines log from `reader` (`file` names it in errors). Each full batch (and the last
/// one) goes to `sink`, which answers `Err(Stopped)` to end the read (the consumer has gone);
/// `progress` gets the bytes consumed so far, once per block.
pub fn read_lines<R: Read>(
    mut reader: R,
    file: &str,
    kinds: &WeightTable,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(ImportBatch) -> Result<(), Stopped>,
) -> Result<Result<LinesSummary, Stopped>, IngestError> {
    let names: Vec<String> = (0..kinds.len())
        .filter_map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| kinds.name(i))
                .map(str::to_string)
        })
        .collect();
    let new_batch = || {
        let mut b = ImportBatch::with_kinds(names.iter().cloned());
        b.wallets.reserve(64);
        b
    };
    let mut batch = new_batch();
    let mut sum = LinesSummary::default();
    let mut buf: Vec<u8> = vec![0; 1 << 20];
    // `buf[start..end]` holds bytes read and not yet parsed.
    let (mut start, mut end) = (0usize, 0usize);
    let mut eof = false;
    let field = Cell::new(None);
    loop {
        // The next line, if `buf` holds a whole one (or the file ended).
        let line_end = memchr::memchr(b'\n', &buf[start..end]).map(|i| start + i);
        let (line, next) = match line_end {
            Some(e) => (start..e, e + 1),
            None if eof => {
                if start == end {
                    break;
                }
                (start..end, end)
            }
            None => {
                // Move the partial line to the front (or grow the buffer) and read more.
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                if end == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                let n = loop {
                    match reader.read(&mut buf[end..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(IngestError::Line {
                                file: file.to_string(),
                                line: sum.lines + 1,
                                message: format!("cannot read: {e}"),
                            })
                        }
                    }
                };
                if n == 0 {
                    eof = true;
                }
                end += n;
                sum.bytes += n as u64;
                progress(sum.bytes);
                continue;
            }
        };
        sum.lines += 1;
        let mut bytes = &buf[line];
        start = next;
        while let [rest @ .., last] = bytes {
            if last.is_ascii_whitespace() {
                bytes = rest;
            } else {
                break;
            }
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        field.set(None);
        let seed = LineSeed { kinds, field: &field };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed = seed.deserialize(&mut de).and_then(|l| de.end().map(|()| l));
        let at = |message: String| IngestError::Line {
            file: file.to_string(),
            line: sum.lines,
            message,
        };
        let parsed = parsed.map_err(|e| at(describe(&e, field.get())))?;
        match parsed {
            Line::Action {
                id,
                wallet,
                kind,
                side,
                timestamp,
            } => {
                batch
                    .push_action(id.as_str(), wallet, kind, side, timestamp, sum.lines)
                    .map_err(|e| at(e.to_string()))?;
                sum.actions += 1;
            }
            Line::Wallet { wallet, connected_at } => {
                batch.wallets.push(WalletRow {
                    address: wallet,
                    connected_at,
                });
                sum.wallets += 1;
            }
        }
        let full = batch.len() >= BATCH_ACTIONS || batch.wallets.len() >= BATCH_ACTIONS;
        if full && sink(std::mem::replace(&mut batch, new_batch())).is_err() {
            return Ok(Err(Stopped));
        }
    }
    if !batch.is_empty() && sink(batch).is_err() {
        return Ok(Err(Stopped));
    }
    Ok(Ok(sum))
}

/// serde_json's message with the field it was about, and the column instead of "line 1".
fn describe(e: &serde_json::Error, field: Option<&'static str>) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = text.strip_suffix(&suffix).unwrap_or(&text);
    let col = if e.column() > 0 {
        format!(" (column {})", e.column())
    } else {
        String::new()
    };
    match field {
        Some(f) => format!("field {f:?}: {msg}{col}"),
        None if e.is_syntax() || e.is_eof() => format!("not JSON: {msg}{col}"),
        None => format!("{msg}{col}"),
    }
}

/// One parsed line.
enum Line<'de> {
    Action {
        id: Id<'de>,
        wallet: Address,
        kind: u16,
        side: ActionSide,
        timestamp: i64,
    },
    Wallet {
        wallet: Address,
        connected_at: i64,
    },
}

/// An `action_id` as written.
enum Id<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Id<'_> {
    fn as_str(&self) -> &str {
        match self {
            Id::Borrowed(s) => s,
            Id::Owned(s) => s,
        }
    }
}

struct LineSeed<'a> {
    kinds: &'a WeightTable,
    /// The field being read, for errors.
    field: &'a Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = Line<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

enum Key {
    ActionId,
    Wallet,
    Kind,
    Side,
    Timestamp,
    ConnectedAt,
    Other,
}

impl Key {
    fn name(&self) -> &'static str {
        match self {
            Key::ActionId => "action_id",
            Key::Wallet => "wallet",
            Key::Kind => "kind",
            Key::Side => "side",
            Key::Timestamp => "timestamp",
            Key::ConnectedAt => "connected_at",
            Key::Other => "",
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "action_id" => Key::ActionId,
                    "wallet" => Key::Wallet,
                    "kind" => Key::Kind,
                    "side" => Key::Side,
                    "timestamp" => Key::Timestamp,
                    "connected_at" => Key::ConnectedAt,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = Line<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (an action or a wallet connection)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id: Option<Id<'de>> = None;
        let mut wallet: Option<Address> = None;
        let mut kind: Option<u16> = None;
        let mut side: Option<ActionSide> = None;
        let mut timestamp: Option<i64> = None;
        let mut connected_at: Option<i64> = None;
        fn once<T, E: serde::de::Error>(slot: &Option<T>) -> Result<(), E> {
            if slot.is_some() {
                Err(E::custom("given twice"))
            } else {
                Ok(())
            }
        }
        while let Some(key) = map.next_key::<Key>()? {
            if !matches!(key, Key::Other) {
                self.field.set(Some(key.name()));
            }
            match key {
                Key::ActionId => {
                    once(&id)?;
                    id = Some(map.next_value::<IdValue<'de>>()?.0);
                }
                Key::Wallet => {
                    once(&wallet)?;
                    wallet = Some(map.next_value_seed(WalletSeed)?);
                }
                Key::Kind => {
                    once(&kind)?;
                    kind = Some(map.next_value_seed(KindSeed(self.kinds))?);
                }
                Key::Side => {
                    once(&side)?;
                    side = Some(map.next_value_seed(SideSeed)?);
                }
                Key::Timestamp => {
                    once(&timestamp)?;
                    timestamp = Some(map.next_value_seed(TimeSeed)?);
                }
                Key::ConnectedAt => {
                    once(&connected_at)?;
                    connected_at = Some(map.next_value_seed(TimeSeed)?);
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            self.field.set(None);
        }
        let missing = |f: &'static str, what: &str| {
            self.field.set(Some(f));
            A::Error::custom(format!("missing ({what})"))
        };
        let wallet = match wallet {
            Some(w) => w,
            None => return Err(missing("wallet", "every line names its wallet")),
        };
        match id {
            Some(id) => {
                const ACTION: &str = "an action has action_id, wallet, kind, side and timestamp";
                Ok(Line::Action {
                    id,
                    wallet,
                    kind: kind.ok_or_else(|| missing("kind", ACTION))?,
                    side: side.ok_or_else(|| missing("side", ACTION))?,
                    timestamp: timestamp.ok_or_else(|| missing("timestamp", ACTION))?,
                })
            }
            None => Ok(Line::Wallet {
                wallet,
                connected_at: connected_at.ok_or_else(|| {
                    missing(
                        "connected_at",
                        "a line without action_id is a wallet connection: wallet and connected_at",
                    )
                })?,
            }),
        }
    }
}

struct IdValue<'de>(Id<'de>);

/// A file's string id: not empty, and not in a namespace reserved for another source
/// (`crate::ids`).
fn file_id<E: serde::de::Error>(v: &str) -> Result<(), E> {
    if v.is_empty() {
        return Err(E::custom("empty (expected a non-empty string or an integer)"));
    }
    if let Some(prefix) = crate::ids::reserved_prefix(v) {
        return Err(E::custom(crate::ids::reserved_message(v, prefix)));
    }
    Ok(())
}

impl<'de> serde::Deserialize<'de> for IdValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty string or an integer")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                file_id(v)?;
                Ok(IdValue(Id::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                file_id(v)?;
                Ok(IdValue(Id::Owned(v.to_string())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(IdValue(Id::Owned(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(IdValue(Id::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

struct WalletSeed;

impl<'de> DeserializeSeed<'de> for WalletSeed {
    type Value = Address;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Address, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for WalletSeed {
    type Value = Address;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an address string \"0x\" + 40 hex digits")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Address, E> {
        match fast_address(v.as_bytes()) {
            Some(a) => Ok(a),
            // The engine's parser, for its error message.
            None => v
                .parse()
                .map_err(|e| E::custom(format!("{v:?} is not an address: {e}"))),
        }
    }
}

/// Hex digit values (0xff: not a hex digit).
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// `0x`/`0X` + 40 hex digits in any case, as [`Address`]'s parser reads it (by table: this runs
/// once per line).
fn fast_address(b: &[u8]) -> Option<Address> {
    let digits = match b {
        [b'0', b'x' | b'X', rest @ ..] if rest.len() == 40 => rest,
        _ => return None,
    };
    let mut out = [0u8; 20];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(Address(out))
}

struct KindSeed<'a>(&'a WeightTable);

impl<'de> DeserializeSeed<'de> for KindSeed<'_> {
    type Value = u16;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u16, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KindSeed<'_> {
    type Value = u16;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kind string from the weight table")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u16, E> {
        self.0
            .kind(v)
            .ok_or_else(|| E::custom(format!("unknown kind {v:?} (in no version of the weight table)")))
    }
}

struct SideSeed;

impl<'de> DeserializeSeed<'de> for SideSeed {
    type Value = ActionSide;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ActionSide, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for SideSeed {
    type Value = ActionSide;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"onchain\" or \"offchain\"")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ActionSide, E> {
        ActionSide::parse(v)
            .ok_or_else(|| E::custom(format!("{v:?} is neither \"onchain\" nor \"offchain\"")))
    }
}

struct TimeSeed;

impl<'de> DeserializeSeed<'de> for TimeSeed {
    type Value = i64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for TimeSeed {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 date-time string or unix seconds (an integer, or a string of digits)")
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("unix seconds {v} out of range")))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        Err(E::custom(format!("{v} is not whole unix seconds")))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        // Unix seconds written as a string: no RFC 3339 date-time is all digits.
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return v
                .parse::<i64>()
                .map_err(|_| E::custom(format!("unix seconds {v} out of range")));
        }
        crate::parse_rfc3339(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> WeightTable {
        let mut t = WeightTable::new();
        t.insert_str("swap", "2.5").unwrap();
        t.insert_str("post", "1").unwrap();
        t
    }

    fn read(text: &str) -> Result<(LinesSummary, Vec<ImportBatch>), IngestError> {
        let mut out = Vec::new();
        let sum = read_lines(text.as_bytes(), "log.jsonl", &table(), &mut |_| {}, &mut |b| {
            out.push(b);
            Ok(())
        })?;
        Ok((sum.expect("the sink never stops"), out))
    }

    const W: &str = "0x00000000000000000000000000000000000000aA";

    #[test]
    fn actions_and_connections() {
        let text = format!(
            "{{\"wallet\":\"{W}\",\"connected_at\":\"2026-01-29T00:00:00Z\"}}\n\
             \n  \r\n\
             {{\"action_id\":7,\"wallet\":\"{W}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":1769645000,\"extra\":[1,{{}}]}}\r\n\
             {{\"timestamp\":\"1769645001\",\"side\":\"offchain\",\"kind\":\"post\",\"wallet\":\"{W}\",\"action_id\":\"a\\u0062c\"}}"
        );
        let (sum, batches) = read(&text).unwrap();
        assert_eq!((sum.lines, sum.actions, sum.wallets), (5, 2, 1));
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(
            b.wallets,
            vec![WalletRow {
                address: W.parse::<Address>().unwrap(),
                connected_at: 1_769_644_800
            }]
        );
        let a: Vec<_> = b.actions().collect();
        assert_eq!(
            (a[0].action_id, a[0].kind, a[0].side, a[0].timestamp, a[0].line),
            ("7", "swap", ActionSide::Onchain, 1_769_645_000, 4)
        );
        assert_eq!(
            (a[1].action_id, a[1].kind, a[1].side, a[1].timestamp, a[1].line),
            ("abc", "post", ActionSide::Offchain, 1_769_645_001, 5)
        );
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let good = format!(
            "{{\"action_id\":\"x\",\"wallet\":\"{W}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":1}}"
        );
        let cases = [
            (
                good.replace("\"swap\"", "\"mint\""),
                "field \"kind\": unknown kind \"mint\"",
            ),
            (
                good.replace("\"swap\"", "5"),
                "field \"kind\": invalid type: integer `5`",
            ),
            (
                good.replace("onchain", "sideways"),
                "field \"side\": \"sideways\"",
            ),
            (
                good.replace(":1}", ":1.5}"),
                "field \"timestamp\": 1.5 is not whole unix seconds",
            ),
            (
                good.replace(":1}", ":\"yesterday\"}"),
                "field \"timestamp\": \"yesterday\"",
            ),
            (good.replace("\"x\"", "\"\""), "field \"action_id\": empty"),
            (
                good.replace("\"x\"", "\"off:0xaa:x\""),
                "field \"action_id\": \"off:0xaa:x\": ids starting with \"off:\" are reserved for signed off-chain batches",
            ),
            (
                good.replace("\"x\"", "\"evm:1:0xab:0\""),
                "field \"action_id\": \"evm:1:0xab:0\": ids starting with \"evm:\" are reserved for the EVM follower",
            ),
            (
                good.replace("\"x\"", "\"sub:0x45:7:1\""),
                "ids starting with \"sub:\" are reserved for the Substrate follower",
            ),
            (
                good.replace("\"x\"", "true"),
                "field \"action_id\": invalid type: boolean",
            ),
            (
                good.replace(W, "0x12"),
                "field \"wallet\": \"0x12\" is not an address",
            ),
            (
                good.replace(",\"side\":\"onchain\"", ""),
                "field \"side\": missing",
            ),
            (good.replace("\"kind\":\"swap\",", ""), "field \"kind\": missing"),
            (
                good.replace("}", ",\"kind\":\"swap\"}"),
                "field \"kind\": given twice",
            ),
            (good.replace("}", ""), "not JSON: EOF while parsing an object"),
            (format!("{good} x"), "not JSON: trailing characters"),
            (
                "[1]".to_string(),
                "invalid type: sequence, expected a JSON object",
            ),
            (
                format!("{{\"wallet\":\"{W}\"}}"),
                "field \"connected_at\": missing",
            ),
            ("{\"connected_at\":1}".to_string(), "field \"wallet\": missing"),
        ];
        for (bad, needle) in cases {
            let text = format!("{good}\n\n{bad}\n{good}\n");
            let e = read(&text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.starts_with("log.jsonl:3: ") && e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn addresses_read_as_the_engine_reads_them() {
        for a in [
            "0x00000000000000000000000000000000000000aA",
            "0XFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "0x0123456789abcdefABCDEF0123456789abcdef01",
        ] {
            assert_eq!(fast_address(a.as_bytes()), a.parse::<Address>().ok(), "{a}");
        }
        for bad in [
            "0x00000000000000000000000000000000000000a",
            "0x00000000000000000000000000000000000000aG",
            "0y00000000000000000000000000000000000000aa",
            "00000000000000000000000000000000000000aa00",
            "0x00000000000000000000000000000000000000é",
        ] {
            assert_eq!(fast_address(bad.as_bytes()), None, "{bad}");
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn batches_are_cut_and_a_consumer_can_stop_the_read() {
        let mut text = String::new();
        for i in 0..(BATCH_ACTIONS + 5) {
            text.push_str(&format!(
                "{{\"action_id\":{i},\"wallet\":\"{W}\",\"kind\":\"post\",\"side\":\"onchain\",\"timestamp\":{i}}}\n"
            ));
        }
        let (sum, batches) = read(&text).unwrap();
        assert_eq!(sum.actions as usize, BATCH_ACTIONS + 5);
        assert_eq!(
            batches.iter().map(ImportBatch::len).collect::<Vec<_>>(),
            [BATCH_ACTIONS, 5]
        );
        let mut calls = 0;
        let r = read_lines(text.as_bytes(), "f", &table(), &mut |_| {}, &mut |_| {
            calls += 1;
            Err(Stopped)
        })
        .unwrap();
        assert_eq!((r, calls), (Err(Stopped), 1));
    }
}
