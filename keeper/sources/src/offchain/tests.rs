use super::*;
use flex_evm::EvmKey;
use flex_store::SqliteStore;
use serde_json::Value;

// Hardhat's account #0 (a well-known test key): 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const GENESIS: i64 = 1_769_644_800;

fn key() -> EvmKey {
    EvmKey::from_hex(KEY, "test").unwrap()
}

fn domain() -> Domain {
    Domain {
        chain: [0x22; 32],
        contract: AccountId([0x11; 32]),
    }
}

fn action(id: &str, wallet: u8, kind: &str, timestamp: i64) -> OffchainAction {
    OffchainAction {
        action_id: id.into(),
        wallet: Address([wallet; 20]),
        kind: kind.into(),
        timestamp,
    }
}

fn vector() -> Submission {
    Submission {
        attester: key().address(),
        nonce: 7,
        expires_at: 1_769_731_200,
        actions: vec![
            action("x:post:1", 0xaa, "post", 1_769_644_900),
            action("x:like:2", 0xbb, "like", 1_769_648_500),
        ],
    }
}

#[test]
fn canonical_bytes_digest_and_signature_match_the_reference_vector() {
    // Computed independently with ethers.js 6.15.0: solidityPacked(["string", "bytes32", "bytes32",
    // "address", "uint64", "int64", "uint32", then per action "uint32", "string", "address",
    // "uint32", "string", "int64"], ...), keccak256, then new Wallet(KEY).signMessage(getBytes(digest)).
    let s = vector();
    assert_eq!(
        hex::encode_digits(s.encode(&domain())),
        "666c65782d6f6666636861696e2d7631\
         2222222222222222222222222222222222222222222222222222222222222222\
         1111111111111111111111111111111111111111111111111111111111111111\
         f39fd6e51aad88f6f4ce6ab8827279cfffb92266\
         0000000000000007\
         00000000697bf480\
         00000002\
         00000008783a706f73743a31aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00000004706f737400000000697aa364\
         00000008783a6c696b653a32bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb000000046c696b6500000000697ab174"
    );
    assert_eq!(
        hex::encode_digits(s.digest(&domain())),
        "fb3486762d67ed75789807e331b130e01a890f97bfeecb9bee703f91fde4620b"
    );
    let signed = s.sign(&key(), &domain()).unwrap();
    assert_eq!(
        hex::encode_digits(signed.signature),
        "dcc9b80d963f3b8014884c740e80b985d0eb5f50d941e30367d6556273614ab5\
         5dbbe067280074e724e9c5508ae40a7cefe5bb1b0053c506b7d96d83319580541b"
    );
    signed.verify(&domain()).unwrap();
}

#[test]
fn a_signature_holds_only_for_its_batch_and_its_deployment() {
    let signed = vector().sign(&key(), &domain()).unwrap();
    let other_contract = Domain {
        contract: AccountId([0x12; 32]),
        ..domain()
    };
    let other_chain = Domain {
        chain: [0x23; 32],
        ..domain()
    };
    for d in [other_contract, other_chain] {
        let e = signed.verify(&d).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "bad_signature"), "{e}");
    }
    let mut altered = signed.clone();
    altered.submission.actions[1].timestamp += 1;
    assert!(matches!(
        altered.verify(&domain()),
        Err(OffchainError::BadSignature(_))
    ));
    let mut altered = signed.clone();
    altered.submission.nonce = 8;
    assert!(altered.verify(&domain()).is_err());
    // Moving bytes between an id and a kind changes the encoding (lengths are encoded).
    let mut altered = signed;
    altered.submission.actions[0].action_id = "x:post:1p".into();
    altered.submission.actions[0].kind = "ost".into();
    assert!(altered.verify(&domain()).is_err());
    // Only the attester's key signs.
    let other = EvmKey::from_hex(&"07".repeat(32), "test").unwrap();
    assert!(matches!(
        vector().sign(&other, &domain()),
        Err(OffchainError::Sign(_))
    ));
}

