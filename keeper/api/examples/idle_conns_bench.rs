//! Idle connections against the API (issue 18: 20,000 idle loopback connections exhausted the
//! file descriptors and `/health` stopped answering): opens N connections that send nothing, then
//! times `GET /health` on fresh connections and reads the process's RSS and open descriptors.
//!
//! cargo run --release -p flex-api --example idle_conns_bench -- [N] [limits|plain]
//!
//! `limits` (default): `Api::serve` with the default limits (connection cap min(4096,
//! RLIMIT_NOFILE - 256), header-read timeout 10 s). `plain`: `axum::serve` on the same router, as
//! the API was served before. Client and server share the process, so N plus the server's
//! connections must stay under `ulimit -n`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flex_sources::Status;
use flex_store::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn status_field(name: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .map(|l| l[name.len()..].trim().to_string())
        .unwrap_or_default()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// One `GET /health` on a fresh connection: its status (0: no answer within 2 s) and time.
async fn health(addr: std::net::SocketAddr) -> (u16, Duration) {
    let t = Instant::now();
    let ask = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        String::from_utf8_lossy(&buf).get(9..12)?.parse().ok()
    };
    let code = tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    (code, t.elapsed())
}

async fn sample(addr: std::net::SocketAddr, label: &str) {
    let mut times = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..50 {
        let (code, t) = health(addr).await;
        *codes.entry(code).or_insert(0) += 1;
        times.push(t);
    }
    times.sort();
    println!(
        "{label}: /health answers {codes:?} (0 = none within 2 s); p50 {:.2} ms, p99 {:.2} ms; RSS {}; open fds {}",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 99 / 100].as_secs_f64() * 1e3,
        status_field("VmRSS:"),
        open_fds()
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(15_000);
    let mode = args.next().unwrap_or_else(|| "limits".into());
    let dir = tempfile_dir()?;
    let store = Arc::new(SqliteStore::open(dir.join("k.db"))?);
    let api = flex_api::Api::new(
        store,
        Arc::new(Status::default()),
        flex_types::AccountId([0; 32]),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = api.clone();
    let plain = mode == "plain";
    tokio::spawn(async move {
        let _ = if plain {
            axum::serve(listener, served.router()).await
        } else {
            served.serve(listener, std::future::pending()).await
        };
    });
    println!(
        "mode {mode}, RLIMIT_NOFILE {:?}, {n} idle connections",
        flex_api::limits::fd_limit()
    );
    sample(addr, "before").await;
    let t = Instant::now();
    let mut idle = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        match TcpStream::connect(addr).await {
            Ok(s) => idle.push(s),
            Err(_) => failed += 1,
        }
    }
    println!(
        "opened {} idle connections in {:.2} s ({failed} connects failed)",
        idle.len(),
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    sample(addr, "with them open").await;
    // After the header-read timeout (10 s) the server has closed its side of the idle ones.
    tokio::time::sleep(Duration::from_secs(11)).await;
    sample(addr, "11 s later, still held by the client").await;
    drop(idle);
    tokio::time::sleep(Duration::from_millis(500)).await;
    sample(addr, "after the client closed them").await;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("flex-idle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
