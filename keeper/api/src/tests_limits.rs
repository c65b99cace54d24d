//! The API's limits over real TCP sockets on loopback (`Api::serve`), against a real SQLite store:
//! timeouts, the connection and request caps, body limits, JSON errors, short echoes, canonical
//! URLs and the bounded month cache.

use std::sync::Arc;
use std::time::Duration;

use flex_engine::WeightTable;
use flex_sources::offchain::{Intake, Policy};
use flex_sources::Status;
use flex_store::{MonthRecord, Phase, SqliteStore, Store};
use flex_types::Address;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Api, Limits};

const GENESIS: i64 = 1_769_644_800;
/// Hardhat's account #0: the one attester of the intake.
const ATTESTER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// A bound on each socket wait, so that a missing limit fails the test instead of hanging it.
const NEVER: Duration = Duration::from_secs(30);

struct Server {
    _dir: tempfile::TempDir,
    api: Api,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A month's two-leaf claim tree (`salt` varies its wallets), stored finalised.
fn save_month(store: &SqliteStore, m: u32, salt: u8) {
    let leaves: Vec<_> = [1u8, 2]
        .iter()
        .map(|&w| flex_merkle::ClaimLeaf {
            month_index: m,
            wallet: Address([w ^ salt; 20]),
            amount: u128::from(w) * 10,
        })
        .collect();
    let tree = flex_merkle::StandardMerkleTree::of(leaves.clone()).unwrap();
    let stored = flex_service::compute::stored_tree(&tree).unwrap();
    let rec = MonthRecord {
        month_index: m,
        phase: Phase::Finalized,
        root: vec![],
        root_hash: [salt; 32],
        claims_root: tree.root(),
        total: 30,
        claim_price: 0,
        first_epoch: 0,
        end_epoch: 3,
        claims: 2,
        voted: true,
        note: String::new(),
        updated_at: 0,
    };
    store.save_month(&rec, &stored).unwrap();
}

/// An API served by `Api::serve` under `limits`, with months 24312 and 24313 stored; `intake`:
/// whether it accepts off-chain batches.
async fn serve(limits: Limits, intake: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    save_month(&store, 24312, 0);
    save_month(&store, 24313, 0x10);
    let contract = flex_types::AccountId([0x11; 32]);
    let api = Api::with_limits(
        store.clone(),
        Arc::new(Status::default()),
        contract,
        Some(GENESIS),
        limits,
    );
    if intake {
        let mut table = WeightTable::new();
        table.insert_str("post", "1").unwrap();
        let policy = Policy {
            attesters: [ATTESTER.parse().unwrap()].into_iter().collect(),
            kinds: None,
        };
        api.set_offchain(Intake::new(store.clone(), policy, table, contract, Some(GENESIS)).unwrap());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = api.clone();
    let task = tokio::spawn(async move {
        let _ = served.serve(listener, std::future::pending()).await;
    });
    Server {
        _dir: dir,
        api,
        addr,
        task,
    }
}

/// Reads one HTTP/1.1 answer (headers and a `Content-Length` body): (status, headers, body).
async fn read_answer(s: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(NEVER, s.read(&mut chunk))
            .await
            .expect("no answer")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if len.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (code, head.to_ascii_lowercase(), body.to_string())
}

/// Whether the server closed `s` (EOF), waiting at most [`NEVER`].
async fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(NEVER, s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// One request on a fresh connection: (status, lower-case headers, JSON body).
async fn request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String, Value) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let head = head.to_string();
    let body = body.to_vec();
    // Written beside the read: the server may answer (413) before taking the whole body.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(NEVER, rd.read_to_end(&mut buf)).await;
    let _ = writer.await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        code,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    )
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, Value) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        b"",
    )
    .await
}

fn post_head(path: &str, content_type: &str, len: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
}

