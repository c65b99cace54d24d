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
        contract: [0x11; 32],
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
        contract: [0x12; 32],
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

const NOW: i64 = 1_769_700_000;

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
    let a = f.intake.accept(&b, "http", NOW).unwrap();
    assert_eq!((a.nonce, a.actions_new, a.actions_known), (3, 2, 0));
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(3));
    let rows = f.store.actions_between(GENESIS, GENESIS + 86_400).unwrap();
    assert_eq!(rows.len(), 2);
    // The same bytes again: a replay, nothing changes.
    let e = f.intake.accept(&b, "http", NOW).unwrap_err();
    assert!(
        matches!(
            e,
            OffchainError::Replay {
                nonce: 3,
                last_nonce: 3,
                same_batch: true
            }
        ),
        "{e}"
    );
    assert_eq!(e.status(), 409);
    // A lower nonce with new actions: a replay too; nothing stored.
    let e = f
        .intake
        .accept(
            &batch(2, vec![action("p9", 1, "post", GENESIS + 30)]),
            "http",
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            OffchainError::Replay {
                same_batch: false,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(f.store.input_counts().unwrap().1, 2);
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
            NOW,
        )
        .unwrap();
    assert_eq!((a.actions_new, a.actions_known), (1, 1));
    // The stored actions are off-chain ones, under the batch's source.
    assert_eq!(f.store.input_counts().unwrap().1, 3);
}

#[test]
fn the_intake_refuses_what_it_must_and_names_it() {
    let f = fixture(Some(&["post", "like"]));
    let good = vec![action("p1", 1, "post", GENESIS + 10)];
    // Expired.
    let mut s = batch(1, good.clone()).submission;
    s.expires_at = NOW;
    let e = f
        .intake
        .accept(&s.sign(&key(), &domain()).unwrap(), "http", NOW)
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
        .accept(&s.sign(&stranger, &domain()).unwrap(), "http", NOW)
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (403, "unknown_attester"));
    // Signed by another key in the attester's name.
    let mut forged = s.sign(&stranger, &domain()).unwrap();
    forged.submission.attester = key().address();
    let e = f.intake.accept(&forged, "http", NOW).unwrap_err();
    assert_eq!((e.status(), e.code()), (401, "bad_signature"), "{e}");
    // A kind outside the weight table, then one outside offchain.kinds: index and field named.
    let e = f
        .intake
        .accept(
            &batch(1, vec![good[0].clone(), action("t1", 1, "tweet", GENESIS + 11)]),
            "http",
            NOW,
        )
        .unwrap_err();
    assert_eq!(
        (e.status(), e.index(), e.field().as_deref()),
        (422, Some(1), Some("actions[1].kind")),
        "{e}"
    );
    let e = f
        .intake
        .accept(
            &batch(1, vec![action("s1", 1, "swap", GENESIS + 11)]),
            "http",
            NOW,
        )
        .unwrap_err();
    assert!(e.to_string().contains("offchain.kinds"), "{e}");
    // Before genesis.
    let e = f
        .intake
        .accept(&batch(1, vec![action("p0", 1, "post", GENESIS - 1)]), "http", NOW)
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("actions[0].timestamp"), "{e}");
    // An action_id stored before with other content.
    f.store
        .import(
            "pool.json",
            &[],
            &[ActionRow {
                action_id: "taken".into(),
                wallet: Address([9; 20]),
                kind: "swap".into(),
                side: "onchain".into(),
                timestamp: GENESIS + 5,
            }],
        )
        .unwrap();
    let e = f
        .intake
        .accept(
            &batch(1, vec![good[0].clone(), action("taken", 1, "post", GENESIS + 12)]),
            "http",
            NOW,
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
    f.intake.accept(&batch(1, good), "http", NOW).unwrap();
}

#[test]
fn actions_in_an_epoch_the_keeper_closed_are_refused() {
    let f = fixture(None);
    let rec = flex_store::EpochRecord {
        epoch: 0,
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
    f.store.save_epoch(&rec, &[]).unwrap();
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
            NOW,
        )
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("actions[1].timestamp"), "{e}");
    assert!(e.to_string().contains("epoch 0"), "{e}");
    f.intake
        .accept(
            &batch(1, vec![action("p1", 1, "post", GENESIS + 86_400)]),
            "http",
            NOW,
        )
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
    let e = intake.accept(&b, "http", NOW).unwrap_err();
    assert_eq!((e.status(), e.code()), (503, "not_ready"));
    // Once the chain is recorded (and no genesis is known yet: no epoch check), it is accepted.
    record_chain(&*store, domain().chain).unwrap();
    intake.accept(&b, "http", NOW).unwrap();
    // A keeper without attesters accepts nothing; unknown kinds in offchain.kinds are refused.
    let off = Intake::new(store.clone(), Policy::default(), table(), domain().contract, None).unwrap();
    assert_eq!(
        off.accept(&b, "http", NOW).unwrap_err().code(),
        "offchain_disabled"
    );
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
    let st = f.intake.import_files(&paths, NOW).unwrap();
    assert_eq!((st.accepted, st.known, st.rejected, st.actions_new), (2, 0, 1, 2));
    assert_eq!(f.intake.last_nonce(&key().address()).unwrap(), Some(2));
    // Unchanged files are not read again.
    assert_eq!(f.intake.import_files(&paths, NOW).unwrap(), FileStats::default());
    // A copy of an accepted batch under another name is known, not refused.
    std::fs::copy(dir.path().join("b.json"), dir.path().join("d.json")).unwrap();
    let st = f.intake.import_files(&paths, NOW).unwrap();
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
        .import_files(&[dir.path().join("missing.json"), dir.path().to_path_buf()], NOW)
        .unwrap();
    assert_eq!((st.accepted, st.actions_new), (1, 1));
}
