//! The API's answers and error cases, against a real SQLite store (no chain).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use flex_sources::Status;
use serde_json::Value;

use super::*;
use flex_store::{EpochRecord, Phase, ScoreRow, SqliteStore, Store, WalletRow};
use flex_types::Address;

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    use tower_service_call::call;
    call(app, uri).await
}

mod tower_service_call {
    use super::*;
    pub async fn call(app: &Router, uri: &str) -> (StatusCode, Value) {
        let (status, body) = call_raw(app, uri).await;
        let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, v)
    }

    /// The status and the body's exact text.
    pub async fn call_raw(app: &Router, uri: &str) -> (StatusCode, String) {
        call_with(app, "GET", uri, "").await
    }

    /// Any method, with a JSON body: the status and the body's exact text.
    pub async fn call_with(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let answer = raw_request(addr, method, uri, body).await;
        server.abort();
        answer
    }

    /// A minimal HTTP/1.1 request (keeps the test free of an HTTP client dependency).
    async fn raw_request(
        addr: std::net::SocketAddr,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} {uri} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code: u16 = text[9..12].parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        (StatusCode::from_u16(code).unwrap(), body)
    }
}

fn fixture() -> (tempfile::TempDir, Router) {
    fixture_on(Some(CHAIN))
}

/// The fixture; `chain`: the genesis hash the keeper recorded (`None`: it never connected).
fn fixture_on(chain: Option<[u8; 32]>) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let g = 1_769_644_800i64;
    store
        .import(
            "t",
            &[WalletRow {
                address: Address([0xaa; 20]),
                connected_at: g + 5,
            }],
            &[],
        )
        .unwrap();
    let rec = EpochRecord {
        epoch: 0,
        month_index: 24312,
        phase: Phase::Voted,
        commitment: vec![1, 2],
        commitment_hash: [1; 32],
        scores_root: [2; 32],
        active: 1,
        ranked: 0,
        multiplier_sum: 100,
        total_weight: (5u128 << 64) | (1u128 << 63),
        pool: 0,
        distributed: 0,
        wallet_index: 0,
        halving: 0,
        snapshot: 0,
        forecast: 0,
        forecast_detail: String::new(),
        wallets: 1,
        voted: true,
        note: String::new(),
        updated_at: 0,
    };
    // The forecast as the keeper makes it, from 40 epochs of a weekly cycle (reward per active
    // wallet 700, 800, ..., 400): seasonal naive is exact and is published for epoch 40.
    let week = [700u128, 800, 900, 1000, 600, 500, 400];
    let hist: Vec<EpochRecord> = (0..40u64)
        .map(|e| EpochRecord {
            epoch: e,
            active: 10,
            distributed: week[(e % 7) as usize] * 10,
            ..rec.clone()
        })
        .collect();
    let hist: Vec<flex_service::forecast::EpochFigures> = hist.iter().map(Into::into).collect();
    let f = flex_service::forecast::forecast(&flex_service::forecast::history_of(&hist), false);
    let mut rec = rec;
    rec.forecast = f.fixed_bits;
    rec.forecast_detail = serde_json::to_string(&f).unwrap();
    let rows = [ScoreRow {
        wallet: Address([0xaa; 20]),
        score: 15,
        weight: 5u128 << 64,
        reward: 42,
    }];
    store.save_epoch(&rec, &rows).unwrap();
    // A two-leaf claim tree built by flex-merkle.
    let leaves = vec![
        flex_merkle::ClaimLeaf {
            month_index: 24312,
            wallet: Address([0xaa; 20]),
            amount: 42,
        },
        flex_merkle::ClaimLeaf {
            month_index: 24312,
            wallet: Address([0xbb; 20]),
            amount: 8,
        },
    ];
    let tree = flex_merkle::StandardMerkleTree::of(leaves.clone()).unwrap();
    let stored = flex_service::compute::stored_tree(&tree).unwrap();
    let month = flex_store::MonthRecord {
        month_index: 24312,
        phase: Phase::Finalized,
        root: vec![],
        root_hash: [3; 32],
        claims_root: tree.root(),
        total: 50,
        claim_price: 0,
        first_epoch: 0,
        end_epoch: 3,
        claims: 2,
        voted: true,
        note: String::new(),
        updated_at: 0,
    };
    store.save_month(&month, &stored).unwrap();
    // As the keeper records it when it connects: claim messages bind the chain.
    if let Some(chain) = chain {
        flex_sources::offchain::record_chain(&store, chain).unwrap();
    }
    let api = Api::new(
        Arc::new(store),
        Arc::new(Status::default()),
        flex_types::AccountId([0x11; 32]),
        Some(g),
    );
    (dir, api.router())
}

