//! The transaction pool JSON, read as a stream:
//! `{"wallets":[{"address","connected_at","actions":{"onchain":[{"action_id","kind","timestamp",...}],"offchain":[...]}}]}`.
//! Unknown fields are ignored.

use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;

use flex_engine::{Action, Address, Wallet, WeightTable};
use serde::de::{self, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::timestamp::parse_rfc3339;
use crate::{IngestError, Location};

/// Which list an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Onchain,
    Offchain,
}

impl Side {
    /// The list's key in the pool JSON.
    pub fn name(self) -> &'static str {
        match self {
            Side::Onchain => "onchain",
            Side::Offchain => "offchain",
        }
    }
}

/// A parsed, checked and deduplicated pool, ready for [`flex_engine::Replay::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPool {
    /// In file order.
    pub wallets: Vec<Wallet>,
    /// In file order, each `action_id` once; `wallet` indexes `wallets`.
    pub actions: Vec<Action>,
    /// Copies of an already seen `action_id` (identical content) that were dropped.
    pub duplicate_actions: u64,
}

/// Reads a pool file as a stream (see the crate docs).
pub fn read_pool(path: &Path, table: &WeightTable) -> Result<ParsedPool, IngestError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|error| IngestError::Io {
        file: file.clone(),
        error,
    })?;
    parse_pool(BufReader::with_capacity(1 << 20, f), &file, table)
}

/// Parses a pool from any reader; `file` names it in errors. Kinds are resolved against `table`:
/// an action whose kind is not in the table is an error.
pub fn parse_pool<R: Read>(reader: R, file: &str, table: &WeightTable) -> Result<ParsedPool, IngestError> {
    parse(reader, file, table, false).map(|(pool, _)| pool)
}

/// The identity of each action of a [`ParsedPool`] (aligned with `actions`): its `action_id` (an
/// integer id as its decimal text) and its side. For stores that deduplicate across imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionIds {
    pub ids: Vec<String>,
    pub sides: Vec<Side>,
}

/// [`read_pool`], also returning each kept action's `action_id` and side.
pub fn read_pool_with_ids(path: &Path, table: &WeightTable) -> Result<(ParsedPool, ActionIds), IngestError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|error| IngestError::Io {
        file: file.clone(),
        error,
    })?;
    let (pool, ids) = parse(BufReader::with_capacity(1 << 20, f), &file, table, true)?;
    Ok((
        pool,
        ids.unwrap_or(ActionIds {
            ids: Vec::new(),
            sides: Vec::new(),
        }),
    ))
}

/// [`parse_pool`], also returning each kept action's `action_id` and side (the caller buffers the
/// reader: it is read in small pieces).
pub fn parse_pool_with_ids<R: Read>(
    reader: R,
    file: &str,
    table: &WeightTable,
) -> Result<(ParsedPool, ActionIds), IngestError> {
    let (pool, ids) = parse(reader, file, table, true)?;
    Ok((
        pool,
        ids.unwrap_or(ActionIds {
            ids: Vec::new(),
            sides: Vec::new(),
        }),
    ))
}

fn parse<R: Read>(
    reader: R,
    file: &str,
    table: &WeightTable,
    keep_ids: bool,
) -> Result<(ParsedPool, Option<ActionIds>), IngestError> {
    let mut st = State {
        keep_ids,
        table,
        wallets: Vec::new(),
        actions: Vec::new(),
        ids: Vec::new(),
        ctx: Ctx::default(),
        problem: None,
        failure: None,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = de.deserialize_map(Root { st: &mut st }).and_then(|()| de.end());
    if let Err(e) = result {
        if let Some((location, message)) = st.failure.take() {
            return Err(IngestError::Pool {
                file: file.into(),
                location: Box::new(location),
                message,
            });
        }
        let location = st.location(&st.ctx.clone());
        let message = if e.is_io() {
            format!("read error: {e}")
        } else {
            e.to_string()
        };
        return Err(IngestError::Pool {
            file: file.into(),
            location: Box::new(location),
            message,
        });
    }
    st.finish(file)
}

/// The current position in the file (cheap to copy; turned into a [`Location`] only on error).
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    wallet: Option<usize>,
    address: Option<Address>,
    side: Option<Side>,
    action: Option<usize>,
    id: Option<(u64, u32)>,
    field: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
struct RawAction {
    id_off: u64,
    id_len: u32,
    wallet: u32,
    index: u32,
    kind: u16,
    side: Side,
    timestamp: i64,
}

struct State<'t> {
    keep_ids: bool,
    table: &'t WeightTable,
    wallets: Vec<Wallet>,
    actions: Vec<RawAction>,
    /// Every action id's bytes, back to back.
    ids: Vec<u8>,
    ctx: Ctx,
    /// The first problem in the current wallet; parsing goes on to the end of the wallet so that
    /// the report can name the wallet's address and the action's id even when they come later.
    problem: Option<(Ctx, String)>,
    failure: Option<(Location, String)>,
}

