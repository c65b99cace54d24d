//! JSON-lines import throughput: writes N actions (default 1,000,000) as a JSON-lines file (N/4
//! wallet connections first, then the actions in time order over 30 days), then
//!
//! 1. parses it alone (one thread, batches dropped): the reader's speed;
//! 2. imports it into a fresh SQLite store with `import_file` (the reader thread parses while the
//!    calling thread inserts, one transaction): actions/s from opening the file to the commit,
//!    with each side's busy time;
//! 3. imports it again (every action known, each checked against the stored one);
//! 4. checkpoints the WAL into the database file (timed apart: the commit does not need it).
//!
//! cargo bench -p flex-sources --bench import -- [N] [DIR] [--ids=act|int|hash]
//!
//! `act`: `"act-<i>"` as in the docs' pool; `int`: `<i>` (stored as an integer); `hash`: a random
//! `"0x"` + 64 hex digits, like an EVM transaction hash (random order: the slow case).

use std::io::Write;
use std::time::Instant;

use flex_engine::WeightTable;
use flex_ingest::lines::read_lines;
use flex_sources::files::{import_file, FileFormat};
use flex_store::SqliteStore;

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// CPU time of this thread and of the whole process (Linux; zero elsewhere). The figures a busy
/// machine disturbs less than the wall clock: the store runs on this thread, the reader on another.
fn cpu() -> (f64, f64) {
    let thread = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9);
    // utime and stime, fields 14 and 15, in clock ticks (100 a second on Linux).
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0);
    (thread, process)
}

fn cpu_note(n: u64, before: (f64, f64)) -> String {
    let (t, p) = cpu();
    let (store, all) = (t - before.0, p - before.1);
    let reader = (all - store).max(0.0);
    format!(
        "\n    CPU: store {store:.2} s, reader {reader:.2} s; with a core each: {}",
        rate(n, store.max(reader))
    )
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:.0} actions/s", n as f64 / secs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let ids = args
        .iter()
        .find_map(|a| a.strip_prefix("--ids="))
        .unwrap_or("act")
        .to_string();
    let mut pos = args.iter().filter(|a| !a.starts_with("--"));
    let n: u64 = pos.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(pos.next().map_or("target/bench-import", String::as_str));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("actions-{n}-{ids}.jsonl"));
    let db = dir.join(format!("import-{n}-{ids}.db"));
    let remove_db = || {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
    };
    remove_db();
    let kinds_list = [("swap", "2.5"), ("stake", "4"), ("post", "1"), ("vote", "1.5")];
    let mut kinds = WeightTable::new();
    for (k, w) in kinds_list {
        kinds.insert_str(k, w)?;
    }
    println!(
        "machine: {} CPUs, load average {}",
        std::thread::available_parallelism()?,
        loadavg()
    );

    let g: i64 = 1_769_644_800;
    let wallets = (n / 4).max(1);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let address = |w: u64| {
        let a = w.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("0x{a:016x}{:08x}{w:016x}", (a >> 7) as u32)
    };
    let t = Instant::now();
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
        for w in 0..wallets {
            writeln!(
                out,
                r#"{{"wallet":"{}","connected_at":{}}}"#,
                address(w),
                g - 3600
            )?;
        }
        for i in 0..n {
            let w = rnd() % wallets;
            let kind = kinds_list[(rnd() % 4) as usize].0;
            let side = if rnd() % 4 == 0 { "offchain" } else { "onchain" };
            let ts = g + (i * 30 * 86_400 / n) as i64;
            match ids.as_str() {
                "int" => write!(out, r#"{{"action_id":{i},"#)?,
                "hash" => write!(
                    out,
                    r#"{{"action_id":"0x{:016x}{:016x}{:016x}{:016x}","#,
                    rnd(),
                    rnd(),
                    rnd(),
                    rnd()
                )?,
                _ => write!(out, r#"{{"action_id":"act-{i}","#)?,
            }
            writeln!(
                out,
                r#""wallet":"{}","kind":"{kind}","side":"{side}","timestamp":{ts}}}"#,
                address(w)
            )?;
        }
        out.flush()?;
    }
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "wrote {} ({n} actions, {wallets} wallets, {:.0} MB) in {:.2} s",
        file.display(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // 1. The reader alone.
    let c = cpu();
    let t = Instant::now();
    let sum = read_lines(
        std::fs::File::open(&file)?,
        "bench",
        &kinds,
        &mut |_| {},
        &mut |b| {
            drop(b);
            Ok(())
        },
    )?
    .map_err(|_| "stopped")?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(sum.actions, n);
    println!(
        "parse only (1 thread): {secs:.2} s, {} ({:.0} MB/s); CPU {:.2} s",
        rate(n, secs),
        bytes as f64 / 1e6 / secs,
        cpu().0 - c.0
    );

    // 2. Into a fresh store.
    let store = SqliteStore::open(&db)?;
    let c = cpu();
    let r = import_file(&store, &file, FileFormat::Lines, &kinds, false)?;
    let note = cpu_note(n, c);
    assert_eq!((r.stats.actions_new, r.stats.wallets_new), (n, wallets));
    let secs = r.elapsed.as_secs_f64();
    println!(
        "import ({ids} ids, fresh store): {secs:.2} s, {}; reader busy {:.2} s, store busy {:.2} s{note}",
        rate(n, secs),
        r.parse.as_secs_f64(),
        r.insert.as_secs_f64()
    );

    // 3. Again: all known.
    let c = cpu();
    let r = import_file(&store, &file, FileFormat::Lines, &kinds, false)?;
    let note = cpu_note(n, c);
    assert_eq!(r.stats.actions_known, n);
    let secs = r.elapsed.as_secs_f64();
    println!(
        "re-import (all known): {secs:.2} s, {}; reader busy {:.2} s, store busy {:.2} s{note}",
        rate(n, secs),
        r.parse.as_secs_f64(),
        r.insert.as_secs_f64()
    );

    // 4. The WAL into the database file.
    let t = Instant::now();
    store.checkpoint()?;
    println!("checkpoint (TRUNCATE): {:.2} s", t.elapsed().as_secs_f64());
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "database: {:.0} MB ({:.0} bytes per action); load average now {}",
        size as f64 / 1e6,
        size as f64 / n as f64,
        loadavg()
    );
    drop(store);
    remove_db();
    let _ = std::fs::remove_file(&file);
    Ok(())
}