#[test]
fn the_json_envelope_round_trips_and_names_the_field_at_fault() {
    let signed = vector().sign(&key(), &domain()).unwrap();
    let text = signed.to_json();
    assert_eq!(SignedSubmission::from_json(text.as_bytes()).unwrap(), signed);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], VERSION);
    assert_eq!(v["attester"], "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    assert_eq!(v["actions"][1]["wallet"], format!("0x{}", "bb".repeat(20)));
    // The nonce may also be a string of digits (JavaScript's safe integers end at 2^53).
    let mut s = v.clone();
    s["nonce"] = Value::String("7".into());
    assert_eq!(
        SignedSubmission::from_json(s.to_string().as_bytes()).unwrap(),
        signed
    );

    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut x = v.clone();
        edit(&mut x);
        SignedSubmission::from_json(x.to_string().as_bytes()).unwrap_err()
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, u16, &str)> = vec![
        (Box::new(|x| x["nonce"] = Value::from(-1)), 400, "nonce"),
        (Box::new(|x| x["nonce"] = Value::from(1.5)), 400, "nonce"),
        (Box::new(|x| x["attester"] = Value::from("0x12")), 400, "attester"),
        (
            Box::new(|x| x["expires_at"] = Value::from("soon")),
            400,
            "expires_at",
        ),
        (
            Box::new(|x| x["version"] = Value::from("flex-offchain-v2")),
            400,
            "version",
        ),
        (Box::new(|x| x["extra"] = Value::from(1)), 400, "extra"),
        (Box::new(|x| x["actions"] = Value::Array(vec![])), 400, "actions"),
        (
            Box::new(|x| {
                x.as_object_mut().unwrap().remove("nonce");
            }),
            400,
            "nonce",
        ),
        (
            Box::new(|x| x["signature"] = Value::from("0x1234")),
            401,
            "signature",
        ),
        (
            Box::new(|x| x["actions"][1]["wallet"] = Value::from("0xzz")),
            422,
            "actions[1].wallet",
        ),
        (
            Box::new(|x| x["actions"][0]["timestamp"] = Value::from("2026-01-29T00:01:40Z")),
            422,
            "actions[0].timestamp",
        ),
        (
            Box::new(|x| {
                x["actions"][1]["action_id"] = Value::from("x:post:1");
            }),
            422,
            "actions[1].action_id",
        ),
        (
            Box::new(|x| x["actions"][1]["action_id"] = Value::from("evm:1:0xab:0")),
            422,
            "actions[1].action_id",
        ),
        (
            Box::new(|x| x["actions"][0]["action_id"] = Value::from("sub:0x45:7:1")),
            422,
            "actions[0].action_id",
        ),
        (
            Box::new(|x| x["actions"][1]["kind"] = Value::from("")),
            422,
            "actions[1].kind",
        ),
        (
            Box::new(|x| x["actions"][0]["action_id"] = Value::from("a\nb")),
            422,
            "actions[0].action_id",
        ),
        (
            Box::new(|x| x["actions"][0]["action_id"] = Value::from("i".repeat(129))),
            422,
            "actions[0].action_id",
        ),
        (
            Box::new(|x| x["actions"][1]["side"] = Value::from("onchain")),
            422,
            "actions[1].side",
        ),
        (Box::new(|x| x["actions"][1] = Value::from(5)), 422, "actions[1]"),
    ];
    for (edit, status, field) in cases {
        let e = bad(&*edit);
        assert_eq!((e.status(), e.field().as_deref()), (status, Some(field)), "{e}");
    }
    let e = SignedSubmission::from_json(b"{\"nonce\": ").unwrap_err();
    assert_eq!((e.status(), e.field().as_deref()), (400, Some("body")), "{e}");
}

fn table() -> WeightTable {
    let mut t = WeightTable::new();
    t.insert_str("post", "1").unwrap();
    t.insert_str("like", "1.5").unwrap();
    t.insert_str("swap", "2.5").unwrap();
    t
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    intake: Intake,
}

fn fixture(kinds: Option<&[&str]>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    record_chain(&*store, domain().chain).unwrap();
    let policy = Policy {
        attesters: [key().address()].into_iter().collect(),
        kinds: kinds.map(|k| k.iter().map(|s| s.to_string()).collect()),
    };
    let intake = Intake::new(store.clone(), policy, table(), domain().contract, Some(GENESIS)).unwrap();
    Fixture {
        _dir: dir,
        store,
        intake,
    }
}

