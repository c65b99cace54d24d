use super::*;
use crate::{ActionSide, ImportBatch};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path().join("keeper.db")).expect("open");
    (dir, s)
}

fn action(id: &str, wallet: u8, ts: i64) -> ActionRow {
    ActionRow {
        action_id: id.into(),
        wallet: Address([wallet; 20]),
        kind: "swap".into(),
        side: "onchain".into(),
        timestamp: ts,
    }
}

#[test]
fn import_is_idempotent_by_action_id_and_rejects_conflicts() {
    let (_d, s) = store();
    let wallets = [WalletRow {
        address: Address([1; 20]),
        connected_at: 10,
    }];
    let st = s
        .import("a", &wallets, &[action("x", 1, 20), action("y", 1, 30)])
        .unwrap();
    assert_eq!((st.wallets_new, st.actions_new, st.actions_known), (1, 2, 0));
    let st = s
        .import("b", &wallets, &[action("x", 1, 20), action("z", 1, 40)])
        .unwrap();
    assert_eq!((st.wallets_known, st.actions_new, st.actions_known), (1, 1, 1));
    assert_eq!(s.input_counts().unwrap(), (1, 3));
    let err = s
        .import("c", &[], &[action("z", 1, 41), action("w", 1, 50)])
        .unwrap_err();
    assert!(
        err.to_string().contains("action_id \"z\"") && err.to_string().contains("timestamp"),
        "{err}"
    );
    // All or nothing: "w" was not stored.
    assert_eq!(s.input_counts().unwrap(), (1, 3));
    assert_eq!(s.actions_between(20, 40).unwrap().len(), 2);
}

fn record(epoch: u64) -> EpochRecord {
    EpochRecord {
        epoch,
        month_index: 24312,
        phase: Phase::Computed,
        commitment: vec![1, 2, 3],
        commitment_hash: [9; 32],
        scores_root: [8; 32],
        active: 2,
        ranked: 1,
        multiplier_sum: 116,
        total_weight: u128::MAX,
        pool: 10,
        distributed: 10,
        wallet_index: 1,
        halving: 0,
        snapshot: 1000,
        forecast: 3 << 63,
        forecast_detail: format!("{{\"epoch\":{epoch}}}"),
        wallets: 2,
        voted: false,
        note: String::new(),
        updated_at: 0,
    }
}

#[test]
fn epochs_persist_across_reopen_with_phases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        let rows = [
            ScoreRow {
                wallet: Address([2; 20]),
                score: 15,
                weight: 5 << 64,
                reward: 7,
            },
            ScoreRow {
                wallet: Address([1; 20]),
                score: 8,
                weight: u128::MAX,
                reward: 3,
            },
        ];
        s.save_epoch(&record(0), &rows).unwrap();
        s.save_epoch(&record(1), &rows).unwrap();
        s.set_epoch_phase(0, Phase::Finalized, true, "block 0x01")
            .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let e0 = s.epoch(0).unwrap().unwrap();
    assert_eq!(
        (e0.phase, e0.voted, e0.note.as_str()),
        (Phase::Finalized, true, "block 0x01")
    );
    assert_eq!(e0.total_weight, u128::MAX);
    assert_eq!(
        (e0.forecast, e0.forecast_detail.as_str()),
        (3 << 63, "{\"epoch\":0}")
    );
    assert_eq!(s.open_epochs().unwrap(), vec![1]);
    assert_eq!(s.last_epoch().unwrap(), Some(1));
    let hist = s.wallet_epochs(&Address([1; 20]), 0, 10).unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[1].weight, u128::MAX);
    assert_eq!(
        s.reward_totals(0, 2).unwrap(),
        vec![(Address([1; 20]), 6), (Address([2; 20]), 14)]
    );
    assert!(s.epoch(5).unwrap().is_none());
}