/// The test chain's genesis hash.
const CHAIN: [u8; 32] = [0x33; 32];

#[tokio::test]
async fn answers_and_errors() {
    let (_dir, app) = fixture();
    let (s, v) = get(&app, "/v1/wallets/0xAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["scores"], "F");
    assert_eq!(v["epochs"][0]["weight"], "5");
    assert_eq!(v["epochs"][0]["reward"], "42");
    assert_eq!(v["connection_epoch"], 0);

    let b = "0x2222222222222222222222222222222222222222222222222222222222222222";
    let (s, v) = get(
        &app,
        &format!("/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?beneficiary={b}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["amount"], "42");
    assert_eq!(v["root_status"], "finalized");
    assert_eq!(v["claim_status"], "unknown (chain unreachable)");
    let expected = flex_evm::claim_message(&CHAIN, &[0x11; 32], 24312, &Address([0xaa; 20]), 42, &[0x22; 32]);
    assert_eq!(v["message"], expected.as_str());
    // The proof verifies against the root.
    let proof: Vec<[u8; 32]> = v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| flex_types::hex::decode::<32>(h.as_str().unwrap()).unwrap())
        .collect();
    let root: [u8; 32] = flex_types::hex::decode(v["claims_root"].as_str().unwrap()).unwrap();
    let leaf = flex_merkle::ClaimLeaf {
        month_index: 24312,
        wallet: Address([0xaa; 20]),
        amount: 42,
    };
    assert!(flex_merkle::verify(&root, &leaf, &proof));

    let (s, v) = get(&app, "/v1/epochs/0").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total_weight"], "5.5");
    assert_eq!(v["status"], "voted");
    assert_eq!(v["forecast"], (500u128 << 64).to_string());
    assert_eq!(v["forecast_value"], "500");
    let d = &v["forecast_detail"];
    assert_eq!(
        (d["epoch"].as_u64(), d["history_epochs"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(d["published"], "seasonal_naive_7");
    assert_eq!(d["published_mse"], 0.0);
    assert_eq!(d["targets"][0]["target"], "reward_per_active");
    let names: Vec<&str> = d["targets"][0]["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["last_value", "moving_average_7", "seasonal_naive_7"]);
    assert!(d["targets"][0]["model"].is_null());

    for (uri, status, code) in [
        ("/v1/wallets/0x12", StatusCode::BAD_REQUEST, "bad_address"),
        (
            "/v1/wallets/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "/v1/wallets/0xzzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "/v1/wallets/0xcccccccccccccccccccccccccccccccccccccccc",
            StatusCode::NOT_FOUND,
            "unknown_wallet",
        ),
        (
            "/v1/claims/jan/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::BAD_REQUEST,
            "bad_month",
        ),
        (
            "/v1/claims/-1/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::BAD_REQUEST,
            "bad_month",
        ),
        (
            "/v1/claims/24313/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::NOT_FOUND,
            "unknown_month",
        ),
        (
            "/v1/claims/24312/0xcccccccccccccccccccccccccccccccccccccccc",
            StatusCode::NOT_FOUND,
            "no_claim",
        ),
        ("/v1/claims/24312/0xbad", StatusCode::BAD_REQUEST, "bad_address"),
        (
            "/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?beneficiary=0x12",
            StatusCode::BAD_REQUEST,
            "bad_beneficiary",
        ),
        ("/v1/epochs/x", StatusCode::BAD_REQUEST, "bad_epoch"),
        ("/v1/epochs/9", StatusCode::NOT_FOUND, "unknown_epoch"),
        ("/v2/nothing", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, status, "{uri}: {v}");
        assert_eq!(v["error"]["code"], code, "{uri}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let (s, v) = get(&app, "/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "degraded", "no chain connected");
    assert_eq!(v["last_epoch"], 0);
    let (s, v) = get(&app, "/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["openapi"], "3.1.0");
    assert!(v["paths"]["/v1/claims/{month}/{address}"].is_object());
    let (s, v) = get(&app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap();
    assert!(
        text.contains("flex_api_requests_total{route=\"/v1/claims/{month}/{address}\",status=\"4xx\"} 6"),
        "{text}"
    );
    assert!(text.contains("flex_chain_connected 0"));
}

/// A keeper that never connected does not know the chain: no claim message (503), and the
/// relay refuses before looking at the signature.
#[tokio::test]
async fn claim_messages_wait_for_the_chain_genesis_hash() {
    let (_dir, app) = fixture_on(None);
    let b = "0x2222222222222222222222222222222222222222222222222222222222222222";
    let wallet = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (s, v) = get(&app, &format!("/v1/claims/24312/{wallet}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["chain"], Value::Null);
    let (s, v) = get(&app, &format!("/v1/claims/24312/{wallet}?beneficiary={b}")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "not_ready");
    // A signature of the form the pool accepts (v = 27), by nobody in particular.
    let body = format!(r#"{{"signature":"0x{}1b","beneficiary":"{b}"}}"#, "11".repeat(64));
    let (s, text) =
        tower_service_call::call_with(&app, "POST", &format!("/v1/claims/24312/{wallet}/relay"), &body).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("not_ready"), "{text}");
}

#[test]
fn exact_weight_decimals() {
    assert_eq!(u64f64_decimal(0), "0");
    assert_eq!(u64f64_decimal(5 << 64), "5");
    assert_eq!(u64f64_decimal(1 << 62), "0.25");
    assert_eq!(
        u64f64_decimal(1),
        "0.0000000000000000000542101086242752217003726400434970855712890625"
    );
}

/// A beneficiary given in SS58 (any network) is the same account as in hex: the same answer,
/// with the beneficiary written in hex; a wrong checksum is refused.
#[tokio::test]
async fn claim_beneficiary_in_ss58_or_hex() {
    let (_dir, app) = fixture();
    let route = "/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?beneficiary=";
    let alice_hex = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    let (s, by_hex) = get(&app, &format!("{route}{alice_hex}")).await;
    assert_eq!(s, StatusCode::OK, "{by_hex}");
    assert_eq!(by_hex["beneficiary"], alice_hex);
    assert!(by_hex["message"]
        .as_str()
        .unwrap()
        .ends_with(&format!("beneficiary: {alice_hex}")));
    for ss58 in [
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
    ] {
        let (s, by_ss58) = get(&app, &format!("{route}{ss58}")).await;
        assert_eq!(s, StatusCode::OK, "{by_ss58}");
        assert_eq!(by_ss58, by_hex, "{ss58}");
    }
    let (s, v) = get(
        &app,
        &format!("{route}5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "bad_beneficiary");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("checksum"),
        "{v}"
    );
}

/// Every JSON answer of these routes, byte for byte as clients have always seen it (keys sorted,
/// amounts as decimal strings, hashes as 0x hex, nulls kept): typed response structs must not
/// change a byte. The expected texts were taken from the `json!` answers before the structs.
#[tokio::test]
async fn response_bodies_are_pinned_byte_for_byte() {
    let (_dir, app) = fixture();
    let b = "0x2222222222222222222222222222222222222222222222222222222222222222";
    let with_beneficiary =
        format!("/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?beneficiary={b}");
    let cases: [(&str, StatusCode, &str); 8] = [
        (
            "/v1/wallets/0xAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::OK,
            r#"{"address":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","connected_at":1769644805,"connection_epoch":0,"epochs":[{"epoch":0,"reward":"42","score":"F","weight":"5","weight_bits":"92233720368547758080"}],"scores":"F","total_reward":"42"}"#,
        ),
        (
            &with_beneficiary,
            StatusCode::OK,
            r#"{"amount":"42","beneficiary":"0x2222222222222222222222222222222222222222222222222222222222222222","chain":"0x3333333333333333333333333333333333333333333333333333333333333333","claim_status":"unknown (chain unreachable)","claims_root":"0x6101efd49bd93b269ce5b7d64b27cb959d80068ec9da14ac206b0fe9232331ea","contract":"0x1111111111111111111111111111111111111111111111111111111111111111","message":"Flex reward claim\nchain: 0x3333333333333333333333333333333333333333333333333333333333333333\ncontract: 0x1111111111111111111111111111111111111111111111111111111111111111\nmonth: 24312 (2026-01)\nwallet: 0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\namount: 42\nbeneficiary: 0x2222222222222222222222222222222222222222222222222222222222222222","month":"2026-01","month_index":24312,"proof":["0xb82b6fe304e042e7744a5bb4ac710b77361e4682ec07811a1640c26e2e965478"],"root_status":"finalized","wallet":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","window":null}"#,
        ),
        (
            "/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            StatusCode::OK,
            r#"{"amount":"42","beneficiary":null,"chain":"0x3333333333333333333333333333333333333333333333333333333333333333","claim_status":"unknown (chain unreachable)","claims_root":"0x6101efd49bd93b269ce5b7d64b27cb959d80068ec9da14ac206b0fe9232331ea","contract":"0x1111111111111111111111111111111111111111111111111111111111111111","message":null,"month":"2026-01","month_index":24312,"proof":["0xb82b6fe304e042e7744a5bb4ac710b77361e4682ec07811a1640c26e2e965478"],"root_status":"finalized","wallet":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","window":null}"#,
        ),
        (
            "/v1/epochs/0",
            StatusCode::OK,
            r#"{"active":1,"commitment":"0x0102","commitment_hash":"0x0101010101010101010101010101010101010101010101010101010101010101","distributed":"0","epoch":0,"finalized":false,"forecast":"9223372036854775808000","forecast_detail":{"epoch":40,"first_epoch":0,"fixed_bits":9.223372036854776e+21,"history_epochs":40,"min_history":28,"published":"seasonal_naive_7","published_mse":0.0,"published_value":500.0,"target":"reward_per_active","targets":[{"baselines":[{"forecast":600.0,"mse":48333.33333333334,"name":"last_value"},{"forecast":700.0,"mse":40000.0,"name":"moving_average_7"},{"forecast":500.0,"mse":0.0,"name":"seasonal_naive_7"}],"best_baseline":"seasonal_naive_7","best_baseline_forecast":500.0,"model":null,"model_note":"the model is trained from 56 epochs of history","target":"reward_per_active"},{"baselines":[{"forecast":10.0,"mse":0.0,"name":"last_value"},{"forecast":10.0,"mse":0.0,"name":"moving_average_7"},{"forecast":10.0,"mse":0.0,"name":"seasonal_naive_7"}],"best_baseline":"last_value","best_baseline_forecast":10.0,"model":null,"model_note":"the model is trained from 56 epochs of history","target":"active"}]},"forecast_value":"500","halving":0,"month_index":24312,"multiplier_sum":"100","note":"","pool":"0","ranked":0,"scores_root":"0x0202020202020202020202020202020202020202020202020202020202020202","snapshot":"0","status":"voted","total_weight":"5.5","total_weight_bits":"101457092405402533888","voted":true,"wallet_index":0,"wallets":1}"#,
        ),
        (
            "/v1/info",
            StatusCode::OK,
            r#"{"chain":{"connected":false,"time_ms":0},"contract":"0x1111111111111111111111111111111111111111111111111111111111111111","genesis":1769644800,"last_epoch":0,"relayer":null,"tokens":null}"#,
        ),
        (
            "/v1/wallets/0x12",
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"bad_address","message":"\"0x12\" is not an address (0x followed by 40 hex digits)"}}"#,
        ),
        (
            "/v2/nothing",
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"not_found","message":"no such endpoint (see /v1/openapi.json)"}}"#,
        ),
        (
            "/v1/epochs/9",
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"unknown_epoch","message":"epoch 9 is not closed at this keeper"}}"#,
        ),
    ];
    for (uri, status, expected) in cases {
        let (s, body) = tower_service_call::call_raw(&app, uri).await;
        assert_eq!((s, body.as_str()), (status, expected), "{uri}");
    }
    // `/health`: the uptime is the only moving part; the rest is pinned.
    let (s, body) = tower_service_call::call_raw(&app, "/health").await;
    assert_eq!(s, StatusCode::OK);
    let (head, uptime) = body.split_once(r#""uptime_s":"#).unwrap_or((&body, ""));
    assert_eq!(
        head,
        r#"{"chain":{"connected":false,"is_keeper":false,"next_epoch":0,"time_ms":0},"disagreements":[],"governance":{"pending":[]},"holding":null,"last_epoch":0,"key_balance":null,"month_holding":null,"relay":null,"sources":[],"status":"degraded","store":"ok","#
    );
    let secs = uptime.strip_suffix('}').and_then(|n| n.parse::<u64>().ok());
    assert!(secs.is_some(), "{body}");
}

/// One middleware measures every route under its path template: the relay and the attester
/// intake too (no handler times itself), and unmatched requests under one label.
#[tokio::test]
async fn every_route_is_measured_under_its_template() {
    use tower_service_call::call_with;
    let (_dir, app) = fixture();
    let wallet = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    // The relay refuses a body that is not JSON before it needs a chain.
    let (s, _) = call_with(&app, "POST", &format!("/v1/claims/24312/{wallet}/relay"), "{").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // No intake configured: 403.
    let (s, _) = call_with(&app, "POST", "/v1/actions", "{}").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call_with(&app, "GET", "/v1/offchain", "").await;
    assert_eq!(s, StatusCode::OK);
    for uri in [
        "/v1/wallets/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "/v1/wallets/0x12",
    ] {
        get(&app, uri).await;
    }
    get(&app, "/v2/nothing").await;
    get(&app, "/v2/nothing/either").await;
    let (s, v) = get(&app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap_or_default();
    for line in [
        "flex_api_requests_total{route=\"/v1/claims/{month}/{address}/relay\",status=\"4xx\"} 1",
        "flex_api_requests_total{route=\"/v1/claims/{month}/{address}/relay\",status=\"2xx\"} 0",
        "flex_api_requests_total{route=\"/v1/actions\",status=\"4xx\"} 1",
        "flex_api_requests_total{route=\"/v1/offchain\",status=\"2xx\"} 1",
        "flex_api_requests_total{route=\"/v1/wallets/{address}\",status=\"2xx\"} 1",
        "flex_api_requests_total{route=\"/v1/wallets/{address}\",status=\"4xx\"} 1",
        "flex_api_requests_total{route=\"unmatched\",status=\"4xx\"} 2",
        // Registered before their first request.
        "flex_api_requests_total{route=\"/v1/epochs/{epoch}\",status=\"2xx\"} 0",
        "flex_api_requests_total{route=\"/metrics\",status=\"2xx\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
    for route in ["/v1/claims/{month}/{address}/relay", "/v1/actions", "unmatched"] {
        // A latency histogram per route: its count is the route's requests.
        let prefix = format!("flex_api_request_duration_seconds_count{{route=\"{route}\"}} ");
        let n = text.lines().find_map(|l| l.strip_prefix(&prefix));
        let want = if route == "unmatched" { "2" } else { "1" };
        assert_eq!(n, Some(want), "{route}\n{text}");
        let sum = format!("flex_api_request_duration_seconds_sum{{route=\"{route}\"}} ");
        let secs = text.lines().find_map(|l| l.strip_prefix(&sum));
        assert!(secs.is_some_and(|s| s.parse::<f64>().is_ok()), "{route}\n{text}");
        let inf = format!("flex_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} ");
        assert!(text.lines().any(|l| l.starts_with(&inf)), "{route}\n{text}");
    }
    // The exposition is what Prometheus' own checker accepts (names, units, types, help).
    promtool_check_metrics(text);
    // One series per template, never per URI.
    assert!(!text.contains("0xaaaa"), "{text}");
    assert!(!text.contains("/v2/nothing"), "{text}");
}

/// `/health` and `/metrics` show each source, the epoch held back and the disagreements with the
/// chain; a month whose root differs from the chain's is answered 409, naming both hashes.
#[tokio::test]
async fn sources_holds_and_disagreements_are_shown_and_mismatched_proofs_refused() {
    use flex_sources::{Disagreement, DisagreementKind, Hold, SourceKind};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let leaves = vec![flex_merkle::ClaimLeaf {
        month_index: 24312,
        wallet: Address([0xaa; 20]),
        amount: 42,
    }];
    let tree = flex_merkle::StandardMerkleTree::of(leaves).unwrap();
    let stored = flex_service::compute::stored_tree(&tree).unwrap();
    let ours = format!("0x{}", "03".repeat(32));
    let chain = format!("0x{}", "04".repeat(32));
    let note = format!("the chain finalised {chain}, ours is {ours}");
    let month = flex_store::MonthRecord {
        month_index: 24312,
        phase: Phase::Mismatch,
        root: vec![],
        root_hash: [3; 32],
        claims_root: tree.root(),
        total: 42,
        claim_price: 0,
        first_epoch: 0,
        end_epoch: 3,
        claims: 1,
        voted: true,
        note: note.clone(),
        updated_at: 0,
    };
    store.save_month(&month, &stored).unwrap();
    let status = Arc::new(Status::default());
    status.register_source("/in/actions.jsonl", SourceKind::File);
    status.source_failed(
        "/in/actions.jsonl",
        SourceKind::File,
        "line 7: wallet: not an address",
    );
    status.source_cursor("evm:main", SourceKind::Evm, 120, 1_769_731_000);
    // The pool chain is 10 minutes ahead of the follower; the keeper key is below its floor.
    status
        .chain_time_ms
        .store(1_769_731_600_000, std::sync::atomic::Ordering::Relaxed);
    status.set_key_balance(5, 1_000_000_000_000_000_000_000);
    status.next_epoch.store(3, std::sync::atomic::Ordering::Relaxed);
    status.set_hold(Some(Hold {
        epoch: 1,
        reason: "not imported cleanly: line 7: wallet: not an address".into(),
        source: "/in/actions.jsonl".into(),
    }));
    status.disagree(Disagreement {
        index: 24312,
        kind: DisagreementKind::MonthMismatch,
        ours: ours.clone(),
        chain: vec![chain.clone()],
        note: note.clone(),
    });
    // The next month's votes are split: no root can reach the quorum.
    status.disagree(Disagreement {
        index: 24313,
        kind: DisagreementKind::MonthSplit,
        ours: ours.clone(),
        chain: vec![format!("{ours}:2"), format!("{chain}:2")],
        note: "no commitment can reach the quorum of 3 of 4 keepers".into(),
    });
    let app = Api::new(
        Arc::new(store),
        status,
        flex_types::AccountId([0x11; 32]),
        Some(1_769_644_800),
    )
    .router();

    let (s, v) = get(&app, "/health").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["disagreements"][1]["kind"], "month_split", "{v}");
    assert_eq!(v["disagreements"][1]["index"], 24313, "{v}");
    assert_eq!(v["holding"]["epoch"], 1);
    assert_eq!(
        v["key_balance"],
        serde_json::json!({"free": "5", "floor": "1000000000000000000000", "low": true})
    );
    assert_eq!(v["holding"]["source"], "/in/actions.jsonl");
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{v}");
    assert_eq!(sources[0]["name"], "/in/actions.jsonl");
    assert_eq!(sources[0]["state"], "failed");
    assert_eq!(sources[0]["failures"], 1);
    assert!(sources[0]["error"].as_str().unwrap().contains("line 7"), "{v}");
    assert_eq!(sources[1]["kind"], "evm");
    assert_eq!(sources[1]["cursor_time"], 1_769_731_000);
    let d = &v["disagreements"][0];
    assert_eq!(
        (d["kind"].as_str(), d["index"].as_u64()),
        (Some("month_mismatch"), Some(24312))
    );
    assert_eq!(
        (d["ours"].as_str(), d["chain"][0].as_str()),
        (Some(ours.as_str()), Some(chain.as_str()))
    );

    let (_, m) = get(&app, "/metrics").await;
    let text = m.as_str().unwrap();
    for line in [
        "flex_source_up{kind=\"file\",source=\"/in/actions.jsonl\"} 0",
        "flex_source_failures_total{kind=\"file\",source=\"/in/actions.jsonl\"} 1",
        "flex_source_up{kind=\"evm\",source=\"evm:main\"} 1",
        "flex_source_cursor_time_seconds{kind=\"evm\",source=\"evm:main\"} 1769731000",
        "flex_disagreements{kind=\"month_mismatch\"} 1",
        "flex_disagreements{kind=\"month_split\"} 1",
        "flex_disagreements{kind=\"epoch_mismatch\"} 0",
        "flex_epoch_close_held 1",
        "flex_source_lag_seconds{kind=\"evm\",source=\"evm:main\"} 600",
        "flex_key_balance 5",
        "flex_key_balance_floor 1000000000000000000000",
        "flex_key_balance_low 1",
        "flex_last_finalized_epoch 2",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    promtool_check_metrics(text);

    let (s, v) = get(
        &app,
        "/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "root_mismatch");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&ours) && msg.contains(&chain) && msg.contains("resync"),
        "{msg}"
    );
}

/// `/health` lists the pool's pending governance changes (id, action, target, eta) and whether
/// one adds or removes this keeper; `/metrics` counts them by action with the earliest eta. A
/// change that is no longer pending disappears from both.
#[tokio::test]
async fn pending_governance_changes_are_shown() {
    use flex_pool::{GovernanceAction, PendingChange};
    use flex_sources::PendingGovernance;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let status = Arc::new(Status::default());
    let me = [0x0a; 32];
    let day_ms = 86_400_000u64;
    let announced = 1_772_323_200_000u64;
    let change = |action, at: u64| PendingChange {
        action,
        announced_at: at,
        executable_at: at + 2 * day_ms,
        expires_at: at + 16 * day_ms,
    };
    let pending = vec![
        PendingGovernance::new(
            0,
            &change(GovernanceAction::AddKeeper([0xee; 32]), announced),
            &me,
        ),
        PendingGovernance::new(
            1,
            &change(GovernanceAction::RemoveKeeper(me), announced + 1000),
            &me,
        ),
        PendingGovernance::new(
            2,
            &change(GovernanceAction::SetTreasury([7; 32]), announced + 2000),
            &me,
        ),
    ];
    assert_eq!(status.set_governance(pending), 3);
    let app = Api::new(
        Arc::new(store),
        status.clone(),
        flex_types::AccountId([0x11; 32]),
        Some(1_769_644_800),
    )
    .router();

    let (s, v) = get(&app, "/health").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let shown = v["governance"]["pending"].as_array().unwrap();
    assert_eq!(shown.len(), 3, "{v}");
    assert_eq!(
        shown[1],
        serde_json::json!({
            "action": "remove_keeper",
            "announced_at": announced + 1000,
            "eta": announced + 1000 + 2 * day_ms,
            "expires": announced + 1000 + 16 * day_ms,
            "id": 1,
            "target": format!("0x{}", "0a".repeat(32)),
            "this_keeper": true,
        })
    );
    assert_eq!(
        (shown[0]["action"].as_str(), shown[0]["this_keeper"].as_bool()),
        (Some("add_keeper"), Some(false))
    );
    assert_eq!(shown[2]["target"], format!("0x{}", "07".repeat(32)));

    let (_, m) = get(&app, "/metrics").await;
    let text = m.as_str().unwrap();
    for line in [
        "flex_governance_pending{action=\"add_keeper\"} 1",
        "flex_governance_pending{action=\"remove_keeper\"} 1",
        "flex_governance_pending{action=\"set_min_threshold\"} 0",
        "flex_governance_pending{action=\"set_treasury\"} 1",
        &format!(
            "flex_governance_next_eta_seconds {}",
            (announced + 2 * day_ms) / 1000
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }

    // The owner cancelled or executed them all.
    status.set_governance(Vec::new());
    let (_, v) = get(&app, "/health").await;
    assert_eq!(v["governance"]["pending"], serde_json::json!([]));
    let (_, m) = get(&app, "/metrics").await;
    let text = m.as_str().unwrap();
    assert!(text
        .lines()
        .any(|l| l == "flex_governance_pending{action=\"remove_keeper\"} 0"));
    assert!(!text.contains("flex_governance_next_eta_seconds"), "{text}");
}

/// A finalised month's tree is published as the exact dump `flex-keeper merkle dump` writes for
/// its leaves; months not finalised, unknown or with a corrupted stored tree are not.
#[tokio::test]
async fn month_trees_are_published_once_finalised_and_checked() {
    let (dir, app) = fixture();
    let leaves = vec![
        flex_merkle::ClaimLeaf {
            month_index: 24312,
            wallet: Address([0xaa; 20]),
            amount: 42,
        },
        flex_merkle::ClaimLeaf {
            month_index: 24312,
            wallet: Address([0xbb; 20]),
            amount: 8,
        },
    ];
    let tree = flex_merkle::StandardMerkleTree::of(leaves).unwrap();
    let mut expected = Vec::new();
    tree.write_dump(&mut expected).unwrap();
    // Streamed (chunked): read with a real HTTP client.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let answer = reqwest::get(format!("http://{addr}/v1/months/24312/tree"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let root = flex_types::hex::encode(tree.root());
    assert_eq!(answer.headers()["etag"], format!("\"{root}\"").as_str());
    assert_eq!(
        answer.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let body = answer.bytes().await.unwrap();
    server.abort();
    assert_eq!(body.as_ref(), expected.as_slice());
    let loaded = flex_merkle::load_any(body.as_ref()).unwrap();
    assert_eq!(loaded.root(), tree.root());

    // Another month, voted but not finalised, and one whose stored tree was tampered with.
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let month = store.month(24312).unwrap().unwrap();
    let stored = store.claim_tree(24312).unwrap().unwrap();
    let voted = flex_store::MonthRecord {
        month_index: 24313,
        phase: Phase::Voted,
        ..month.clone()
    };
    store.save_month(&voted, &stored).unwrap();
    let mut tampered = stored.clone();
    tampered.leaves[0].amount = 4200;
    let finalised = flex_store::MonthRecord {
        month_index: 24314,
        ..month.clone()
    };
    store.save_month(&finalised, &tampered).unwrap();
    for (uri, status, code) in [
        ("/v1/months/24313/tree", StatusCode::CONFLICT, "not_finalized"),
        (
            "/v1/months/24314/tree",
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
        ("/v1/months/24399/tree", StatusCode::NOT_FOUND, "unknown_month"),
        ("/v1/months/jan/tree", StatusCode::BAD_REQUEST, "bad_month"),
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, status, "{uri}: {v}");
        assert_eq!(v["error"]["code"], code, "{uri}: {v}");
    }
    // The month tree the CLI writes from a store is checked the same way.
    let err = crate::stored_claim_tree(&store, 24314).unwrap_err();
    assert!(
        matches!(err, crate::TreeError::Invalid { month: 24314, .. }),
        "{err}"
    );
    assert!(crate::stored_claim_tree(&store, 24312).unwrap().is_some());
}

/// A wallet's claims: every month it earned something in, with amount, status and where its
/// proof is.
#[tokio::test]
async fn wallet_claims_list_every_month() {
    let (dir, app) = fixture();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let month = store.month(24312).unwrap().unwrap();
    let stored = store.claim_tree(24312).unwrap().unwrap();
    store
        .save_month(
            &flex_store::MonthRecord {
                month_index: 24314,
                phase: Phase::Voted,
                ..month
            },
            &stored,
        )
        .unwrap();
    let (s, v) = get(
        &app,
        "/v1/wallets/0xAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/claims",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["wallet"], "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    let claims = v["claims"].as_array().unwrap();
    let months: Vec<(&str, &str, &str)> = claims
        .iter()
        .map(|c| {
            (
                c["month"].as_str().unwrap(),
                c["amount"].as_str().unwrap(),
                c["root_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        [("2026-01", "42", "finalized"), ("2026-03", "42", "voted")]
    );
    assert_eq!(
        claims[0]["url"],
        "/v1/claims/24312/0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    );
    assert_eq!(claims[0]["claim_status"], "unknown (chain unreachable)");
    let (s, v) = get(
        &app,
        "/v1/wallets/0xcccccccccccccccccccccccccccccccccccccccc/claims",
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_wallet"))
    );
    let (s, v) = get(&app, "/v1/wallets/0xcc/claims").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_address"))
    );
}

/// The shipped alert rules (`ops/prometheus`) pass `promtool check rules` and their unit tests
/// (`promtool test rules`), and they and the Grafana dashboard (`ops/grafana`) name only series
/// the keeper exports: a renamed metric would otherwise leave an alert that can never fire.
#[tokio::test]
async fn alert_rules_and_dashboard_name_only_exported_series() {
    use flex_sources::SourceKind;
    let ops = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops");
    let rules = ops.join("prometheus/flex-alerts.yml");
    for args in [vec!["check", "rules"], vec!["test", "rules"]] {
        let file = if args[0] == "test" {
            ops.join("prometheus/flex-alerts.test.yml")
        } else {
            rules.clone()
        };
        let out = std::process::Command::new("promtool")
            .args(&args)
            .arg(&file)
            .output()
            .expect("promtool (scripts/setup.sh installs Debian's prometheus package)");
        assert!(
            out.status.success(),
            "promtool {args:?} {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dashboard_text = std::fs::read_to_string(ops.join("grafana/flex-keeper.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&dashboard_text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "flex-keeper");

    // A keeper with every kind of series: sources with a cursor, the key balance, an epoch.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
    let status = Arc::new(Status::default());
    status.register_source("/in/actions.jsonl", SourceKind::File);
    status.source_cursor("evm:main", SourceKind::Evm, 120, 1_769_731_000);
    status.set_key_balance(10, 1);
    status.next_epoch.store(3, std::sync::atomic::Ordering::Relaxed);
    let app = Api::new(Arc::new(store), status, flex_types::AccountId([0x11; 32]), None).router();
    let (_, m) = get(&app, "/metrics").await;
    let text = m.as_str().unwrap();
    // The relayer's balance series exist only with a relayer: its own families, balances read.
    let mut relay = crate::metrics::Scrape::default();
    crate::relay_stats::RelayStats::default().families(
        &mut relay,
        Some(crate::relay_stats::RelayBalances {
            native: 1,
            payment: Some(1),
        }),
    );
    let relay_text = relay.text();
    let exported: std::collections::BTreeSet<&str> = text
        .lines()
        .chain(relay_text.lines())
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    let mut named = std::collections::BTreeSet::new();
    for source in [&rules_text, &dashboard_text] {
        let bytes = source.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let starts = source[i..].starts_with("flex_") || source[i..].starts_with("process_");
            let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            if starts && word_start {
                let end = source[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(source.len(), |n| i + n);
                named.insert(source[i..end].to_string());
                i = end;
            } else {
                i += 1;
            }
        }
    }
    assert!(named.len() >= 15, "{named:?}");
    for name in &named {
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| exported.contains(f)))
            .unwrap_or(name);
        assert!(
            exported.contains(family),
            "{name} is in ops/ but not exported:\n{text}"
        );
    }
}

/// `promtool check metrics` (Prometheus' linter, from Debian's `prometheus` package that
/// `scripts/setup.sh` installs) finds nothing in `text`.
pub(crate) fn promtool_check_metrics(text: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/setup.sh installs Debian's prometheus package)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}\n{text}"
    );
}
