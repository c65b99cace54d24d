//! What `deploy` and `admin` share: the chain URL, the signing key (a secret URI in an
//! owner-only file, or `FLEX_ADMIN_KEY`; never a default), the bundles' default places, and
//! accounts written both ways (SS58 and hex) in their output.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::Args;
use flex_chain::{AccountId32, Keypair};
use flex_types::AccountId;
use serde_json::{json, Value};

/// The environment variable holding the signer's secret URI when `--key-file` is not given.
pub const KEY_ENV: &str = "FLEX_ADMIN_KEY";

/// `--url` and the signer.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// The chain's WebSocket RPC: ws:// (local) or wss://.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    pub url: String,
    /// File holding the signer's secret URI (//Name, 0x seed or mnemonic), readable by its owner
    /// only (chmod 600). Without it: the secret URI in FLEX_ADMIN_KEY.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl ChainArgs {
    /// The signer: `--key-file`, else `FLEX_ADMIN_KEY`; none is an error naming both.
    pub fn signer(&self) -> anyhow::Result<Keypair> {
        if let Some(file) = &self.key_file {
            return flex_chain::keypair_from_file(file).map_err(|e| anyhow!("--key-file {e}"));
        }
        match flex_chain::keypair_from_env(KEY_ENV)? {
            Some(k) => Ok(k),
            None => bail!(
                "no signing key: give --key-file FILE (a secret URI, chmod 600) or set {KEY_ENV} to a secret URI"
            ),
        }
    }

    /// The URL as checked before connecting: ws:// or wss:// only.
    pub fn checked_url(&self) -> anyhow::Result<&str> {
        let u = self.url.trim();
        if !(u.starts_with("ws://") || u.starts_with("wss://")) {
            bail!("--url {u:?}: not a ws:// or wss:// URL");
        }
        Ok(u)
    }
}

/// The directory `scripts/build-contracts.sh` writes bundles to: `$FLEX_INK_DIR`, else
/// `$CARGO_TARGET_DIR/ink`, else `target/ink`.
pub fn ink_dir() -> PathBuf {
    std::env::var_os("FLEX_INK_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("ink")))
        .unwrap_or_else(|| PathBuf::from("target/ink"))
}

/// `<ink dir>/<name>/<name>.contract`.
pub fn default_bundle(name: &str) -> PathBuf {
    ink_dir().join(name).join(format!("{name}.contract"))
}

/// An account given as SS58 (any network) or `0x` + 64 hex digits; errors name `what`.
pub fn parse_account(s: &str, what: &str) -> anyhow::Result<AccountId32> {
    s.trim()
        .parse::<AccountId>()
        .map(|a| AccountId32(a.0))
        .map_err(|e| anyhow!("{what}: {s:?} is {e}"))
}

/// An account as the output writes it: both forms.
pub fn account_json(a: &AccountId32) -> Value {
    json!({"ss58": a.to_string(), "hex": flex_types::hex::encode(a.0)})
}

/// A JSON value of a 32-byte hash.
pub fn hash_json(h: impl AsRef<[u8]>) -> Value {
    Value::String(flex_types::hex::encode(h.as_ref()))
}
