//! A local Hardhat EVM node for the EVM log follower's test and lag bench: the npm project in
//! `tests/evm` (Hardhat 2 and solc-js, installed by `scripts/setup.sh`), its `Swapper` contract
//! compiled offline by solc-js, and a few JSON-RPC helpers (plain HTTP, independent of the keeper's
//! own EVM code).
//!
//! [`Hardhat::start`] runs `hardhat node` on a free loopback port with automine off (blocks are
//! mined by [`Rpc::mine`]); dropping it stops the node.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Hardhat's chain id.
pub const CHAIN_ID: u64 = 31337;

/// `tests/evm`.
pub fn evm_dir() -> PathBuf {
    crate::repo_root().join("tests").join("evm")
}

/// Panics (a test must fail, never skip) when the npm project is not installed.
pub fn require_node_tools() {
    for pkg in ["hardhat", "solc"] {
        let p = evm_dir().join("node_modules").join(pkg);
        assert!(
            p.exists(),
            "{} is missing: run scripts/setup.sh (it runs `npm ci` in tests/evm)",
            p.display()
        );
    }
}

/// A running Hardhat node; stopped when dropped.
pub struct Hardhat {
    child: Child,
    pub port: u16,
    pub url: String,
    pub log: PathBuf,
}

impl Hardhat {
    /// Starts a fresh node (its output goes to `log_dir/hardhat.log`) and waits for its JSON-RPC.
    pub async fn start(log_dir: &Path) -> Hardhat {
        require_node_tools();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        std::fs::create_dir_all(log_dir).expect("create the log dir");
        let log = log_dir.join("hardhat.log");
        let out = File::create(&log).expect("create hardhat.log");
        let err = out.try_clone().expect("clone the log handle");
        let child = Command::new("node")
            .arg(evm_dir().join("node_modules/hardhat/internal/cli/bootstrap.js"))
            .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(evm_dir())
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("cannot run `node` (scripts/setup.sh installs Node.js)");
        let url = format!("http://127.0.0.1:{port}");
        let mut node = Hardhat {
            child,
            port,
            url,
            log,
        };
        let rpc = Rpc::new(&node.url);
        let started = Instant::now();
        loop {
            if let Ok(id) = rpc.try_call("eth_chainId", json!([])).await {
                assert_eq!(id, json!(format!("0x{CHAIN_ID:x}")));
                break;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!(
                    "hardhat node exited ({status}):\n{}",
                    std::fs::read_to_string(&node.log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "hardhat node did not answer on {} in 90 s:\n{}",
                node.url,
                std::fs::read_to_string(&node.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        rpc.call("evm_setAutomine", json!([false])).await;
        node
    }
}

impl Drop for Hardhat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `Swapper` contract's creation bytecode (`0x…`), compiled by `tests/evm/compile.js`.
pub fn swapper_bytecode() -> String {
    require_node_tools();
    let out = Command::new("node")
        .arg(evm_dir().join("compile.js"))
        .output()
        .expect("cannot run `node`");
    assert!(
        out.status.success(),
        "tests/evm/compile.js failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("compile.js prints JSON");
    v["bytecode"].as_str().expect("bytecode").to_string()
}

/// An ABI argument.
pub enum Arg {
    Uint(u128),
    Address([u8; 20]),
}

/// Calldata: the function's selector and its static arguments.
pub fn calldata(signature: &str, args: &[Arg]) -> String {
    let mut data = flex_evm::keccak256(signature.as_bytes())[..4].to_vec();
    for a in args {
        let mut word = [0u8; 32];
        match a {
            Arg::Uint(v) => word[16..].copy_from_slice(&v.to_be_bytes()),
            Arg::Address(a) => word[12..].copy_from_slice(a),
        }
        data.extend_from_slice(&word);
    }
    flex_types::hex::encode(data)
}

/// `0x…` to 20 bytes.
pub fn address(v: &Value) -> [u8; 20] {
    let s = v.as_str().expect("an address string");
    flex_types::hex::decode::<20>(s).expect("0x and 40 hex digits")
}

/// `0x…` quantity.
pub fn quantity(v: &Value) -> u64 {
    let s = v.as_str().expect("a quantity string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

/// Plain JSON-RPC over HTTP.
#[derive(Clone)]
pub struct Rpc {
    http: reqwest::Client,
    pub url: String,
}

impl Rpc {
    pub fn new(url: &str) -> Rpc {
        Rpc {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            url: url.to_string(),
        }
    }

    pub async fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let v: Value = resp.json().await.map_err(|e| format!("{method}: {e}"))?;
        if let Some(e) = v.get("error") {
            return Err(format!("{method}: {e}"));
        }
        Ok(v["result"].clone())
    }

    /// Panics on an error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .await
            .unwrap_or_else(|e| panic!("JSON-RPC {method} {params} on {}: {e}", self.url))
    }

    pub async fn accounts(&self) -> Vec<[u8; 20]> {
        let v = self.call("eth_accounts", json!([])).await;
        v.as_array().expect("accounts").iter().map(address).collect()
    }

    /// Sends a transaction (mined by the next [`Rpc::mine`]); returns its hash.
    pub async fn send(&self, from: &[u8; 20], to: Option<&[u8; 20]>, data: &str) -> String {
        let mut tx = json!({
            "from": flex_types::hex::encode(from),
            "data": data,
            "gas": "0x200000",
        });
        if let Some(to) = to {
            tx["to"] = json!(flex_types::hex::encode(to));
        }
        self.call("eth_sendTransaction", json!([tx]))
            .await
            .as_str()
            .expect("a transaction hash")
            .to_string()
    }

    /// Mines one block with the pending transactions.
    pub async fn mine(&self) {
        self.call("evm_mine", json!([])).await;
    }

    /// Mines `n` blocks, one at a time.
    pub async fn mine_n(&self, n: u64) {
        for _ in 0..n {
            self.mine().await;
        }
    }

    pub async fn head(&self) -> u64 {
        quantity(&self.call("eth_blockNumber", json!([])).await)
    }

    pub async fn block(&self, n: u64) -> Value {
        self.call("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]))
            .await
    }

    /// A transaction's receipt (`Value::Null` when it is not on the chain).
    pub async fn receipt(&self, tx: &str) -> Value {
        self.call("eth_getTransactionReceipt", json!([tx])).await
    }

    /// Deploys `bytecode` from `from` and mines it; returns the contract's address.
    pub async fn deploy(&self, from: &[u8; 20], bytecode: &str) -> [u8; 20] {
        let tx = self.send(from, None, bytecode).await;
        self.mine().await;
        let r = self.receipt(&tx).await;
        assert_eq!(r["status"], json!("0x1"), "deployment failed: {r}");
        address(&r["contractAddress"])
    }
}