fn batch(nonce: u64, actions: Vec<OffchainAction>) -> SignedSubmission {
    Submission {
        attester: key().address(),
        nonce,
        expires_at: 2_000_000_000,
        actions,
    }
    .sign(&key(), &domain())
    .unwrap()
}

#[test]
fn the_intake_accepts_once_and_refuses_replays_without_changing_anything() {
    let f = fixture(None);
    let b = batch(
        3,
        vec![
            action("p1", 1, "post", GENESIS + 10),
            action("l1", 2, "like", GENESIS + 20),
        ],
    );
    let a = f.intake.accept(&b, "http").unwrap();
    assert_eq!((a.nonce, a.actions_new, a.actions_known), (3, 2, 0));
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(3));
    let rows = f.store.actions_between(GENESIS, GENESIS + 86_400).unwrap();
    assert_eq!(rows.len(), 2);
    // The same bytes again: a replay, nothing changes.
    let e = f.intake.accept(&b, "http").unwrap_err();
    assert!(
        matches!(
            e,
            OffchainError::Replay {
                nonce: 3,
                same_batch: true
            }
        ),
        "{e}"
    );
    assert_eq!((e.status(), e.code()), (409, "already_accepted"));
    // Another batch with the used nonce: a replay; nothing stored.
    let e = f
        .intake
        .accept(&batch(3, vec![action("p9", 1, "post", GENESIS + 30)]), "http")
        .unwrap_err();
    assert!(
        matches!(
            e,
            OffchainError::Replay {
                nonce: 3,
                same_batch: false,
            }
        ),
        "{e}"
    );
    assert_eq!((e.status(), e.code()), (409, "replay"));
    assert_eq!(f.store.input_counts().unwrap().1, 2);
    // A lower nonce not used before is accepted (nonces are a set, not a sequence: a batch
    // delivered late is not lost); the highest nonce stays 3.
    let a = f
        .intake
        .accept(&batch(2, vec![action("p9", 1, "post", GENESIS + 30)]), "http")
        .unwrap();
    assert_eq!((a.nonce, a.actions_new), (2, 1));
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(3));
    assert_eq!(f.store.input_counts().unwrap().1, 3);
    // A higher nonce repeating a stored action (same content) and adding one.
    let a = f
        .intake
        .accept(
            &batch(
                10,
                vec![
                    action("p1", 1, "post", GENESIS + 10),
                    action("p2", 1, "post", GENESIS + 40),
                ],
            ),
            "http",
        )
        .unwrap();
    assert_eq!((a.actions_new, a.actions_known), (1, 1));
    assert_eq!(f.store.input_counts().unwrap().1, 4);
}

#[test]
fn the_intake_refuses_what_it_must_and_names_it() {
    let f = fixture(Some(&["post", "like"]));
    let good = vec![action("p1", 1, "post", GENESIS + 10)];
    // Expired: expires_at before genesis (expiry is counted in epochs; see
    // `expiry_is_counted_in_epochs_not_by_the_clock`).
    let mut s = batch(1, good.clone()).submission;
    s.expires_at = GENESIS - 1;
    let e = f
        .intake
        .accept(&s.sign(&key(), &domain()).unwrap(), "http")
        .unwrap_err();
    assert_eq!(
        (e.status(), e.code(), e.field().as_deref()),
        (422, "expired", Some("expires_at"))
    );
    // An attester this keeper does not know (signed by its own key: still refused).
    let stranger = EvmKey::from_hex(&"07".repeat(32), "test").unwrap();
    let s = Submission {
        attester: stranger.address(),
        nonce: 1,
        expires_at: 2_000_000_000,
        actions: good.clone(),
    };
    let e = f
        .intake
        .accept(&s.sign(&stranger, &domain()).unwrap(), "http")
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (403, "unknown_attester"));
    // Signed by another key in the attester's name.
    let mut forged = s.sign(&stranger, &domain()).unwrap();
    forged.submission.attester = key().address();
    let e = f.intake.accept(&forged, "http").unwrap_err();
    assert_eq!((e.status(), e.code()), (401, "bad_signature"), "{e}");
    // A kind outside the weight table, then one outside offchain.kinds: index and field named.
    let e = f
        .intake
        .accept(
            &batch(1, vec![good[0].clone(), action("t1", 1, "tweet", GENESIS + 11)]),
            "http",
        )
        .unwrap_err();
    assert_eq!(
        (e.status(), e.index(), e.field().as_deref()),
        (422, Some(1), Some("actions[1].kind")),
        "{e}"
    );
    let e = f
        .intake
        .accept(&batch(1, vec![action("s1", 1, "swap", GENESIS + 11)]), "http")
        .unwrap_err();
    assert!(e.to_string().contains("offchain.kinds"), "{e}");
    // Before genesis.
    let e = f
        .intake
        .accept(&batch(1, vec![action("p0", 1, "post", GENESIS - 1)]), "http")
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("actions[0].timestamp"), "{e}");
    // An action_id the attester gave before with other content (its namespace: as an earlier
    // batch of its own stored it).
    f.store
        .import(
            "offchain:earlier",
            &[],
            &[ActionRow {
                action_id: flex_ingest::ids::offchain_id(&key().address(), "taken"),
                wallet: Address([9; 20]),
                kind: "swap".into(),
                side: "offchain".into(),
                timestamp: GENESIS + 5,
            }],
        )
        .unwrap();
    let e = f
        .intake
        .accept(
            &batch(1, vec![good[0].clone(), action("taken", 1, "post", GENESIS + 12)]),
            "http",
        )
        .unwrap_err();
    assert_eq!(
        (e.status(), e.field().as_deref()),
        (422, Some("actions[1].wallet")),
        "{e}"
    );
    // None of the refusals stored anything or moved the nonce.
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), None);
    assert_eq!(f.store.input_counts().unwrap().1, 1);
    f.intake.accept(&batch(1, good), "http").unwrap();
}