#[test]
fn months_and_claim_trees_round_trip() {
    let (_d, s) = store();
    let tree = StoredTree {
        root: [3; 32],
        nodes: vec![[3; 32], [4; 32], [5; 32]],
        leaves: vec![
            ClaimRow {
                wallet: Address([1; 20]),
                amount: 5,
                tree_index: 2,
            },
            ClaimRow {
                wallet: Address([2; 20]),
                amount: 6,
                tree_index: 1,
            },
        ],
    };
    let m = MonthRecord {
        month_index: 24312,
        phase: Phase::Computed,
        root: vec![1],
        root_hash: [2; 32],
        claims_root: [3; 32],
        total: 11,
        claim_price: 5,
        first_epoch: 0,
        end_epoch: 3,
        claims: 2,
        voted: false,
        note: String::new(),
        updated_at: 0,
    };
    s.save_month(&m, &tree).unwrap();
    assert_eq!(s.claim_tree(24312).unwrap().unwrap(), tree);
    assert_eq!(s.claim(24312, &Address([2; 20])).unwrap().unwrap().amount, 6);
    assert!(s.claim(24312, &Address([3; 20])).unwrap().is_none());
    assert!(s.claim_tree(1).unwrap().is_none());
    s.set_month_phase(24312, Phase::Voted, true, "").unwrap();
    assert_eq!(s.month(24312).unwrap().unwrap().phase, Phase::Voted);
    assert_eq!(s.months().unwrap().len(), 1);
    s.set_meta("contract", "0xab").unwrap();
    s.set_meta("contract", "0xcd").unwrap();
    assert_eq!(s.meta("contract").unwrap().as_deref(), Some("0xcd"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(c);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

fn stream_of(
    batches: Vec<std::result::Result<ImportBatch, String>>,
) -> impl Iterator<Item = std::result::Result<ImportBatch, String>> {
    batches.into_iter()
}

/// `n` actions `a{first}..` of wallet `Address([w; 20])`, one a second from `ts`, in batches of `per`.
fn batches(first: u64, n: u64, per: u64, w: u8, ts: i64) -> Vec<std::result::Result<ImportBatch, String>> {
    let mut out = Vec::new();
    let mut b = ImportBatch::with_kinds(["swap", "post"]);
    for i in first..first + n {
        let side = if i % 3 == 0 {
            ActionSide::Offchain
        } else {
            ActionSide::Onchain
        };
        b.push_action(
            &format!("a{i}"),
            Address([w; 20]),
            (i % 2) as u16,
            side,
            ts + i as i64,
            i + 1,
        )
        .unwrap();
        if b.len() as u64 == per {
            out.push(Ok(std::mem::replace(
                &mut b,
                ImportBatch::with_kinds(["swap", "post"]),
            )));
        }
    }
    if !b.is_empty() {
        out.push(Ok(b));
    }
    out
}

#[test]
fn stream_import_counts_new_and_known_exactly() {
    let (_d, s) = store();
    // 1000 actions in batches of 300: full chunks and single-row tails.
    let st = s
        .import_stream("f", &mut stream_of(batches(0, 1000, 300, 1, 100)))
        .unwrap();
    assert_eq!((st.actions_new, st.actions_known), (1000, 0));
    // Again: all known (checked before inserting after the first all-known chunk).
    let st = s
        .import_stream("f", &mut stream_of(batches(0, 1000, 300, 1, 100)))
        .unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 1000));
    // Overlapping: 500 known then 700 new, and a duplicate inside one chunk.
    let mut b = batches(500, 1200, 1200, 1, 100);
    if let Some(Ok(first)) = b.first_mut() {
        first
            .push_action("a600", Address([1; 20]), 0, ActionSide::Offchain, 700, 9999)
            .unwrap();
    }
    let st = s.import_stream("g", &mut stream_of(b)).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (700, 501));
    assert_eq!(s.input_counts().unwrap(), (0, 1700));
    // The same through the row interface.
    let rows: Vec<ActionRow> = batches(0, 10, 10, 1, 100)[0]
        .as_ref()
        .unwrap()
        .actions()
        .map(|a| ActionRow {
            action_id: a.action_id.into(),
            wallet: a.wallet,
            kind: a.kind.into(),
            side: a.side.as_str().into(),
            timestamp: a.timestamp,
        })
        .collect();
    let st = s.import("h", &[], &rows).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 10));
    assert_eq!(s.actions_between(100, 110).unwrap().len(), 10);
    assert_eq!(
        s.actions_between(100, 102).unwrap()[1],
        (Address([1; 20]), "post".to_string(), 101)
    );
}

