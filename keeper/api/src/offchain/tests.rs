//! `POST /v1/actions` and `GET /v1/offchain` over real HTTP on loopback, against a real SQLite
//! store.

use std::sync::Arc;

use flex_engine::WeightTable;
use flex_evm::EvmKey;
use flex_sources::offchain::{
    record_chain, Domain, Intake, OffchainAction, Policy, SignedSubmission, Submission,
};
use flex_sources::Status;
use flex_store::{SqliteStore, Store};
use flex_types::Address;
use serde_json::Value;

use crate::Api;

const GENESIS: i64 = 1_769_644_800;
const CONTRACT: flex_types::AccountId = flex_types::AccountId([0x11; 32]);
const CHAIN: [u8; 32] = [0x22; 32];
// Hardhat's account #0 (a well-known test key).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn attester() -> EvmKey {
    EvmKey::from_hex(KEY, "test").unwrap()
}

struct Server {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A served API; `offchain`: whether it accepts submissions; `chain`: whether the keeper has
/// recorded its chain.
async fn serve(offchain: bool, chain: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("k.db")).unwrap());
    if chain {
        record_chain(&*store, CHAIN).unwrap();
    }
    let api = Api::new(
        store.clone(),
        Arc::new(Status::default()),
        CONTRACT,
        Some(GENESIS),
    );
    if offchain {
        let mut table = WeightTable::new();
        table.insert_str("post", "1").unwrap();
        table.insert_str("swap", "2.5").unwrap();
        let policy = Policy {
            attesters: [attester().address()].into_iter().collect(),
            kinds: Some(["post".to_string()].into_iter().collect()),
        };
        api.set_offchain(Intake::new(store.clone(), policy, table, CONTRACT, Some(GENESIS)).unwrap());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server {
        _dir: dir,
        store,
        addr,
        task,
    }
}