/// Records epoch `epoch` as closed (computed) at the keeper of `store`.
fn close_epoch(store: &dyn Store, epoch: u64) {
    let rec = flex_store::EpochRecord {
        epoch,
        month_index: 24312,
        phase: flex_store::Phase::Computed,
        commitment: vec![],
        commitment_hash: [0; 32],
        scores_root: [0; 32],
        active: 0,
        ranked: 0,
        multiplier_sum: 0,
        total_weight: 0,
        pool: 0,
        distributed: 0,
        wallet_index: 0,
        halving: 0,
        snapshot: 0,
        forecast: 0,
        forecast_detail: String::new(),
        wallets: 0,
        voted: false,
        note: String::new(),
        updated_at: 0,
    };
    store.save_epoch(&rec, &[]).unwrap();
}

#[test]
fn actions_in_an_epoch_the_keeper_closed_are_refused() {
    let f = fixture(None);
    close_epoch(&*f.store, 0);
    let e = f
        .intake
        .accept(
            &batch(
                1,
                vec![
                    action("p1", 1, "post", GENESIS + 86_400),
                    action("p0", 1, "post", GENESIS + 86_399),
                ],
            ),
            "http",
        )
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("actions[1].timestamp"), "{e}");
    assert!(e.to_string().contains("epoch 0"), "{e}");
    f.intake
        .accept(&batch(1, vec![action("p1", 1, "post", GENESIS + 86_400)]), "http")
        .unwrap();
}

#[test]
fn nothing_is_accepted_before_the_keeper_knows_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    let policy = Policy {
        attesters: [key().address()].into_iter().collect(),
        kinds: None,
    };
    let intake = Intake::new(store.clone(), policy.clone(), table(), domain().contract, None).unwrap();
    let b = batch(1, vec![action("p1", 1, "post", GENESIS + 10)]);
    let e = intake.accept(&b, "http").unwrap_err();
    assert_eq!((e.status(), e.code()), (503, "not_ready"));
    // Once the chain is recorded (and no genesis is known yet: no epoch check), it is accepted.
    record_chain(&*store, domain().chain).unwrap();
    intake.accept(&b, "http").unwrap();
    // A keeper without attesters accepts nothing; unknown kinds in offchain.kinds are refused.
    let off = Intake::new(store.clone(), Policy::default(), table(), domain().contract, None).unwrap();
    assert_eq!(off.accept(&b, "http").unwrap_err().code(), "offchain_disabled");
    let bad = Policy {
        kinds: Some(["tweet".to_string()].into_iter().collect()),
        ..policy
    };
    let e = Intake::new(store, bad, table(), domain().contract, None).unwrap_err();
    assert_eq!(e, IntakeError::UnknownKind("tweet".into()));
    assert_eq!(
        e.to_string(),
        "offchain.kinds: \"tweet\" is not in the weight table"
    );
}

