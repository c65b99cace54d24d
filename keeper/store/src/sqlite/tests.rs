use super::*;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path().join("keeper.db")).expect("open");
    (dir, s)
}

fn action(id: &str, wallet: u8, ts: i64) -> ActionRow {
    ActionRow {
        action_id: id.into(),
        wallet: [wallet; 20],
        kind: "swap".into(),
        side: "onchain".into(),
        timestamp: ts,
    }
}

#[test]
fn import_is_idempotent_by_action_id_and_rejects_conflicts() {
    let (_d, s) = store();
    let wallets = [WalletRow {
        address: [1; 20],
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
                wallet: [2; 20],
                score: 15,
                weight: 5 << 64,
                reward: 7,
            },
            ScoreRow {
                wallet: [1; 20],
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
    let hist = s.wallet_epochs(&[1; 20], 0, 10).unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[1].weight, u128::MAX);
    assert_eq!(s.reward_totals(0, 2).unwrap(), vec![([1; 20], 6), ([2; 20], 14)]);
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
                wallet: [1; 20],
                amount: 5,
                tree_index: 2,
            },
            ClaimRow {
                wallet: [2; 20],
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
    assert_eq!(s.claim(24312, &[2; 20]).unwrap().unwrap().amount, 6);
    assert!(s.claim(24312, &[3; 20]).unwrap().is_none());
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