impl State<'_> {
    fn id(&self, off: u64, len: u32) -> &[u8] {
        &self.ids[off as usize..off as usize + len as usize]
    }

    fn location(&self, ctx: &Ctx) -> Location {
        Location {
            wallet: ctx.wallet,
            address: ctx.address.map(|a| a.to_string()),
            side: ctx.side,
            action: ctx.action,
            action_id: ctx
                .id
                .map(|(o, l)| String::from_utf8_lossy(self.id(o, l)).into_owned()),
            field: ctx.field,
        }
    }

    fn problem(&mut self, field: &'static str, message: String) {
        if self.problem.is_none() {
            self.problem = Some((
                Ctx {
                    field: Some(field),
                    ..self.ctx
                },
                message,
            ));
        }
    }

    /// Fails now, at the current position.
    fn fail<E: de::Error>(&mut self, field: Option<&'static str>, message: String) -> E {
        let loc = self.location(&Ctx { field, ..self.ctx });
        self.failure = Some((loc, message));
        E::custom("invalid pool")
    }

    fn finish(mut self, file: &str) -> Result<(ParsedPool, Option<ActionIds>), IngestError> {
        let err = |location: Location, message: String| IngestError::Pool {
            file: file.into(),
            location: Box::new(location),
            message,
        };
        // A wallet listed twice.
        let mut order: Vec<u32> = (0..self.wallets.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (self.wallets[i as usize].address, i));
        if let Some(w) = order
            .windows(2)
            .find(|w| self.wallets[w[0] as usize].address == self.wallets[w[1] as usize].address)
        {
            let (first, again) = (w[0] as usize, w[1] as usize);
            let location = Location {
                wallet: Some(again),
                address: Some(self.wallets[again].address.to_string()),
                field: Some("address"),
                ..Location::default()
            };
            return Err(err(
                location,
                format!("wallet listed twice (also at wallets[{first}])"),
            ));
        }
        drop(order);
        // Duplicate action ids: identical content counts once, different content is an error.
        let mut order: Vec<u32> = (0..self.actions.len() as u32).collect();
        let id_of = |i: u32| {
            let a = &self.actions[i as usize];
            self.id(a.id_off, a.id_len)
        };
        order.sort_unstable_by(|&a, &b| id_of(a).cmp(id_of(b)).then(a.cmp(&b)));
        let mut keep = vec![true; self.actions.len()];
        let mut duplicates = 0u64;
        let mut g = 0;
        while g < order.len() {
            let first = self.actions[order[g] as usize];
            let mut k = g + 1;
            while k < order.len() && id_of(order[k]) == id_of(order[g]) {
                let other = self.actions[order[k] as usize];
                let differs = if other.wallet != first.wallet {
                    Some("wallet")
                } else if other.side != first.side {
                    Some("side")
                } else if other.kind != first.kind {
                    Some("kind")
                } else if other.timestamp != first.timestamp {
                    Some("timestamp")
                } else {
                    None
                };
                if let Some(field) = differs {
                    let at = |a: &RawAction| Ctx {
                        wallet: Some(a.wallet as usize),
                        address: Some(self.wallets[a.wallet as usize].address),
                        side: Some(a.side),
                        action: Some(a.index as usize),
                        id: Some((a.id_off, a.id_len)),
                        field: Some(field),
                    };
                    let earlier = self.location(&Ctx {
                        field: None,
                        ..at(&first)
                    });
                    return Err(err(
                        self.location(&at(&other)),
                        format!("duplicate action_id with different {field} than {earlier}"),
                    ));
                }
                keep[order[k] as usize] = false;
                duplicates += 1;
                k += 1;
            }
            g = k;
        }
        drop(order);
        let ids = self.keep_ids.then(|| {
            let kept = || self.actions.iter().zip(&keep).filter(|(_, &k)| k).map(|(a, _)| a);
            ActionIds {
                ids: kept()
                    .map(|a| String::from_utf8_lossy(self.id(a.id_off, a.id_len)).into_owned())
                    .collect(),
                sides: kept().map(|a| a.side).collect(),
            }
        });
        self.ids = Vec::new(); // the id bytes are no longer needed: free them before the copy
        let actions = self
            .actions
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(a, _)| Action {
                wallet: a.wallet,
                kind: a.kind,
                timestamp: a.timestamp,
            })
            .collect();
        Ok((
            ParsedPool {
                wallets: self.wallets,
                actions,
                duplicate_actions: duplicates,
            },
            ids,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Wallets,
    Address,
    ConnectedAt,
    Actions,
    Onchain,
    Offchain,
    ActionId,
    Kind,
    Timestamp,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "wallets" => Key::Wallets,
            "address" => Key::Address,
            "connected_at" => Key::ConnectedAt,
            "actions" => Key::Actions,
            "onchain" => Key::Onchain,
            "offchain" => Key::Offchain,
            "action_id" => Key::ActionId,
            "kind" => Key::Kind,
            "timestamp" => Key::Timestamp,
            _ => Key::Other,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Field values: any JSON type is consumed; a wrong type or a bad value becomes a message, so that
// the error can be reported with the full context once the enclosing object has been read.

trait Field: Sized {
    type Out;
    fn expecting(&self) -> &'static str;
    fn on_str(self, v: &str) -> Result<Self::Out, String> {
        Err(format!("expected {}, found the string {v:?}", self.expecting()))
    }
    fn on_int(self, v: i128) -> Result<Self::Out, String> {
        Err(format!("expected {}, found the number {v}", self.expecting()))
    }
}

struct FieldSeed<F>(F);

impl<'de, F: Field> DeserializeSeed<'de> for FieldSeed<F> {
    type Value = Result<F::Out, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: Field> Visitor<'de> for FieldSeed<F> {
    type Value = Result<F::Out, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expecting())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.on_str(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.on_int(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.on_int(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(format!(
            "expected {}, found the non-integer number {v:?}",
            self.0.expecting()
        )))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(format!("expected {}, found {v}", self.0.expecting())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(format!("expected {}, found null", self.0.expecting())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(format!("expected {}, found an array", self.0.expecting())))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(format!("expected {}, found an object", self.0.expecting())))
    }
}

struct AddressField;

impl Field for AddressField {
    type Out = Address;
    fn expecting(&self) -> &'static str {
        "an address string \"0x\" + 40 hex digits"
    }
    fn on_str(self, v: &str) -> Result<Address, String> {
        v.parse().map_err(|e| format!("{v:?} is not an address: {e}"))
    }
}

struct TimestampField;

impl Field for TimestampField {
    type Out = i64;
    fn expecting(&self) -> &'static str {
        "an RFC 3339 date-time string or unix seconds (an integer, or a string of digits)"
    }
    fn on_str(self, v: &str) -> Result<i64, String> {
        // Unix seconds written as a string ("1767225600"): no RFC 3339 date-time is all digits.
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return v
                .parse::<i64>()
                .map_err(|_| format!("unix seconds {v} out of range"));
        }
        parse_rfc3339(v).map_err(|e| e.to_string())
    }
    fn on_int(self, v: i128) -> Result<i64, String> {
        i64::try_from(v).map_err(|_| format!("unix seconds {v} out of range"))
    }
}