#[test]
fn signed_files_are_imported_in_nonce_order_once() {
    let f = fixture(None);
    let dir = tempfile::tempdir().unwrap();
    // Named against their nonce order: "a" holds nonce 2, "b" nonce 1.
    std::fs::write(
        dir.path().join("a.json"),
        batch(2, vec![action("p2", 1, "post", GENESIS + 20)]).to_json(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.json"),
        batch(1, vec![action("p1", 1, "post", GENESIS + 10)]).to_json(),
    )
    .unwrap();
    let mut tampered: Value =
        serde_json::from_str(&batch(3, vec![action("p3", 1, "post", GENESIS + 30)]).to_json()).unwrap();
    tampered["actions"][0]["timestamp"] = Value::from(GENESIS + 31);
    std::fs::write(dir.path().join("c.json"), tampered.to_string()).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a batch").unwrap();
    let paths = vec![dir.path().to_path_buf()];
    let st = f.intake.import_files(&paths).unwrap();
    assert_eq!((st.accepted, st.known, st.rejected, st.actions_new), (2, 0, 1, 2));
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(2));
    // Unchanged files are not read again.
    assert_eq!(f.intake.import_files(&paths).unwrap(), FileStats::default());
    // A copy of an accepted batch under another name is known, not refused.
    std::fs::copy(dir.path().join("b.json"), dir.path().join("d.json")).unwrap();
    let st = f.intake.import_files(&paths).unwrap();
    assert_eq!((st.accepted, st.known, st.rejected), (0, 1, 0));
    // A missing path is skipped (logged), not an error that would stop the keeper's loop; the
    // other paths are still read.
    std::fs::write(
        dir.path().join("e.json"),
        batch(4, vec![action("p4", 1, "post", GENESIS + 40)]).to_json(),
    )
    .unwrap();
    let st = f
        .intake
        .import_files(&[dir.path().join("missing.json"), dir.path().to_path_buf()])
        .unwrap();
    assert_eq!((st.accepted, st.actions_new), (1, 1));
}

const DAY: i64 = 86_400;

/// Every action a store holds, sorted: what an epoch close reads.
fn all_actions(store: &dyn Store) -> Vec<(Address, String, i64)> {
    let mut a = store.actions_between(i64::MIN, i64::MAX).unwrap();
    a.sort();
    a
}

/// The batches a store accepted: (nonce, digest).
fn accepted(store: &dyn Store) -> Vec<(u64, [u8; 32])> {
    let mut out = Vec::new();
    store
        .offchain_archive(&mut |b| {
            out.push((b.nonce, b.digest));
            Ok(())
        })
        .unwrap();
    out
}

/// Six batches of one attester: retries (an action in two batches), several epochs.
fn six_batches() -> Vec<SignedSubmission> {
    (1..=6u64)
        .map(|n| {
            let t = GENESIS + (n as i64 % 3) * DAY + n as i64;
            let mut actions = vec![
                action(&format!("p{n}"), n as u8, "post", t),
                action(&format!("l{n}"), 1, "like", t + 1),
            ];
            if n > 1 {
                // The previous batch's post again, same content: counted once.
                let p = n - 1;
                actions.push(action(
                    &format!("p{p}"),
                    p as u8,
                    "post",
                    GENESIS + (p as i64 % 3) * DAY + p as i64,
                ));
            }
            batch(n, actions)
        })
        .collect()
}

/// Two keepers receive the same batches in different orders (one with repeats): they accept the
/// same batches and hold the same actions, whatever the order.
#[test]
fn out_of_order_delivery_to_two_keepers_gives_identical_accepted_sets() {
    let batches = six_batches();
    let orders: [&[usize]; 4] = [
        &[0, 1, 2, 3, 4, 5],
        &[5, 4, 3, 2, 1, 0],
        &[2, 0, 5, 0, 3, 1, 4, 2],
        &[4, 1, 5, 3, 0, 2],
    ];
    let mut results = Vec::new();
    for order in orders {
        let k = fixture(None);
        for &i in order {
            match k.intake.accept(&batches[i], "http") {
                Ok(_) | Err(OffchainError::Replay { same_batch: true, .. }) => {}
                Err(e) => panic!("batch {}: {e}", i + 1),
            }
        }
        results.push((accepted(&*k.store), all_actions(&*k.store)));
    }
    assert_eq!(results[0].0.len(), 6);
    assert_eq!(results[0].1.len(), 12);
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
}