/// A minimal HTTP/1.1 request: (status, JSON body).
async fn request(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let (code, body) = request_raw(addr, method, path, body).await;
    (code, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// A minimal HTTP/1.1 request: (status, the body's exact text).
async fn request_raw(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = body.to_vec();
    // Written beside the read: the server may answer (413) before taking the whole body.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut buf = Vec::new();
    let _ = rd.read_to_end(&mut buf).await;
    let _ = writer.await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code: u16 = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    (code, body.to_string())
}

async fn post(srv: &Server, body: &str) -> (u16, Value) {
    request(srv.addr, "POST", "/v1/actions", body.as_bytes()).await
}

fn post_action(id: &str, wallet: u8, timestamp: i64) -> OffchainAction {
    OffchainAction {
        action_id: id.into(),
        wallet: Address([wallet; 20]),
        kind: "post".into(),
        timestamp,
    }
}

fn signed(nonce: u64, expires_at: i64, actions: Vec<OffchainAction>) -> SignedSubmission {
    Submission {
        attester: attester().address(),
        nonce,
        expires_at,
        actions,
    }
    .sign(
        &attester(),
        &Domain {
            chain: CHAIN,
            contract: CONTRACT,
        },
    )
    .unwrap()
}

const LATER: i64 = 4_000_000_000;

fn assert_error(got: &(u16, Value), status: u16, code: &str, field: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert_eq!(got.1["error"]["field"], field, "{}", got.1);
    assert!(got.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_batch_is_stored_once_and_its_replay_is_refused() {
    let srv = serve(true, true).await;
    let b = signed(
        1,
        LATER,
        vec![
            post_action("p1", 1, GENESIS + 10),
            post_action("p2", 2, GENESIS + 20),
        ],
    );
    let (s, v) = post(&srv, &b.to_json()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["accepted"].as_bool(), v["nonce"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(
        (v["actions_new"].as_u64(), v["actions_known"].as_u64()),
        (Some(2), Some(0))
    );
    let rows = srv.store.actions_between(GENESIS, GENESIS + 86_400).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&(Address([2; 20]), "post".to_string(), GENESIS + 20)));
    // The same bytes again: 409 already_accepted, nothing changes.
    let again = post(&srv, &b.to_json()).await;
    assert_error(&again, 409, "already_accepted", "nonce");
    assert!(again.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("accepted before"));
    assert_eq!(srv.store.input_counts().unwrap(), (0, 2));
    // The attester's nonce as a signer sees it.
    let (s, info) = request(srv.addr, "GET", "/v1/offchain", b"").await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["chain"], format!("0x{}", "22".repeat(32)));
    assert_eq!(info["contract"], format!("0x{}", "11".repeat(32)));
    assert_eq!(info["attesters"][0]["last_nonce"], 1);
    assert_eq!(info["kinds"], serde_json::json!(["post"]));
    // The next nonce goes through.
    let (s, v) = post(
        &srv,
        &signed(2, LATER, vec![post_action("p3", 1, GENESIS + 30)]).to_json(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(srv.store.offchain_nonce(&attester().address()).unwrap(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_answer_json_errors_naming_the_field() {
    let srv = serve(true, true).await;
    let good = || vec![post_action("p1", 1, GENESIS + 10)];
    // Bad signature: the batch was altered after signing.
    let mut v: Value = serde_json::from_str(&signed(1, LATER, good()).to_json()).unwrap();
    v["actions"][0]["timestamp"] = Value::from(GENESIS + 11);
    assert_error(
        &post(&srv, &v.to_string()).await,
        401,
        "bad_signature",
        "signature",
    );
    // Unknown attester (a valid signature by a key this keeper does not trust).
    let stranger = EvmKey::from_hex(&"07".repeat(32), "test").unwrap();
    let s = Submission {
        attester: stranger.address(),
        nonce: 1,
        expires_at: LATER,
        actions: good(),
    }
    .sign(
        &stranger,
        &Domain {
            chain: CHAIN,
            contract: CONTRACT,
        },
    )
    .unwrap();
    assert_error(
        &post(&srv, &s.to_json()).await,
        403,
        "unknown_attester",
        "attester",
    );
    // Expired.
    let expired = signed(1, 1_000, good());
    assert_error(
        &post(&srv, &expired.to_json()).await,
        422,
        "expired",
        "expires_at",
    );
    // A bad action: its index and field.
    let mut swap = post_action("s1", 1, GENESIS + 12);
    swap.kind = "swap".into();
    let r = post(
        &srv,
        &signed(1, LATER, vec![post_action("p1", 1, GENESIS + 10), swap]).to_json(),
    )
    .await;
    assert_error(&r, 422, "bad_action", "actions[1].kind");
    assert_eq!(r.1["error"]["index"], 1);
    let mut v: Value = serde_json::from_str(&signed(1, LATER, good()).to_json()).unwrap();
    v["actions"][0]["wallet"] = Value::from("0x1234");
    let r = post(&srv, &v.to_string()).await;
    assert_error(&r, 422, "bad_action", "actions[0].wallet");
    // Malformed envelopes.
    assert_error(&post(&srv, "{\"nonce\": 1").await, 400, "bad_request", "body");
    v["nonce"] = Value::from("one");
    assert_error(&post(&srv, &v.to_string()).await, 400, "bad_request", "nonce");
    // Too large for the body limit.
    let big = format!(
        "{{\"pad\": \"{}\"}}",
        "x".repeat(flex_sources::offchain::MAX_ENVELOPE_BYTES)
    );
    assert_error(&post(&srv, &big).await, 413, "too_large", "body");
    // None of it stored anything or moved the nonce; the good batch is still accepted.
    assert_eq!(srv.store.input_counts().unwrap(), (0, 0));
    assert_eq!(srv.store.offchain_nonce(&attester().address()).unwrap(), None);
    let (s, v) = post(&srv, &signed(1, LATER, good()).to_json()).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keeper_without_attesters_or_chain_accepts_nothing() {
    let b = signed(1, LATER, vec![post_action("p1", 1, GENESIS + 10)]).to_json();
    let off = serve(false, true).await;
    let (s, v) = post(&off, &b).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("offchain_disabled")),
        "{v}"
    );
    let (s, v) = request(off.addr, "GET", "/v1/offchain", b"").await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "{v}");
    let early = serve(true, false).await;
    let (s, v) = post(&early, &b).await;
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("not_ready")), "{v}");
    let (_, v) = request(early.addr, "GET", "/v1/offchain", b"").await;
    assert_eq!(v["chain"], Value::Null);
    assert_eq!(early.store.input_counts().unwrap(), (0, 0));
}

#[test]
fn the_openapi_document_lists_the_submission_routes() {
    let mut doc = crate::openapi::document();
    super::openapi_extend(&mut doc);
    let p = doc
        .pointer("/paths/~1v1~1actions/post")
        .expect("POST /v1/actions");
    for code in ["200", "400", "401", "403", "409", "413", "422", "503"] {
        assert!(p.pointer(&format!("/responses/{code}")).is_some(), "{code}");
    }
    assert!(doc.pointer("/paths/~1v1~1offchain/get").is_some());
    assert!(doc
        .pointer("/components/schemas/SignedBatch/properties/signature")
        .is_some());
}

/// The intake's answers byte for byte as attesters have always seen them (keys sorted, `field`
/// and `index` only when set): typed response structs must not change a byte. The expected texts
/// were taken from the `json!` answers before the structs.
#[tokio::test(flavor = "multi_thread")]
async fn response_bodies_are_pinned_byte_for_byte() {
    let contract = format!("0x{}", "11".repeat(32));
    let chain = format!("0x{}", "22".repeat(32));
    let att = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    let srv = serve(true, true).await;
    let b = signed(1, LATER, vec![post_action("p1", 1, GENESIS + 10)]);
    let mut swap = post_action("s1", 1, GENESIS + 12);
    swap.kind = "swap".into();
    let bad = signed(2, LATER, vec![post_action("p2", 1, GENESIS + 10), swap]);
    let off = serve(false, true).await;
    let early = serve(true, false).await;
    let cases = [
        (
            request_raw(srv.addr, "POST", "/v1/actions", b.to_json().as_bytes()).await,
            200,
            format!(
                r#"{{"accepted":true,"actions_known":0,"actions_new":1,"attester":"{att}","digest":"0x1c9dd7f7fef295a6a3877807b9ddd9fc24db9730b6fed98dc345ea0a58906d5f","nonce":1}}"#
            ),
        ),
        (
            request_raw(srv.addr, "GET", "/v1/offchain", b"").await,
            200,
            format!(
                r#"{{"attesters":[{{"address":"{att}","last_nonce":1}}],"chain":"{chain}","contract":"{contract}","enabled":true,"kinds":["post"],"max_actions":10000,"max_body_bytes":4194304,"version":"flex-offchain-v1"}}"#
            ),
        ),
        (
            request_raw(srv.addr, "POST", "/v1/actions", bad.to_json().as_bytes()).await,
            422,
            r#"{"error":{"code":"bad_action","field":"actions[1].kind","index":1,"message":"actions[1].kind: \"swap\" is not a kind attesters may submit (offchain.kinds)"}}"#.to_string(),
        ),
        (
            request_raw(srv.addr, "POST", "/v1/actions", b"{").await,
            400,
            r#"{"error":{"code":"bad_request","field":"body","message":"field body: not JSON: EOF while parsing an object at line 1 column 1"}}"#.to_string(),
        ),
        (
            request_raw(off.addr, "GET", "/v1/offchain", b"").await,
            200,
            format!(
                r#"{{"attesters":[],"chain":null,"contract":"{contract}","enabled":false,"kinds":[],"max_actions":10000,"max_body_bytes":4194304,"version":"flex-offchain-v1"}}"#
            ),
        ),
        (
            request_raw(off.addr, "POST", "/v1/actions", b.to_json().as_bytes()).await,
            403,
            r#"{"error":{"code":"offchain_disabled","message":"this keeper accepts no off-chain submissions (offchain.attesters is empty)"}}"#.to_string(),
        ),
        (
            request_raw(early.addr, "GET", "/v1/offchain", b"").await,
            200,
            format!(
                r#"{{"attesters":[{{"address":"{att}","last_nonce":null}}],"chain":null,"contract":"{contract}","enabled":true,"kinds":["post"],"max_actions":10000,"max_body_bytes":4194304,"version":"flex-offchain-v1"}}"#
            ),
        ),
    ];
    for (i, (got, status, expected)) in cases.into_iter().enumerate() {
        assert_eq!(got, (status, expected), "case {i}");
    }
}