#[test]
fn a_stream_conflict_names_the_line_and_writes_nothing() {
    let (_d, s) = store();
    s.import_stream("f", &mut stream_of(batches(0, 200, 200, 1, 100)))
        .unwrap();
    // Line 150 (a149) comes back with another timestamp, after 300 new actions.
    let mut b = batches(1000, 300, 300, 1, 100);
    let mut bad = ImportBatch::with_kinds(["swap", "post"]);
    for i in 0..300u64 {
        let side = if i % 3 == 0 {
            ActionSide::Offchain
        } else {
            ActionSide::Onchain
        };
        let ts = 100 + i as i64 + i64::from(i == 149);
        bad.push_action(
            &format!("a{i}"),
            Address([1; 20]),
            (i % 2) as u16,
            side,
            ts,
            i + 1,
        )
        .unwrap();
    }
    b.push(Ok(bad));
    let e = s.import_stream("again.jsonl", &mut stream_of(b)).unwrap_err();
    assert!(
        matches!(&e, StoreError::ActionConflict { id, field: "timestamp", source_name } if id == "a149" && source_name == "again.jsonl:150"),
        "{e}"
    );
    assert_eq!(s.input_counts().unwrap(), (0, 200));
    // Each field is named.
    for (field, wallet, kind, side) in [
        ("wallet", 2u8, 1u16, ActionSide::Offchain),
        ("side", 1, 1, ActionSide::Onchain),
        ("kind", 1, 0, ActionSide::Offchain),
    ] {
        let mut b = ImportBatch::with_kinds(["swap", "post"]);
        b.push_action("a3", Address([wallet; 20]), kind, side, 103, 7)
            .unwrap();
        let e = s.import_stream("x", &mut stream_of(vec![Ok(b)])).unwrap_err();
        assert!(
            matches!(&e, StoreError::ActionConflict { field: f, .. } if *f == field),
            "{e}"
        );
    }
    // A producer failure after good batches: nothing written.
    let mut b = batches(5000, 500, 100, 3, 100);
    b.push(Err("x.jsonl:501: bad".into()));
    let e = s.import_stream("x", &mut stream_of(b)).unwrap_err();
    assert!(
        e.to_string().contains("x.jsonl:501: bad") && e.to_string().contains("nothing written"),
        "{e}"
    );
    assert_eq!(s.input_counts().unwrap(), (0, 200));
}

#[test]
fn integer_ids_are_the_same_ids_as_their_decimal_text() {
    let (_d, s) = store();
    let mut a = action("7", 1, 20);
    assert_eq!(s.import("a", &[], &[a.clone()]).unwrap().actions_new, 1);
    // "07" is another id; "7" again is known.
    a.action_id = "07".into();
    assert_eq!(s.import("a", &[], &[a.clone()]).unwrap().actions_new, 1);
    a.action_id = "7".into();
    assert_eq!(s.import("a", &[], &[a.clone()]).unwrap().actions_known, 1);
    a.timestamp = 21;
    let e = s.import("b", &[], &[a]).unwrap_err();
    assert!(
        e.to_string().contains("action_id \"7\"") && e.to_string().contains("timestamp"),
        "{e}"
    );
    let mut bad = action("8", 1, 20);
    bad.side = "sideways".into();
    let e = s.import("b", &[], &[bad]).unwrap_err();
    assert!(e.to_string().contains("sideways"), "{e}");
}