#[test]
fn a_gap_then_the_missing_batch_is_accepted() {
    let f = fixture(None);
    let b = six_batches();
    f.intake.accept(&b[0], "http").unwrap();
    // Batch 2 is lost on the way; 3 arrives: accepted, the gap does not block it.
    f.intake.accept(&b[2], "http").unwrap();
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(3));
    // Batch 2 arrives late, its epochs still open: accepted too.
    let a = f.intake.accept(&b[1], "http").unwrap();
    assert_eq!(a.nonce, 2);
    let nonces: Vec<u64> = accepted(&*f.store).iter().map(|b| b.0).collect();
    assert_eq!(nonces, [1, 2, 3]);
    // And it cannot be replayed.
    let e = f.intake.accept(&b[1], "http").unwrap_err();
    assert_eq!((e.status(), e.code()), (409, "already_accepted"));
}

/// Expiry is counted in epochs: `expires_at` long past by any clock is accepted while its epoch
/// is open at the keeper, and refused once the keeper has closed that epoch.
#[test]
fn expiry_is_counted_in_epochs_not_by_the_clock() {
    let f = fixture(None);
    let with_expiry = |nonce: u64, expires_at: i64, ts: i64| {
        Submission {
            attester: key().address(),
            nonce,
            expires_at,
            actions: vec![action(&format!("e{nonce}"), 1, "post", ts)],
        }
        .sign(&key(), &domain())
        .unwrap()
    };
    // Epoch 1 of a genesis in January 2026: long past by the clock of whoever runs this test.
    assert!(GENESIS + 2 * DAY < unix_now());
    f.intake
        .accept(&with_expiry(1, GENESIS + DAY + 5, GENESIS + DAY), "http")
        .unwrap();
    close_epoch(&*f.store, 0);
    close_epoch(&*f.store, 1);
    // Its epoch (1) is closed now: expired, whatever the clock says.
    let e = f
        .intake
        .accept(&with_expiry(2, GENESIS + 2 * DAY - 1, GENESIS + 2 * DAY), "http")
        .unwrap_err();
    assert_eq!(
        (e.status(), e.code(), e.field().as_deref()),
        (422, "expired", Some("expires_at"))
    );
    assert!(
        e.to_string().contains("epoch 1, which this keeper has closed"),
        "{e}"
    );
    // Expiring in epoch 2 (open), with an action in epoch 2: accepted.
    f.intake
        .accept(&with_expiry(3, GENESIS + 2 * DAY, GENESIS + 2 * DAY), "http")
        .unwrap();
    // An action in a closed epoch is refused even when the batch has not expired.
    let e = f
        .intake
        .accept(&with_expiry(4, GENESIS + 9 * DAY, GENESIS + DAY), "http")
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("actions[0].timestamp"), "{e}");
}

