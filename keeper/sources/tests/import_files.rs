//! `flex_sources::files::import_file` over real files and a real SQLite store: JSON lines and
//! pool JSON, re-import, a bad line (nothing written, the line named), a conflicting action, and
//! the keeper's `import_sources` on the same files.

use std::path::{Path, PathBuf};

use flex_engine::WeightTable;
use flex_sources::files::{import_file, import_sources, FileFormat, InputFile};
use flex_store::{SqliteStore, Store};

const A: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const G: i64 = 1_769_644_800;

fn kinds() -> WeightTable {
    let mut t = WeightTable::new();
    t.insert_str("swap", "2.5").unwrap();
    t.insert_str("post", "1").unwrap();
    t
}

fn action(id: &str, wallet: &str, kind: &str, side: &str, ts: i64) -> String {
    format!(r#"{{"action_id":{id},"wallet":"{wallet}","kind":"{kind}","side":"{side}","timestamp":{ts}}}"#)
}

/// A log of two connections and `n` actions alternating between the wallets, kinds and sides.
fn log(n: usize) -> String {
    let mut s = format!(
        "{{\"wallet\":\"{A}\",\"connected_at\":\"2026-01-28T23:00:00Z\"}}\n{{\"wallet\":\"{B}\",\"connected_at\":{}}}\n",
        G + 10
    );
    for i in 0..n {
        let (w, k, side) = if i % 2 == 0 {
            (A, "swap", "onchain")
        } else {
            (B, "post", "offchain")
        };
        let id = if i % 3 == 0 {
            i.to_string()
        } else {
            format!("\"log-{i}\"")
        };
        s.push_str(&action(&id, w, k, side, G + i as i64));
        s.push('\n');
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn counts(s: &SqliteStore) -> (u64, u64) {
    s.input_counts().unwrap()
}

#[test]
fn json_lines_import_once_and_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    // More than one batch, so the reader and the store overlap.
    let n = flex_ingest::lines::BATCH_ACTIONS * 2 + 77;
    let f = write(dir.path(), "log.jsonl", &log(n));
    let r = import_file(&store, &f, FileFormat::Lines, &kinds(), false).unwrap();
    assert_eq!(
        (
            r.stats.wallets_new,
            r.stats.actions_new,
            r.stats.actions_known,
            r.records
        ),
        (2, n as u64, 0, n as u64 + 2)
    );
    assert_eq!(counts(&store), (2, n as u64));
    let again = import_file(&store, &f, FileFormat::Lines, &kinds(), false).unwrap();
    assert_eq!(
        (
            again.stats.wallets_known,
            again.stats.actions_new,
            again.stats.actions_known
        ),
        (2, 0, n as u64)
    );
    assert_eq!(counts(&store), (2, n as u64));
    // What was stored reads back: wallet B (mixed case in the file), kind, time.
    let got = store.actions_between(G + 1, G + 2).unwrap();
    assert_eq!(
        got,
        vec![(flex_types::Address([0xbb; 20]), "post".to_string(), G + 1)]
    );
    assert_eq!(
        store
            .wallet(&flex_types::Address([0xaa; 20]))
            .unwrap()
            .map(|w| w.connected_at),
        Some(G - 3600)
    );
}

#[test]
fn a_bad_line_rejects_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let first = write(dir.path(), "first.jsonl", &log(10));
    import_file(&store, &first, FileFormat::Lines, &kinds(), false).unwrap();
    let before = counts(&store);
    // Line 40_003 of a long file has an unknown kind; thousands of good lines come before it
    // (two full batches reach the store before the reader fails).
    let n = 40_000;
    let mut text = log(n);
    text.push_str(&action("\"bad\"", A, "mint", "onchain", G));
    text.push('\n');
    text.push_str(&action("\"after\"", A, "swap", "onchain", G));
    text.push('\n');
    let f = write(dir.path(), "bad.jsonl", &text);
    let e = import_file(&store, &f, FileFormat::Lines, &kinds(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}:{}: field \"kind\": unknown kind \"mint\"",
            f.display(),
            n + 3
        )),
        "{e}"
    );
    assert_eq!(counts(&store), before);
    // A syntax error on line 2.
    let f = write(
        dir.path(),
        "syntax.jsonl",
        &format!("{}\n{{\"wallet\":\n", action("1", A, "swap", "onchain", G)),
    );
    let e = import_file(&store, &f, FileFormat::Lines, &kinds(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}:2: field \"wallet\": EOF while parsing", f.display())),
        "{e}"
    );
    assert_eq!(counts(&store), before);
}