/// A database of schema 4 (text kinds, sides, sources and ids) is migrated in place (schemas 5 and
/// 6): the same actions read back, and importing them again finds them known.
#[test]
fn schema_4_actions_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut c = Connection::open(&path).unwrap();
        let tx = c.transaction().unwrap();
        for sql in &MIGRATIONS[..4] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 4").unwrap();
        tx.execute(
            "INSERT INTO wallets (address, connected_at, source) VALUES (?1, 5, 'w.json')",
            [&[1u8; 20][..]],
        )
        .unwrap();
        for (id, kind, side, ts) in [
            ("7", "swap", "onchain", 20),
            ("07", "post", "offchain", 21),
            ("act-1", "swap", "offchain", 22),
            ("99999999999999999999", "post", "onchain", 23),
        ] {
            tx.execute(
                "INSERT INTO actions (action_id, wallet, kind, side, timestamp, source) VALUES (?1, ?2, ?3, ?4, ?5, 'old.json')",
                params![id, &[1u8; 20][..], kind, side, ts],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.wallet(&Address([1; 20])).unwrap().map(|w| w.connected_at),
        Some(5)
    );
    let mut got = s.actions_between(0, 100).unwrap();
    got.sort_by_key(|a| a.2);
    let kinds: Vec<&str> = got.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(kinds, ["swap", "post", "swap", "post"]);
    let rows = [
        ActionRow {
            side: "onchain".into(),
            ..action("7", 1, 20)
        },
        ActionRow {
            kind: "post".into(),
            side: "offchain".into(),
            ..action("07", 1, 21)
        },
        ActionRow {
            side: "offchain".into(),
            ..action("act-1", 1, 22)
        },
        ActionRow {
            kind: "post".into(),
            ..action("99999999999999999999", 1, 23)
        },
    ];
    let st = s.import("new", &[], &rows).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 4));
    let c = Connection::open(&path).unwrap();
    // Schema 6: integer ids as integers, others as their natural-order keys.
    let typed: Vec<(String, Vec<u8>)> = c
        .prepare("SELECT typeof(action_id), CAST(action_id AS BLOB) FROM actions ORDER BY timestamp")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(typed[0].0, "integer");
    assert_eq!(typed[1], ("blob".to_string(), b"\x01\x0207".to_vec()));
    assert_eq!(typed[2], ("blob".to_string(), b"act-\x01\x011".to_vec()));
    assert_eq!(typed[3].0, "blob");
}

/// Schema 7 re-makes the keys of schema 6 (which length-prefixed every digit run, hex digits too):
/// the same id imported after the migration is known, not new.
#[test]
fn schema_6_keys_are_re_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    {
        let mut c = Connection::open(&path).unwrap();
        let tx = c.transaction().unwrap();
        for sql in &MIGRATIONS[..6] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 6; INSERT INTO kinds (id, name) VALUES (1, 'swap'); INSERT INTO sources (id, name) VALUES (1, 'old')")
            .unwrap();
        // "0xa9b1" and "act-7" as schema 6 keyed them.
        for (key, ts) in [
            (&b"\x01\x010xa\x01\x019b\x01\x011"[..], 20),
            (&b"act-\x01\x017"[..], 21),
        ] {
            tx.execute(
                "INSERT INTO actions (action_id, wallet, kind, side, timestamp, source) VALUES (?1, ?2, 1, 0, ?3, 1)",
                params![key, &[1u8; 20][..], ts],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let rows = [
        ActionRow {
            action_id: "0xa9b1".into(),
            ..action("", 1, 20)
        },
        ActionRow {
            action_id: "act-7".into(),
            ..action("", 1, 21)
        },
    ];
    let st = s.import("new", &[], &rows).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 2));
    let e = s
        .import(
            "new",
            &[],
            &[ActionRow {
                timestamp: 99,
                ..rows[0].clone()
            }],
        )
        .unwrap_err();
    assert!(e.to_string().contains("\"0xa9b1\""), "{e}");
}