/// A keeper rebuilding its history re-imports another keeper's archive (JSON lines, one envelope
/// a line): signatures are checked, the closed-epoch rules are not, and it ends with the same
/// batches and the same actions; a second pass changes nothing; an altered line is refused alone.
#[test]
fn archived_batches_reimport_to_the_same_actions() {
    let a = fixture(None);
    for b in six_batches() {
        a.intake.accept(&b, "http").unwrap();
    }
    let mut archive = String::new();
    a.store
        .offchain_archive(&mut |b| {
            archive.push_str(&b.envelope.unwrap());
            archive.push('\n');
            Ok(())
        })
        .unwrap();
    assert_eq!(archive.lines().count(), 6);
    // The rebuilding keeper has closed every epoch the batches touch (it recomputes them after):
    // the live rules would refuse them all.
    let b = fixture(None);
    for e in 0..3 {
        close_epoch(&*b.store, e);
    }
    let first = SignedSubmission::from_json(archive.lines().next().unwrap().as_bytes()).unwrap();
    let e = b.intake.accept(&first, "http").unwrap_err();
    assert!(
        e.to_string().contains("which this keeper has already closed"),
        "{e}"
    );
    let st = b
        .intake
        .reimport(&mut archive.as_bytes(), "archive.jsonl")
        .unwrap();
    assert_eq!(
        (st.accepted, st.known, st.actions_new),
        (6, 0, 12),
        "{:?}",
        st.refused
    );
    assert!(st.refused.is_empty());
    assert_eq!(accepted(&*b.store), accepted(&*a.store));
    assert_eq!(all_actions(&*b.store), all_actions(&*a.store));
    // Again: all known.
    let st = b
        .intake
        .reimport(&mut archive.as_bytes(), "archive.jsonl")
        .unwrap();
    assert_eq!((st.accepted, st.known), (0, 6));
    // A forged line (an action's time moved) is refused with its line; the rest goes in.
    let c = fixture(None);
    let mut lines: Vec<String> = archive.lines().map(str::to_string).collect();
    let mut v: Value = serde_json::from_str(&lines[2]).unwrap();
    v["actions"][0]["timestamp"] = Value::from(GENESIS + 7);
    lines[2] = v.to_string();
    let st = c
        .intake
        .reimport(&mut lines.join("\n").as_bytes(), "archive.jsonl")
        .unwrap();
    assert_eq!((st.accepted, st.refused.len()), (5, 1));
    assert_eq!(st.refused[0].0, 3);
    assert!(st.refused[0].1.contains("signature"), "{:?}", st.refused);
}

/// The attack of issue 14: an attester submits an id that a later input file uses. Its ids live
/// in its own namespace, so the file still imports, and both actions are stored.
#[test]
fn an_attesters_id_cannot_take_a_later_files_id() {
    let f = fixture(None);
    f.intake
        .accept(&batch(1, vec![action("p-1", 1, "post", GENESIS + 10)]), "http")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    std::fs::write(
        &file,
        format!(
            "{{\"action_id\":\"p-1\",\"wallet\":\"0x{}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":{}}}\n",
            "22".repeat(20),
            GENESIS + 20
        ),
    )
    .unwrap();
    let imported =
        crate::files::import_file(&*f.store, &file, crate::files::FileFormat::Lines, &table(), false)
            .unwrap();
    assert_eq!(imported.stats.actions_new, 1);
    assert_eq!(
        all_actions(&*f.store),
        vec![
            (Address([1; 20]), "post".to_string(), GENESIS + 10),
            (Address([0x22; 20]), "swap".to_string(), GENESIS + 20)
        ]
    );
    // Nor can it take a chain follower's id, or write into another namespace.
    for id in [
        "evm:1:0xab:0",
        "sub:0x45:7:1",
        "off:0x0000000000000000000000000000000000000000:x",
    ] {
        // `sign` refuses such a batch; a hand-made envelope is refused before its signature.
        assert!(Submission {
            attester: key().address(),
            nonce: 2,
            expires_at: 2_000_000_000,
            actions: vec![action(id, 1, "post", GENESIS + 30)],
        }
        .sign(&key(), &domain())
        .is_err());
        let mut forged = batch(2, vec![action("x", 1, "post", GENESIS + 30)]);
        forged.submission.actions[0].action_id = id.into();
        let e = f.intake.accept(&forged, "http").unwrap_err();
        assert_eq!(
            (e.status(), e.field().as_deref()),
            (422, Some("actions[0].action_id")),
            "{e}"
        );
        assert!(e.to_string().contains("reserved"), "{e}");
    }
    // And a file cannot take an attester's stored id.
    std::fs::write(
        &file,
        format!(
            "{{\"action_id\":\"{}\",\"wallet\":\"0x{}\",\"kind\":\"post\",\"side\":\"offchain\",\"timestamp\":{}}}\n",
            flex_ingest::ids::offchain_id(&key().address(), "p-1"),
            "22".repeat(20),
            GENESIS + 20
        ),
    )
    .unwrap();
    let e = crate::files::import_file(&*f.store, &file, crate::files::FileFormat::Lines, &table(), false)
        .unwrap_err();
    assert!(
        e.to_string().contains("reserved for signed off-chain batches"),
        "{e}"
    );
}
