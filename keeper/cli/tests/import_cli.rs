//! `flex-keeper import` end to end: a JSON-lines log and a pool file into a fresh store, the same
//! again (nothing new), a file with a bad line (refused whole, its line named, the store
//! unchanged, the files after it not read), and `--config` with two weight table versions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flex_store::{SqliteStore, Store};

const A: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const G: i64 = 1_769_644_800;

fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .arg("import")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("run flex-keeper")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn action(id: &str, kind: &str, ts: i64) -> String {
    format!(r#"{{"action_id":"{id}","wallet":"{A}","kind":"{kind}","side":"onchain","timestamp":{ts}}}"#)
}

fn counts(db: &Path) -> (u64, u64) {
    SqliteStore::open(db).unwrap().input_counts().unwrap()
}

#[test]
fn imports_reimports_and_refuses_a_bad_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weights = write(d, "weights.toml", "swap = \"2.5\"\npost = 1\n");
    let mut log = format!("{{\"wallet\":\"{A}\",\"connected_at\":{G}}}\n");
    for i in 0..1000 {
        log.push_str(&action(
            &format!("l-{i}"),
            if i % 2 == 0 { "swap" } else { "post" },
            G + i,
        ));
        log.push('\n');
    }
    let log = write(d, "log.jsonl", &log);
    let pool = write(
        d,
        "pool.json",
        &format!(
            r#"{{"wallets":[{{"address":"{A}","connected_at":{G},"actions":{{"offchain":[{{"action_id":"p-1","kind":"post","timestamp":{}}}]}}}}]}}"#,
            G + 5
        ),
    );
    let db = d.join("keeper.db");
    let (db_s, w_s) = (db.to_str().unwrap(), weights.to_str().unwrap());
    let args = |files: &[&Path]| {
        let mut a: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        a.extend(["--store", db_s, "--weights", w_s, "--quiet"].map(String::from));
        a
    };
    let run = |files: &[&Path]| {
        let a = args(files);
        keeper(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let out = lines(&run(&[&log, &pool]));
    assert_eq!(out.len(), 2);
    assert_eq!(
        (
            &out[0]["format"],
            &out[0]["records"],
            &out[0]["actions_new"],
            &out[0]["wallets_new"]
        ),
        (&"lines".into(), &1001.into(), &1000.into(), &1.into())
    );
    assert_eq!(
        (
            &out[1]["format"],
            &out[1]["actions_new"],
            &out[1]["wallets_known"]
        ),
        (&"pool".into(), &1.into(), &1.into())
    );
    assert_eq!(counts(&db), (1, 1001));

    // Again: everything known, nothing changes.
    let out = lines(&run(&[&log, &pool]));
    assert_eq!(
        (&out[0]["actions_new"], &out[0]["actions_known"]),
        (&0.into(), &1000.into())
    );
    assert_eq!(
        (&out[1]["actions_new"], &out[1]["actions_known"]),
        (&0.into(), &1.into())
    );
    assert_eq!(counts(&db), (1, 1001));

    // A new file whose line 4 is bad, then a good new file: the first is refused whole (its three
    // good lines are not stored), the second is not read.
    let bad = write(
        d,
        "bad.jsonl",
        &[
            action("n-1", "swap", G),
            action("n-2", "swap", G),
            action("n-3", "swap", G),
            action("n-4", "swap", G).replace(&format!(",\"timestamp\":{G}"), ",\"timestamp\":true"),
        ]
        .join("\n"),
    );
    let later = write(d, "later.jsonl", &action("n-5", "swap", G));
    let out = run(&[&bad, &later]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:4: field \"timestamp\": invalid type: boolean",
            bad.display()
        )) && err.contains(&format!("nothing was imported from {}", bad.display()))
            && err.contains("the 1 file(s) after it were not read"),
        "{err}"
    );
    assert_eq!(counts(&db), (1, 1001));

    // An unknown extension needs --format.
    let txt = write(d, "log.txt", &action("t-1", "swap", G));
    let out = run(&[&txt]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    let mut a = args(&[&txt]);
    a.extend(["--format", "lines"].map(String::from));
    let out = lines(&keeper(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(out[0]["actions_new"], 1);
}

/// With `--config`, the store and the kinds come from the keeper's configuration; a kind that only
/// a later weight table version has is accepted.
#[test]
fn config_with_weight_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "w0.toml", "swap = \"2.5\"\n");
    write(d, "w1.json", "{\"swap\":\"3\",\"vote\":\"1\"}");
    let config = write(
        d,
        "keeper.toml",
        "[chain]\ncontract = \"0x1111111111111111111111111111111111111111111111111111111111111111\"\n\
         bundle = \"pool.contract\"\n[store]\npath = \"k.db\"\n\
         [[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n\
         [[protocol.weight_versions]]\nfrom_epoch = 40\nfile = \"w1.json\"\n",
    );
    let log = write(
        d,
        "a.jsonl",
        &format!("{}\n{}\n", action("v-1", "vote", G), action("s-1", "swap", G)),
    );
    let out = lines(&keeper(&[
        log.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(out[0]["actions_new"], 2);
    assert_eq!(counts(&d.join("k.db")), (0, 2));
    // A bad versions list is refused with its key named.
    let bad = write(
        d,
        "bad.toml",
        &std::fs::read_to_string(&config)
            .unwrap()
            .replace("from_epoch = 40", "from_epoch = 0"),
    );
    let out = keeper(&[log.to_str().unwrap(), "--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protocol.weight_versions[1].from_epoch"), "{err}");
}