struct KindField<'t>(&'t WeightTable);

impl Field for KindField<'_> {
    type Out = u16;
    fn expecting(&self) -> &'static str {
        "a kind string from the weight table"
    }
    fn on_str(self, v: &str) -> Result<u16, String> {
        self.0
            .kind(v)
            .ok_or_else(|| format!("unknown kind {v:?} (not in the weight table)"))
    }
}

/// Appends the id's bytes to the arena. An integer id is its decimal text (`7` and `"7"` are the
/// same id).
struct IdField<'a>(&'a mut Vec<u8>);

impl IdField<'_> {
    fn push(self, bytes: &[u8]) -> Result<(u64, u32), String> {
        if bytes.is_empty() {
            return Err("empty action_id".into());
        }
        let len = u32::try_from(bytes.len()).map_err(|_| "action_id too long".to_string())?;
        let off = self.0.len() as u64;
        self.0.extend_from_slice(bytes);
        Ok((off, len))
    }
}

impl Field for IdField<'_> {
    type Out = (u64, u32);
    fn expecting(&self) -> &'static str {
        "an action_id string or integer"
    }
    fn on_str(self, v: &str) -> Result<(u64, u32), String> {
        // Ids of the chain followers and of attesters are not a file's to take (`crate::ids`).
        if let Some(prefix) = crate::ids::reserved_prefix(v) {
            return Err(crate::ids::reserved_message(v, prefix));
        }
        self.push(v.as_bytes())
    }
    fn on_int(self, v: i128) -> Result<(u64, u32), String> {
        self.push(v.to_string().as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// Structure

struct Root<'s, 't> {
    st: &'s mut State<'t>,
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pool object {\"wallets\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == Key::Wallets {
                if seen {
                    return Err(self.st.fail(Some("wallets"), "field given twice".into()));
                }
                seen = true;
                map.next_value_seed(Wallets { st: &mut *self.st })?;
                self.st.ctx = Ctx::default();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            return Err(self.st.fail(Some("wallets"), "missing field".into()));
        }
        Ok(())
    }
}

struct Wallets<'s, 't> {
    st: &'s mut State<'t>,
}

impl<'de> DeserializeSeed<'de> for Wallets<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Wallets<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of wallets")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let index = self.st.wallets.len();
            if index >= u32::MAX as usize {
                return Err(self.st.fail(None, "too many wallets".into()));
            }
            self.st.ctx = Ctx {
                wallet: Some(index),
                ..Ctx::default()
            };
            if seq.next_element_seed(WalletSeed { st: &mut *self.st })?.is_none() {
                return Ok(());
            }
        }
    }
}