#[test]
fn a_conflicting_action_rejects_the_file_and_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let f = write(dir.path(), "log.jsonl", &log(100));
    import_file(&store, &f, FileFormat::Lines, &kinds(), false).unwrap();
    // "log-5" again with another timestamp, on line 3 of a file that also brings new actions.
    let text = [
        action("\"new-1\"", A, "swap", "onchain", G),
        action("\"new-2\"", A, "swap", "onchain", G),
        action("\"log-5\"", B, "post", "offchain", G + 6),
    ]
    .join("\n");
    let g = write(dir.path(), "conflict.jsonl", &text);
    let e = import_file(&store, &g, FileFormat::Lines, &kinds(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("action_id \"log-5\"")
            && e.contains("timestamp")
            && e.contains(&format!("{}:3", g.display())),
        "{e}"
    );
    assert_eq!(counts(&store), (2, 100));
    // The integer id 3 and the string "3" are the same id: known, not new.
    let h = write(
        dir.path(),
        "same.jsonl",
        &action("\"3\"", B, "post", "offchain", G + 3),
    );
    let r = import_file(&store, &h, FileFormat::Lines, &kinds(), false).unwrap();
    assert_eq!((r.stats.actions_new, r.stats.actions_known), (0, 1));
}

#[test]
fn pool_json_and_the_keeper_sources() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let pool = format!(
        r#"{{"wallets":[
          {{"address":"{A}","connected_at":"2026-01-28T23:00:00Z","actions":{{
            "onchain":[{{"action_id":"p-1","kind":"swap","timestamp":{}}},{{"action_id":7,"kind":"swap","timestamp":{}}}],
            "offchain":[{{"action_id":"p-2","kind":"post","timestamp":"2026-01-29T00:01:00Z"}}]}}}},
          {{"address":"{B}","connected_at":{}}}
        ]}}"#,
        G + 5,
        G + 7,
        G + 10
    );
    let p = write(dir.path(), "pool.json", &pool);
    let r = import_file(&store, &p, FileFormat::Pool, &kinds(), false).unwrap();
    assert_eq!((r.stats.wallets_new, r.stats.actions_new), (2, 3));
    let again = import_file(&store, &p, FileFormat::Pool, &kinds(), false).unwrap();
    assert_eq!((again.stats.actions_new, again.stats.actions_known), (0, 3));
    assert_eq!(
        store.actions_between(G + 60, G + 61).unwrap(),
        vec![(flex_types::Address([0xaa; 20]), "post".into(), G + 60)]
    );
    // A pool action that conflicts with a JSON-lines one: the lines file is refused.
    let l = write(dir.path(), "l.jsonl", &action("7", A, "post", "onchain", G + 7));
    let e = import_file(&store, &l, FileFormat::Lines, &kinds(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("action_id \"7\"") && e.contains("kind"), "{e}");
    // A bad pool file: nothing written, the error names the file, the action and the field.
    let bad = write(
        dir.path(),
        "bad.json",
        &pool.replace("\"p-2\",\"kind\":\"post\"", "\"p-3\",\"kind\":\"mint\""),
    );
    let e = import_file(&store, &bad, FileFormat::Pool, &kinds(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json") && e.contains("p-3") && e.contains("\"kind\""),
        "{e}"
    );
    assert_eq!(counts(&store), (2, 3));

    // The keeper's sources: each file once (then skipped while unchanged), through the same path.
    let l = write(dir.path(), "keeper.jsonl", &log(50));
    let sources = vec![InputFile::pool(p), InputFile::lines(l.clone())];
    let st = import_sources(&store, &sources, &kinds()).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (50, 3));
    let st = import_sources(&store, &sources, &kinds()).unwrap();
    assert_eq!((st.actions_new, st.actions_known), (0, 0));
    assert_eq!(counts(&store), (2, 53));
    // The row interface of the log gives the same actions.
    let b = InputFile::lines(l).read(&kinds()).unwrap();
    assert_eq!((b.wallets.len(), b.actions.len()), (2, 50));
    assert_eq!(b.actions[3].action_id, "3");
}
