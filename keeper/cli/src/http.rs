//! The HTTP client of the commands that talk to a keeper's API (`claim`, `offchain sign`,
//! `offchain submit`): rustls with the system's CA store (Debian's `ca-certificates`), plus the CA
//! of `--ca-cert` for a keeper behind a private CA; plain `http://` stays allowed for loopback and
//! the devnet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

/// `--ca-cert`, shared by every command with an HTTP client.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// A PEM file of CA certificates to trust besides the system's (a keeper API served with a
    /// private CA's certificate).
    #[arg(long = "ca-cert", env = "FLEX_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

/// Connecting gives up after this long (a dead address answers nothing).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request (connect, send, the answer) gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The client, trusting the system's CAs and those of `tls.ca_cert`.
pub fn client(tls: &TlsArgs) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if let Some(path) = &tls.ca_cert {
        for cert in ca_certificates(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("cannot build the HTTP client")
}

fn ca_certificates(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).with_context(|| format!("--ca-cert {}: cannot read", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("--ca-cert {}: not PEM certificates", path.display()))?;
    if certs.is_empty() {
        bail!(
            "--ca-cert {}: no certificate in the file (expected PEM \"BEGIN CERTIFICATE\" blocks)",
            path.display()
        );
    }
    Ok(certs)
}

/// An error with its causes (`error sending request …: … invalid peer certificate: UnknownIssuer`):
/// reqwest's own message names only the URL.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