struct WalletSeed<'s, 't> {
    st: &'s mut State<'t>,
}

impl<'de> DeserializeSeed<'de> for WalletSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for WalletSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a wallet object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        let (mut address, mut connected_at, mut actions) = (None, None, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Address => {
                    st.ctx.field = Some("address");
                    let r = map.next_value_seed(FieldSeed(AddressField))?;
                    st.ctx.field = None;
                    match r {
                        _ if address.is_some() => st.problem("address", "field given twice".into()),
                        Ok(a) => {
                            address = Some(a);
                            st.ctx.address = Some(a);
                        }
                        Err(m) => st.problem("address", m),
                    }
                }
                Key::ConnectedAt => {
                    st.ctx.field = Some("connected_at");
                    let r = map.next_value_seed(FieldSeed(TimestampField))?;
                    st.ctx.field = None;
                    match r {
                        _ if connected_at.is_some() => st.problem("connected_at", "field given twice".into()),
                        Ok(t) => connected_at = Some(t),
                        Err(m) => st.problem("connected_at", m),
                    }
                }
                Key::Actions => {
                    if actions {
                        st.problem("actions", "field given twice".into());
                    }
                    actions = true;
                    st.ctx.field = Some("actions");
                    map.next_value_seed(Actions { st: &mut *st })?;
                    st.ctx = Ctx {
                        wallet: st.ctx.wallet,
                        address: st.ctx.address,
                        ..Ctx::default()
                    };
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if address.is_none() {
            st.problem("address", "missing field".into());
        }
        if connected_at.is_none() {
            st.problem("connected_at", "missing field".into());
        }
        match (st.problem.take(), address, connected_at) {
            (None, Some(address), Some(connected_at)) => {
                st.wallets.push(Wallet {
                    address,
                    connected_at,
                });
                Ok(())
            }
            (Some((mut ctx, message)), ..) => {
                ctx.address = ctx.address.or(address);
                st.failure = Some((st.location(&ctx), message));
                Err(A::Error::custom("invalid wallet"))
            }
            _ => Err(A::Error::custom("invalid wallet")), // unreachable: a missing field is a problem
        }
    }
}

