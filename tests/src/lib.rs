//! Harness for the end-to-end tests: a real local chain per test, contract bundles, dev accounts.
//!
//! [`Devnet::start`] runs `scripts/devnet start` on a free loopback port with its own state dir, so
//! tests can run side by side; dropping it stops the chain. Contract bundles come from
//! `$FLEX_INK_DIR`, else `$CARGO_TARGET_DIR/ink`, else `target/ink` (`scripts/build-contracts.sh`
//! builds them there).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

use flex_chain::{Chain, ContractBundle, Keypair};

pub mod deploy;
pub mod evm_node;
pub mod proxy;
pub mod scenario;
pub mod tls;

pub use codec::{Decode, Encode};
pub use flex_chain::AccountId32;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A running devnet; stopped when dropped.
pub struct Devnet {
    pub url: String,
    pub port: u16,
    state_dir: PathBuf,
}

impl Devnet {
    /// Starts a fresh chain from genesis on a free port. Panics with the script's output if it
    /// cannot (a test without its chain must fail, never skip).
    pub fn start() -> Devnet {
        let port = free_port();
        let state_dir = repo_root()
            .join("target")
            .join("devnet")
            .join(format!("e2e-{port}"));
        let out = Command::new(repo_root().join("scripts/devnet"))
            .args(["start", "--port", &port.to_string(), "--state-dir"])
            .arg(&state_dir)
            .output()
            .expect("cannot run scripts/devnet");
        assert!(
            out.status.success(),
            "scripts/devnet start failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Devnet {
            url: format!("ws://127.0.0.1:{port}"),
            port,
            state_dir,
        }
    }

    /// Stops the chain (its saved blocks stay in the state dir for [`Devnet::resume`]).
    pub fn stop(&self) {
        self.script(&["stop"]);
    }

    /// Starts the stopped chain again on the same port from its saved blocks (`scripts/devnet
    /// start --resume`): the state survives, connections opened before the stop do not. Panics with
    /// the script's output if it cannot.
    pub fn resume(&self) {
        self.script(&["start", "--resume", "--port", &self.port.to_string()]);
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(repo_root().join("scripts/devnet"))
            .args(args)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .output()
            .expect("cannot run scripts/devnet");
        assert!(
            out.status.success(),
            "scripts/devnet {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub async fn connect(&self) -> Chain {
        Chain::connect(&self.url)
            .await
            .expect("cannot connect to the devnet")
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/devnet"))
            .args(["stop", "--state-dir"])
            .arg(&self.state_dir)
            .output();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Where `scripts/build-contracts.sh` puts the bundles: `$FLEX_INK_DIR`, else
/// `$CARGO_TARGET_DIR/ink`, else `target/ink`.
pub fn ink_dir() -> PathBuf {
    std::env::var_os("FLEX_INK_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("ink")))
        .unwrap_or_else(|| repo_root().join("target").join("ink"))
}

/// A contract's `.contract` bundle under [`ink_dir`]: `<ink dir>/<name>/<name>.contract`.
pub fn bundle_path(name: &str) -> PathBuf {
    ink_dir().join(name).join(format!("{name}.contract"))
}

/// A blocking HTTP/1.1 request on loopback (the keeper's API in the tests): the status and the body
/// as JSON, or as a JSON string when it is not JSON. `None` when the request cannot be made.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.get(9..12)?.parse().ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked { dechunk(body)? } else { body.to_string() };
    Some((
        code,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    ))
}

/// The payload of a `Transfer-Encoding: chunked` body (streamed answers: month trees).
fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// `GET path` with [`http`].
pub fn http_get(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    http(port, "GET", path, None)
}

/// Loads a contract bundle built by `scripts/build-contracts.sh`.
pub fn bundle(name: &str) -> ContractBundle {
    let path = bundle_path(name);
    ContractBundle::load(&path)
        .unwrap_or_else(|e| panic!("{e}\n(build the contracts first: scripts/build-contracts.sh)"))
}

/// A well-known dev account (`//Alice`, `//Bob`, ...), endowed at genesis.
pub fn dev(name: &str) -> Keypair {
    use subxt_signer::sr25519::dev;
    match name {
        "alice" => dev::alice(),
        "bob" => dev::bob(),
        "charlie" => dev::charlie(),
        "dave" => dev::dave(),
        "eve" => dev::eve(),
        "ferdie" => dev::ferdie(),
        other => panic!("no dev account {other}"),
    }
}

pub fn account(k: &Keypair) -> AccountId32 {
    flex_chain::account_of(k)
}

/// An ink! call: selector followed by the SCALE-encoded arguments.
pub fn call_data(selector: [u8; 4], args: impl Encode) -> Vec<u8> {
    let mut data = selector.to_vec();
    args.encode_to(&mut data);
    data
}