/// Schema 8 gives ids of the off-chain namespace (stored before by a file, as text keys) the
/// compact key: the same id imported after the migration is known, not new; other ids keep theirs.
#[test]
fn schema_7_offchain_ids_are_re_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v7.db");
    let off = format!("off:0x{}:p-1", "ab".repeat(20));
    {
        let mut c = Connection::open(&path).unwrap();
        let tx = c.transaction().unwrap();
        for sql in &MIGRATIONS[..7] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 7; INSERT INTO kinds (id, name) VALUES (1, 'swap'); INSERT INTO sources (id, name) VALUES (1, 'old')")
            .unwrap();
        // As schema 7 keyed them: the text as it is (no counter in "off:0x…:p-1" but the 1).
        let mut old_key = format!("off:0x{}:p-", "ab".repeat(20)).into_bytes();
        old_key.extend_from_slice(b"\x01\x011");
        for (key, ts) in [(old_key, 20), (b"act-\x01\x017".to_vec(), 21)] {
            tx.execute(
                "INSERT INTO actions (action_id, wallet, kind, side, timestamp, source) VALUES (?1, ?2, 1, 0, ?3, 1)",
                params![key, &[1u8; 20][..], ts],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let rows = [
        ActionRow {
            action_id: off.clone(),
            ..action("", 1, 20)
        },
        ActionRow {
            action_id: "act-7".into(),
            ..action("", 1, 21)
        },
    ];
    let st = s.import("new", &[], &rows).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 2));
    let key: Vec<u8> = s
        .read(|c| {
            Ok(
                c.query_row("SELECT action_id FROM actions WHERE timestamp = 20", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .unwrap();
    assert_eq!(&key[..2], &[0, 2]);
    assert_eq!(key.len(), 22 + b"p-\x01\x011".len());
}

/// Two sources give one wallet two connection times: the earliest is kept, in either import
/// order (and for a wallet twice in one import, or in a chunk of many), so keepers agree.
#[test]
fn the_earliest_connected_at_wins_in_either_order() {
    let w = |address: u8, connected_at: i64| WalletRow {
        address: Address([address; 20]),
        connected_at,
    };
    let end_state = |first: &[WalletRow], second: &[WalletRow]| {
        let (_d, s) = store();
        let a = s.import("first", first, &[]).unwrap();
        let b = s.import("second", second, &[]).unwrap();
        let wallets = s.wallets_connected_before(i64::MAX).unwrap();
        (a, b, wallets)
    };
    let late = [w(1, 500)];
    let early = [w(1, 300)];
    let (a, b, one) = end_state(&late, &early);
    assert_eq!((a.wallets_new, b.wallets_known, b.wallets_earlier), (1, 1, 1));
    let (a, b, other) = end_state(&early, &late);
    assert_eq!((a.wallets_new, b.wallets_known, b.wallets_earlier), (1, 1, 0));
    assert_eq!(one, other);
    assert_eq!(one, vec![w(1, 300)]);

    // A full chunk (the multi-row statement) with the later times first, then the earlier ones.
    let n = bulk::CHUNK as u8;
    let later: Vec<WalletRow> = (0..n).map(|i| w(i, 1000 + i64::from(i))).collect();
    let earlier: Vec<WalletRow> = (0..n).map(|i| w(i, 900 - i64::from(i % 2) * 1000)).collect();
    let (_, b, one) = end_state(&later, &earlier);
    assert_eq!(b.wallets_earlier, u64::from(n));
    let (_, b, other) = end_state(&earlier, &later);
    assert_eq!(b.wallets_earlier, 0);
    assert_eq!(one, other);
    assert!(one.iter().all(|r| r.connected_at < 1000));

    // The same wallet twice in one import: the smaller time, whichever comes first.
    let (_, _, one) = end_state(&[w(7, 50), w(7, 40)], &[]);
    let (_, _, other) = end_state(&[w(7, 40), w(7, 50)], &[]);
    assert_eq!((one.clone(), other), (vec![w(7, 40)], vec![w(7, 40)]));
}