fn assert_error(got: &(u16, String, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{got:?}");
    assert!(got.1.contains("content-type: application/json"), "{got:?}");
    assert_eq!(got.2["error"]["code"], code, "{got:?}");
    assert!(
        got.2["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{got:?}"
    );
}

fn quick(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_or_half_sent_request_is_closed_after_the_header_timeout() {
    let srv = serve(
        quick(|l| l.header_read_timeout = Duration::from_millis(300)),
        false,
    )
    .await;
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    let mut half = TcpStream::connect(srv.addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed(&mut silent).await,
        "a connection that sent nothing stayed open"
    );
    assert!(
        closed(&mut half).await,
        "a connection with half its headers stayed open"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keep_alive_connection_is_closed_when_idle() {
    let srv = serve(quick(|l| l.idle_timeout = Duration::from_millis(300)), false).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (code, _, _) = read_answer(&mut s).await;
    assert_eq!(code, 200);
    assert!(closed(&mut s).await, "an idle keep-alive connection stayed open");
    assert!(
        srv.api
            .inner
            .conns
            .idle_closed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_shorter_than_its_content_length_gets_408() {
    let srv = serve(quick(|l| l.request_timeout = Duration::from_millis(300)), true).await;
    let got = request(
        srv.addr,
        &post_head("/v1/actions", "application/json", 1000),
        b"{\"attester\"",
    )
    .await;
    assert_error(&got, 408, "request_timeout");
    assert!(got.1.contains("connection: close"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_are_refused_while_the_others_are_served() {
    let srv = serve(quick(|l| l.max_connections = Some(3)), false).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    // The cap is taken when a connection is accepted: one answer on each proves all three are.
    for s in &mut held {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(s).await.0, 200);
    }
    let mut over = TcpStream::connect(srv.addr).await.unwrap();
    let (code, head, body) = read_answer(&mut over).await;
    assert_eq!(code, 503, "{head}{body}");
    assert!(body.contains("too_many_connections"), "{body}");
    assert!(closed(&mut over).await);
    // The allowed ones still answer.
    held[1]
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut held[1]).await.0, 200);
    // One closed: its place is free again.
    drop(held.pop());
    let mut answered = false;
    for _ in 0..50 {
        let got = get(srv.addr, "/health").await;
        if got.0 == 200 {
            answered = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(answered, "a freed place was not reused");
    assert!(
        srv.api
            .inner
            .conns
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_over_the_in_flight_cap_get_503_busy() {
    let srv = serve(quick(|l| l.max_in_flight = 1), true).await;
    // A request in flight: its body never comes.
    let mut stalled = TcpStream::connect(srv.addr).await.unwrap();
    stalled
        .write_all(post_head("/v1/actions", "application/json", 1000).as_bytes())
        .await
        .unwrap();
    // The stalled request takes the only place once the server has read its head: until then a
    // GET may still be served (up to 5 s, never a fixed sleep).
    let mut busy = None;
    for _ in 0..250 {
        let got = get(srv.addr, "/health").await;
        if got.0 == 503 {
            busy = Some(got);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a second request was served beside the first");
    assert_error(&busy, 503, "busy");
    assert!(busy.1.contains("retry-after: 1"), "{busy:?}");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_json_405_413_415_and_rejections_included() {
    let srv = serve(Limits::default(), true).await;
    let got = get(srv.addr, "/v1/actions").await;
    assert_error(&got, 405, "method_not_allowed");
    assert!(got.1.contains("allow: post"), "{got:?}");
    let got = request(
        srv.addr,
        "DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert_error(&got, 405, "method_not_allowed");
    // A 3 MiB relay body: 413, not 400.
    let big = vec![b' '; 3 << 20];
    let wallet = "0x0101010101010101010101010101010101010101";
    let relay = format!("/v1/claims/24312/{wallet}/relay");
    let got = request(srv.addr, &post_head(&relay, "application/json", big.len()), &big).await;
    assert_error(&got, 413, "too_large");
    // A 5 MiB batch: 413 before its body is read.
    let got = request(
        srv.addr,
        &post_head("/v1/actions", "application/json", 5 << 20),
        b"",
    )
    .await;
    assert_error(&got, 413, "too_large");
    // Not JSON by its media type: 415, whatever the body.
    let got = request(srv.addr, &post_head("/v1/actions", "text/plain", 2), b"{}").await;
    assert_error(&got, 415, "unsupported_media_type");
    let got = request(srv.addr, &post_head(&relay, "text/plain", 2), b"{}").await;
    assert_error(&got, 415, "unsupported_media_type");
    // A duplicated query parameter.
    let got = get(
        srv.addr,
        &format!(
            "/v1/claims/24312/{wallet}?beneficiary=0x{}&beneficiary=0x{}",
            "11".repeat(32),
            "22".repeat(32)
        ),
    )
    .await;
    assert_error(&got, 400, "bad_query");
    // The fallback.
    assert_error(&get(srv.addr, "/nowhere").await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_intake_refuses_before_reading_the_body() {
    let srv = serve(Limits::default(), false).await;
    // The announced body never comes: the answer must not wait for it.
    let got = request(
        srv.addr,
        &post_head("/v1/actions", "application/json", 100_000),
        b"{",
    )
    .await;
    assert_error(&got, 403, "offchain_disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn long_bad_input_is_echoed_only_as_a_short_prefix() {
    let srv = serve(Limits::default(), true).await;
    let long = "z".repeat(20_000);
    let got = get(srv.addr, &format!("/v1/wallets/{long}")).await;
    assert_error(&got, 400, "bad_address");
    let text = got.2.to_string();
    assert!(text.len() < 600 && !text.contains(&"z".repeat(60)), "{text}");
    assert!(text.contains("20000 characters"), "{text}");
    // An unknown field of 100,000 characters in a batch of the known attester.
    let key = "k".repeat(100_000);
    let body = format!("{{\"attester\":\"{ATTESTER}\",\"{key}\":1}}");
    let got = request(
        srv.addr,
        &post_head("/v1/actions", "application/json", body.len()),
        body.as_bytes(),
    )
    .await;
    assert_eq!(got.0, 400, "{got:?}");
    let text = got.2.to_string();
    assert!(
        text.len() < 1000 && !text.contains(&"k".repeat(500)),
        "{} bytes",
        text.len()
    );
    // An unknown attester is refused before the envelope is parsed.
    let body = format!(
        "{{\"attester\":\"0x{}\",\"actions\":[{}]}}",
        "ab".repeat(20),
        "1,".repeat(1000) + "1"
    );
    let got = request(
        srv.addr,
        &post_head("/v1/actions", "application/json", body.len()),
        body.as_bytes(),
    )
    .await;
    assert_error(&got, 403, "unknown_attester");
}

#[tokio::test(flavor = "multi_thread")]
async fn months_and_epochs_have_one_canonical_form() {
    let srv = serve(Limits::default(), false).await;
    let wallet = "0x0101010101010101010101010101010101010101";
    let ok = get(srv.addr, &format!("/v1/claims/24312/{wallet}")).await;
    assert_eq!(ok.0, 200, "{ok:?}");
    for month in [
        "024312",
        "+24312",
        "24312.0",
        "-1",
        "%2B24312",
        "4294967296",
        "99999999999999999999",
    ] {
        let got = get(srv.addr, &format!("/v1/claims/{month}/{wallet}")).await;
        assert_error(&got, 400, "bad_month");
    }
    for epoch in ["+5", "05", "00", "18446744073709551616", " 5", "5x"] {
        let got = get(srv.addr, &format!("/v1/epochs/{}", epoch.replace(' ', "%20"))).await;
        assert_error(&got, 400, "bad_epoch");
    }
    let got = get(srv.addr, "/v1/epochs/18446744073709551616").await;
    assert!(
        got.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of range"),
        "{got:?}"
    );
    assert_error(&get(srv.addr, "/v1/epochs/0").await, 404, "unknown_epoch");
    assert_error(
        &get(srv.addr, "/v1/epochs/18446744073709551615").await,
        404,
        "unknown_epoch",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_allow_any_origin_and_finalised_claims_say_how_long_to_cache() {
    let srv = serve(Limits::default(), false).await;
    let wallet = "0x0101010101010101010101010101010101010101";
    let got = get(srv.addr, &format!("/v1/claims/24312/{wallet}")).await;
    assert!(got.1.contains("access-control-allow-origin: *"), "{got:?}");
    assert!(got.1.contains("cache-control: public, max-age=2"), "{got:?}");
    let got = request(srv.addr, &post_head("/v1/actions", "application/json", 2), b"{}").await;
    assert!(!got.1.contains("access-control-allow-origin"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_month_cache_keeps_at_most_its_bytes() {
    // Room for one two-leaf tree, not two.
    let srv = serve(quick(|l| l.month_cache_bytes = 1), false).await;
    let a = "/v1/claims/24312/0x0101010101010101010101010101010101010101";
    let b = "/v1/claims/24313/0x1111111111111111111111111111111111111111";
    for path in [a, a, b, b, a] {
        assert_eq!(get(srv.addr, path).await.0, 200, "{path}");
    }
    // a, then b (a dropped), then a again.
    assert_eq!(srv.api.inner.months.loads(), 3);
    let one = srv.api.inner.months.bytes();
    assert!(one > 0);
    let roomy = serve(Limits::default(), false).await;
    for path in [a, b, a, b] {
        assert_eq!(get(roomy.addr, path).await.0, 200, "{path}");
    }
    assert_eq!(roomy.api.inner.months.loads(), 2);
    assert!(roomy.api.inner.months.bytes() > one);
}