struct Actions<'s, 't> {
    st: &'s mut State<'t>,
}

impl<'de> DeserializeSeed<'de> for Actions<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Actions<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"onchain\": [...], \"offchain\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = [false; 2];
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let side = match key {
                Key::Onchain => Side::Onchain,
                Key::Offchain => Side::Offchain,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            self.st.ctx.side = Some(side);
            self.st.ctx.field = None;
            if std::mem::replace(&mut seen[side as usize], true) {
                self.st
                    .problem("actions", format!("list {:?} given twice", side.name()));
            }
            map.next_value_seed(ActionList {
                st: &mut *self.st,
                side,
            })?;
            self.st.ctx.side = None;
            self.st.ctx.action = None;
            self.st.ctx.id = None;
        }
        Ok(())
    }
}

struct ActionList<'s, 't> {
    st: &'s mut State<'t>,
    side: Side,
}

impl<'de> DeserializeSeed<'de> for ActionList<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ActionList<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of actions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            self.st.ctx.side = Some(self.side);
            self.st.ctx.action = Some(index);
            self.st.ctx.id = None;
            self.st.ctx.field = None;
            let seed = ActionSeed {
                st: &mut *self.st,
                side: self.side,
                index,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
}

struct ActionSeed<'s, 't> {
    st: &'s mut State<'t>,
    side: Side,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for ActionSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ActionSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an action object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        let had_problem = st.problem.is_some();
        let (mut id, mut kind, mut timestamp) = (None, None, None);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let field = match key {
                Key::ActionId => "action_id",
                Key::Kind => "kind",
                Key::Timestamp => "timestamp",
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            st.ctx.field = Some(field);
            let twice = match key {
                Key::ActionId => {
                    let r = map.next_value_seed(FieldSeed(IdField(&mut st.ids)))?;
                    let twice = id.is_some();
                    match r {
                        Ok(range) if !twice => {
                            id = Some(range);
                            st.ctx.id = Some(range);
                        }
                        Ok(_) => {}
                        Err(m) => st.problem(field, m),
                    }
                    twice
                }
                Key::Kind => {
                    let r = map.next_value_seed(FieldSeed(KindField(st.table)))?;
                    let twice = kind.is_some();
                    match r {
                        Ok(k) => kind = Some(k),
                        Err(m) => st.problem(field, m),
                    }
                    twice
                }
                _ => {
                    let r = map.next_value_seed(FieldSeed(TimestampField))?;
                    let twice = timestamp.is_some();
                    match r {
                        Ok(t) => timestamp = Some(t),
                        Err(m) => st.problem(field, m),
                    }
                    twice
                }
            };
            if twice {
                st.problem(field, "field given twice".into());
            }
            st.ctx.field = None;
        }
        for (missing, field) in [
            (id.is_none(), "action_id"),
            (kind.is_none(), "kind"),
            (timestamp.is_none(), "timestamp"),
        ] {
            if missing {
                st.problem(field, "missing field".into());
            }
        }
        if !had_problem {
            if let Some((ctx, _)) = st.problem.as_mut() {
                ctx.id = ctx.id.or(id); // name the action by its id even if the id came after the fault
            }
        }
        if let (None, Some((id_off, id_len)), Some(kind), Some(timestamp)) =
            (&st.problem, id, kind, timestamp)
        {
            st.actions.push(RawAction {
                id_off,
                id_len,
                wallet: st.wallets.len() as u32,
                index: u32::try_from(self.index).map_err(|_| A::Error::custom("too many actions"))?,
                kind,
                side: self.side,
                timestamp,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
