//! `flex-keeper replay` end to end on the hand-made sample in `tests/data/`, with the expected bytes
//! worked out by hand below.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GENESIS: &str = "1767225600"; // 2026-01-01T00:00:00Z

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn replay(pool: &Path, weights: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .arg("replay")
        .arg("--pool")
        .arg(pool)
        .arg("--weights")
        .arg(weights)
        .args(["--genesis", GENESIS, "--balance", "1000000"])
        .args(extra)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("run flex-keeper")
}

const A: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "0xcccccccccccccccccccccccccccccccccccccccc";
const D: &str = "0xdddddddddddddddddddddddddddddddddddddddd";

// U64F64 bits: weight * 2^64 (2^64 = 18446744073709551616).
const W1: &str = "18446744073709551616"; // 1.0 (vote)
const W2_1: &str = "38738162556508045312"; // vote 1 + like 1.1: U32F32(1.1) = 2^32 + 429496730
                                           // (0.1 * 2^32 = 429496729.6, rounded to nearest), so the sum in U32F32 bits is
                                           // 2*2^32 + 429496730 = 9019431322, and in U64F64 bits 9019431322 * 2^32.
const W2_5: &str = "46116860184273879040"; // 2.5 (swap)
const W3: &str = "55340232221128654848"; // 3.0 (bridge, written as the TOML integer 3)

