//! `flex-keeper merkle dump | proof | verify` end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run flex-keeper")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flex-keeper-merkle-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const W1: &str = "0xAbCdEf0123456789abcdef0123456789ABCDEF01";
const W2: &str = "0x1111111111111111111111111111111111111111";

#[test]
fn claim_dump_proof_verify_roundtrip() {
    let d = tempdir("claims");
    let input = d.join("claims.json");
    let dump = d.join("dump.json");
    std::fs::write(
        &input,
        json!([
            {"month_index": 24311, "wallet": W1, "amount": "123"},
            {"month_index": "24311", "wallet": W2, "amount": 456},
            {"month_index": 24312, "wallet": W1, "amount": u128::MAX.to_string()},
        ])
        .to_string(),
    )
    .unwrap();
    let out = keeper(&[
        "merkle",
        "dump",
        "--leaf",
        "claim",
        "--input",
        s(&input),
        "--output",
        s(&dump),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dumped: Value = serde_json::from_slice(&std::fs::read(&dump).unwrap()).unwrap();
    assert_eq!(dumped["format"], "standard-v1");
    assert_eq!(dumped["tree"][0], summary["root"]);
    assert_eq!(
        dumped["values"][0]["value"],
        json!(["24311", W1.to_lowercase(), "123"])
    );

    let out = keeper(&[
        "merkle",
        "proof",
        "--dump",
        s(&dump),
        "--wallet",
        &W1.to_uppercase().replacen("0X", "0x", 1),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proofs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(proofs["root"], summary["root"]);
    assert_eq!(proofs["wallet"], W1.to_lowercase());
    let list = proofs["proofs"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for p in list {
        let out = keeper(&[
            "merkle",
            "verify",
            "--root",
            summary["root"].as_str().unwrap(),
            "--leaf",
            "claim",
            "--value",
            &p["value"].to_string(),
            "--proof",
            &p["proof"].to_string(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["leaf"], p["leaf"]);
    }
    // A changed amount (object form) does not verify.
    let p = &list[0];
    let out = keeper(&[
        "merkle",
        "verify",
        "--root",
        summary["root"].as_str().unwrap(),
        "--leaf",
        "claim",
        "--value",
        &json!({"month_index": 24311, "wallet": W1, "amount": "124"}).to_string(),
        "--proof",
        &p["proof"].to_string(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid proof"));

    let out = keeper(&["merkle", "verify", "--dump", s(&dump)]);
    assert!(out.status.success());
    let out = keeper(&[
        "merkle",
        "proof",
        "--dump",
        s(&dump),
        "--wallet",
        "0x2222222222222222222222222222222222222222",
    ]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn score_dump_and_single_leaf_proof() {
    let d = tempdir("scores");
    let input = d.join("scores.json");
    let dump = d.join("dump.json");
    std::fs::write(
        &input,
        json!([{"epoch": 9, "wallet": W2, "score": 15, "weight_bits": "18446744073709551616", "reward": "5"}]).to_string(),
    )
    .unwrap();
    let out = keeper(&[
        "merkle",
        "dump",
        "--leaf",
        "score",
        "--input",
        s(&input),
        "--output",
        s(&dump),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = keeper(&["merkle", "proof", "--dump", s(&dump), "--wallet", W2]);
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        p["leafEncoding"],
        json!(["uint64", "address", "uint8", "uint128", "uint128"])
    );
    assert_eq!(p["proofs"][0]["proof"], json!([]));
    assert_eq!(p["proofs"][0]["leaf"], p["root"]);
    assert_eq!(
        p["proofs"][0]["value"],
        json!(["9", W2, "15", "18446744073709551616", "5"])
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_names_file_index_and_field_and_writes_nothing() {
    let d = tempdir("bad");
    let dump = d.join("dump.json");
    let cases: [(&str, Value, &str); 5] = [
        (
            "bad-wallet.json",
            json!([{"month_index": 1, "wallet": W1, "amount": "1"}, {"month_index": 1, "wallet": "0x12", "amount": "1"}]),
            "value [1], field `wallet`",
        ),
        (
            "bad-amount.json",
            json!([{"month_index": 1, "wallet": W1, "amount": "-1"}]),
            "value [0], field `amount`",
        ),
        (
            "big-month.json",
            json!([{"month_index": 4294967296u64, "wallet": W1, "amount": "1"}]),
            "value [0], field `month_index`",
        ),
        (
            "missing.json",
            json!([{"month_index": 1, "wallet": W1}]),
            "value [0], field `amount`: missing",
        ),
        ("empty.json", json!([]), "at least one leaf"),
    ];
    for (name, content, expected) in cases {
        let input = d.join(name);
        std::fs::write(&input, content.to_string()).unwrap();
        let out = keeper(&[
            "merkle",
            "dump",
            "--leaf",
            "claim",
            "--input",
            s(&input),
            "--output",
            s(&dump),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}");
        assert!(err.contains(name) && err.contains(expected), "{name}: {err}");
        assert!(!dump.exists(), "{name}: wrote a dump");
    }
    let entries: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 5, "left temporary files behind: {entries:?}");
    let _ = std::fs::remove_dir_all(&d);
}

/// `merkle dump --store DB --month 2026-01` writes the month's tree as the keeper stored it: the
/// same bytes as `merkle dump --input` of its leaves; a tampered store, a missing file or month
/// write nothing.
#[test]
fn dump_from_a_keepers_store() {
    use flex_store::{MonthRecord, Phase, SqliteStore, Store};
    let d = tempdir("store");
    let db = d.join("keeper.db");
    let store = SqliteStore::open(&db).unwrap();
    // The keeper's leaf order: by wallet.
    let mut rows: Vec<(flex_merkle::Address, u128)> = [(W2, 456u128), (W1, u128::MAX), (W3, 7)]
        .iter()
        .map(|(w, a)| (w.parse().unwrap(), *a))
        .collect();
    rows.sort();
    let leaves: Vec<flex_merkle::ClaimLeaf> = rows
        .iter()
        .map(|(wallet, amount)| flex_merkle::ClaimLeaf {
            month_index: 24312,
            wallet: *wallet,
            amount: *amount,
        })
        .collect();
    let tree = flex_merkle::StandardMerkleTree::of(leaves.clone()).unwrap();
    let stored = flex_service::compute::stored_tree(&tree).unwrap();
    let record = MonthRecord {
        month_index: 24312,
        phase: Phase::Finalized,
        root: vec![],
        root_hash: [3; 32],
        claims_root: tree.root(),
        total: 0,
        claim_price: 0,
        first_epoch: 0,
        end_epoch: 31,
        claims: 3,
        voted: true,
        note: String::new(),
        updated_at: 0,
    };
    store.save_month(&record, &stored).unwrap();
    let mut tampered = stored.clone();
    tampered.nodes[0][0] ^= 1;
    store
        .save_month(
            &MonthRecord {
                month_index: 24313,
                ..record.clone()
            },
            &tampered,
        )
        .unwrap();
    drop(store);

    let input = d.join("leaves.json");
    let values: Vec<Value> = rows
        .iter()
        .map(|(w, a)| json!({"month_index": 24312, "wallet": w.to_string(), "amount": a.to_string()}))
        .collect();
    std::fs::write(&input, Value::Array(values).to_string()).unwrap();
    let from_input = d.join("from-input.json");
    let out = keeper(&[
        "merkle",
        "dump",
        "--leaf",
        "claim",
        "--input",
        s(&input),
        "--output",
        s(&from_input),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let from_store = d.join("from-store.json");
    for month in ["2026-01", "24312"] {
        let _ = std::fs::remove_file(&from_store);
        let out = keeper(&[
            "merkle",
            "dump",
            "--store",
            s(&db),
            "--month",
            month,
            "--output",
            s(&from_store),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            std::fs::read(&from_store).unwrap(),
            std::fs::read(&from_input).unwrap()
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["month"], "2026-01");
        assert_eq!(summary["leaves"], 3);
    }

    let refused = d.join("refused.json");
    for (args, says) in [
        (vec!["--store", s(&db), "--month", "2026-02"], "not a valid tree"),
        (vec!["--store", s(&db), "--month", "2026-05"], "has no claim tree"),
        (
            vec!["--store", s(&d.join("none.db")), "--month", "2026-01"],
            "no such database file",
        ),
        (vec!["--store", s(&db), "--month", "2026-13"], "is not a month"),
        (vec!["--store", s(&db)], "--month"),
    ] {
        let mut all = vec!["merkle", "dump"];
        all.extend(args.iter().copied());
        all.extend(["--output", s(&refused)]);
        let out = keeper(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!refused.exists(), "{args:?} wrote {}", refused.display());
    }
    assert!(
        !d.join("none.db").exists(),
        "a missing --store must not be created"
    );
}

const W3: &str = "0x00000000000000000000000000000000000000ff";