fn entry(addr: &str, score: &str, weight: &str, reward: &str) -> String {
    format!(r#""{addr}":{{"score":"{score}","weight_bits":"{weight}","reward":"{reward}"}}"#)
}

#[allow(clippy::too_many_arguments)]
fn epoch(e: u64, wi: u8, pool: &str, active: u64, ranked: u64, wallets: &[String]) -> String {
    let distributed = pool; // every epoch of the sample has S > 0
    format!(
        r#"{{"epoch":{e},"wallet_index":{wi},"halving":0,"pool":"{pool}","distributed":"{distributed}","active":{active},"ranked":{ranked},"wallets":{{{}}}}}"#,
        wallets.join(",")
    )
}

/// The sample, by hand (genesis G = 2026-01-01T00:00:00Z, balance 1_000_000):
///
/// Connection epochs: A connected 2025-12-20 (before genesis -> 0); B at G+3600 -> 0;
/// C at 2026-01-02T10:00+02:00 = 08:00Z -> 1; D at 2026-01-03T00:00Z -> 2 (no actions).
///
/// Epoch 0: A swap 2.5 (its 2025-12-31T23:59:59Z vote is before genesis: ignored); B vote 1 +
/// like 1.1 (integer action_ids 1, 2). C's swap at G+500 is before C's connection epoch: ignored.
/// A and B connected in epoch 0: F, not ranked. active 2. Wi(0) = 0 -> P_0 = 0.
///
/// Epoch 1: A swap 2.5 at E1+500; B swap 2.5 at E1+50 (listed twice with the same action_id and
/// content: counted once); C bridge 3 at E1+10 (before its connected_at, but in its connection
/// epoch: counts). active 3 > 2 -> Wi = 1. P_1 = floor(1_000_000 * 1 / 10_000) = 100.
/// Ranked N = 2 (A, B tie on 2.5; B's first action is earlier): B rank 1 F (100), A rank 2 -> 8
/// (N < 71) (16). C connects and is active: F (100). S = 216; q = 0, r0 = 100:
/// A 1600/216 = 7 r 88; B 10000/216 = 46 r 64; C 46 r 64. Paid 99; the unit left goes to the
/// largest remainder, A (88) -> A 8, B 46, C 46. Balance 1_000_000 - 100 = 999_900.
///
/// Epoch 2: A vote 1; C bridge 3; B nothing; D connects, inactive. active 2, not above 3 -> Wi 1.
/// P_2 = floor(999_900 / 10_000) = 99. Ranked: C (3) F 100, A (1) 8 (16); B 0; D F with
/// multiplier 0 (default bonus: inactive). S = 116: C 9900/116 = 85 r 40; A 1584/116 = 13 r 76.
/// Paid 98; the unit goes to A (76) -> A 14, C 85.
///
/// Arrays: A F88, B FF0, C FF, D F.
#[test]
fn replay_sample_exact_bytes() {
    let out = replay(&data("replay_pool.json"), &data("replay_weights.toml"), &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!(
        "{{\"epochs\":[{},{},{}],\"arrays\":{{\"{A}\":\"F88\",\"{B}\":\"FF0\",\"{C}\":\"FF\",\"{D}\":\"F\"}}}}\n",
        epoch(0, 0, "0", 2, 0, &[entry(A, "F", W2_5, "0"), entry(B, "F", W2_1, "0")]),
        epoch(1, 1, "100", 3, 2, &[entry(A, "8", W2_5, "8"), entry(B, "F", W2_5, "46"), entry(C, "F", W3, "46")]),
        epoch(
            2,
            1,
            "99",
            2,
            2,
            &[entry(A, "8", W1, "14"), entry(B, "0", "0", "0"), entry(C, "F", W3, "85"), entry(D, "F", "0", "0")]
        ),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    // The same document from the weight table written as JSON.
    let dir = std::env::temp_dir().join(format!("flex-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wj = dir.join("weights.json");
    std::fs::write(&wj, r#"{"bridge":"3","like":"1.1","vote":1,"swap":"2.50"}"#).unwrap();
    let again = replay(&data("replay_pool.json"), &wj, &[]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--connection-bonus always` changes only epoch 2, where D connects inactive: D now earns 100.
/// S = 100 (C) + 16 (A) + 100 (D) = 216, P_2 = 99: C 9900/216 = 45 r 180, A 1584/216 = 7 r 72,
/// D 45 r 180. Paid 97; two units left: C and D (remainder 180, same multiplier, C's address lower
/// first, then D) -> C 46, A 7, D 46. `--epochs 2` stops after epoch 1.
#[test]
fn replay_sample_switches() {
    let out = replay(
        &data("replay_pool.json"),
        &data("replay_weights.toml"),
        &["--connection-bonus", "always"],
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let e2 = epoch(
        2,
        1,
        "99",
        2,
        2,
        &[
            entry(A, "8", W1, "7"),
            entry(B, "0", "0", "0"),
            entry(C, "F", W3, "46"),
            entry(D, "F", "0", "46"),
        ],
    );
    assert!(text.contains(&e2), "{text}");

    let out = replay(
        &data("replay_pool.json"),
        &data("replay_weights.toml"),
        &["--epochs", "2"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.ends_with(&format!(
            "],\"arrays\":{{\"{A}\":\"F8\",\"{B}\":\"FF\",\"{C}\":\"F\"}}}}\n"
        )),
        "{text}"
    );
    assert_eq!(text.matches("\"epoch\":").count(), 2);

    let out = replay(
        &data("replay_pool.json"),
        &data("replay_weights.toml"),
        &["--epochs", "0"],
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"epochs\":[],\"arrays\":{}}\n"
    );
}

fn failure(out: &Output) -> String {
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "stdout must stay empty on error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn replay_errors_name_the_place() {
    let dir = std::env::temp_dir().join(format!("flex-replay-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let weights = data("replay_weights.toml");
    let sample = std::fs::read_to_string(data("replay_pool.json")).unwrap();

    // Genesis not at midnight.
    let out = Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(["replay", "--pool"])
        .arg(data("replay_pool.json"))
        .arg("--weights")
        .arg(&weights)
        .args(["--genesis", "1767225601", "--balance", "1"])
        .output()
        .unwrap();
    assert!(failure(&out).contains("not 00:00:00 UTC"));

    // A weight out of range names the file and the kind.
    let bad_w = dir.join("w.toml");
    std::fs::write(&bad_w, "swap = \"2.5\"\nmint = \"10.5\"\n").unwrap();
    let e = failure(&replay(&data("replay_pool.json"), &bad_w, &[]));
    assert!(
        e.contains("w.toml") && e.contains("\"mint\"") && e.contains("[1, 10]"),
        "{e}"
    );

    // A bad timestamp names the file, the wallet, the action and the field.
    let bad = dir.join("bad_ts.json");
    std::fs::write(
        &bad,
        sample.replace("2026-01-03T00:00:10Z", "2026-01-33T00:00:10Z"),
    )
    .unwrap();
    let e = failure(&replay(&bad, &weights, &[]));
    for needle in [
        "bad_ts.json",
        &format!("wallet {C} (wallets[1])"),
        "actions.onchain[2] (action_id \"c-2\")",
        "field \"timestamp\"",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in {e}");
    }

    // An unknown kind.
    let bad = dir.join("bad_kind.json");
    std::fs::write(
        &bad,
        sample.replace(
            r#""action_id": "a-2", "kind": "vote""#,
            r#""action_id": "a-2", "kind": "mint""#,
        ),
    )
    .unwrap();
    let e = failure(&replay(&bad, &weights, &[]));
    for needle in [
        "bad_kind.json",
        &format!("wallet {A} (wallets[2])"),
        "actions.offchain[1] (action_id \"a-2\")",
        "field \"kind\"",
        "unknown kind \"mint\"",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in {e}");
    }

    // The same action_id with different content.
    let bad = dir.join("conflict.json");
    let twice = r#"{ "action_id": "b-1", "kind": "swap", "timestamp": 1767312050 }
        ]"#;
    assert!(sample.contains(twice));
    std::fs::write(
        &bad,
        sample.replace(
            twice,
            r#"{ "action_id": "b-1", "kind": "vote", "timestamp": 1767312050 } ]"#,
        ),
    )
    .unwrap();
    let e = failure(&replay(&bad, &weights, &[]));
    assert!(
        e.contains("action_id \"b-1\"") && e.contains("different kind"),
        "{e}"
    );

    // A truncated file: a syntax error with the position and what was being read.
    let bad = dir.join("truncated.json");
    std::fs::write(&bad, &sample[..sample.find("a-1").unwrap()]).unwrap();
    let e = failure(&replay(&bad, &weights, &[]));
    assert!(
        e.contains("truncated.json") && e.contains("wallets[2]") && e.contains("line"),
        "{e}"
    );

    // A missing file.
    let e = failure(&replay(&dir.join("nope.json"), &weights, &[]));
    assert!(e.contains("nope.json") && e.contains("cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
