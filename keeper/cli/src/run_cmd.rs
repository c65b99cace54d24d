//! `flex-keeper run --config keeper.toml`: the keeper service and its API.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flex_service::{Config, Keeper, LogFormat};
use flex_sources::Status;

use crate::shutdown::shutdown_signal;
use flex_store::SqliteStore;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The keeper's configuration (TOML; every key can be overridden by FLEX_<SECTION>_<KEY>).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling twice) is harmless.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The account that submits claims relayed by the API (`POST /v1/claims/{month}/{address}/relay`)
/// and pays their cost: the secret URI in `FLEX_RELAYER_KEY`. The relay is opt-in: without it
/// the relay answers 503 `no_relayer`. It must not be the keeper's voting key (`chain.key_file`
/// or `FLEX_KEEPER_KEY`): anyone on the internet can make the relay spend, and the voting key
/// must keep its funds for the votes.
fn relayer_key(config: &Config) -> anyhow::Result<Option<flex_chain::Keypair>> {
    let uri = match std::env::var("FLEX_RELAYER_KEY") {
        Ok(uri) if !uri.trim().is_empty() => uri,
        _ => return Ok(None),
    };
    let uri = subxt_signer::SecretUri::from_str(uri.trim())
        .map_err(|_| anyhow::anyhow!("FLEX_RELAYER_KEY: not a secret URI"))?;
    let relayer = flex_chain::Keypair::from_uri(&uri)
        .map_err(|_| anyhow::anyhow!("FLEX_RELAYER_KEY: not a valid sr25519 secret"))?;
    let voter = flex_service::runner::load_signer(config)?;
    if relayer.public_key().0 == voter.public_key().0 {
        anyhow::bail!(
            "FLEX_RELAYER_KEY is the keeper's voting key ({}): give the relay a key of its own, funded \
             for claim costs and fees only",
            flex_chain::account_of(&voter)
        );
    }
    Ok(Some(relayer))
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    init_logs(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Arc::new(
            SqliteStore::open(&config.store_path).with_context(|| format!("{}: store.path", config.file))?,
        );
        let status = Arc::new(Status::default());
        // A relay key that is the voting key stops the start, before anything listens.
        let relayer = match config.listen {
            Some(_) => relayer_key(&config)?,
            None => None,
        };
        let keeper = Keeper::new(config.clone(), store.clone(), status.clone())?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut api_task = None;
        if let Some(addr) = config.listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("{}: api.listen: cannot listen on {addr}", config.file))?;
            // A bad certificate or key stops the start here, naming the file.
            let tls = match &config.tls {
                Some(files) => Some(
                    flex_api::tls::server_config(&files.cert, &files.key)
                        .with_context(|| format!("{}: api.tls_cert / api.tls_key", config.file))?,
                ),
                None => None,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            tracing::info!(%addr, scheme, "API listening");
            let limits = api_limits(&config.api_limits);
            // A connection cap above the file-descriptor limit stops the start here.
            limits
                .check()
                .with_context(|| format!("{}: [api] limits", config.file))?;
            let api = flex_api::Api::with_limits(
                store.clone(),
                status.clone(),
                config.contract,
                config.genesis,
                limits,
            );
            if let Some(relayer) = relayer {
                tracing::info!(relayer = %flex_chain::account_of(&relayer), "claim relay enabled");
                api.set_relayer(relayer);
                api.set_relay_min_balance(config.relay_min_balance);
            }
            api.set_offchain(keeper.offchain_intake());
            let mut rx = stop_rx.clone();
            api_task = Some(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let served = match tls {
                    Some(tls) => api.serve_tls(listener, tls, stop).await,
                    None => api.serve(listener, stop).await,
                };
                if let Err(e) = served {
                    tracing::error!(error = %e, "API server failed");
                }
            }));
        }
        // `[[evm]]` log followers and `[[substrate]]` finalized-block followers import into the
        // same store in the background.
        let followers = flex_sources::follower::spawn(
            config.chain_followers()?,
            store.clone(),
            status.clone(),
            stop_rx.clone(),
        );
        let result = keeper.run(shutdown_signal()).await;
        let _ = stop_tx.send(true);
        for t in followers {
            let _ = t.await;
        }
        if let Some(t) = api_task {
            let _ = t.await;
        }
        result.map_err(anyhow::Error::from)
    })
}

/// The `[api]` limits over the API's defaults.
fn api_limits(c: &flex_service::config::ApiLimits) -> flex_api::Limits {
    use std::time::Duration;
    let d = flex_api::Limits::default();
    let size =
        |v: Option<u64>, default: usize| v.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX));
    flex_api::Limits {
        header_read_timeout: c
            .header_read_timeout_ms
            .map_or(d.header_read_timeout, Duration::from_millis),
        idle_timeout: c.idle_timeout_ms.map_or(d.idle_timeout, Duration::from_millis),
        request_timeout: c
            .request_timeout_ms
            .map_or(d.request_timeout, Duration::from_millis),
        max_connections: c
            .max_connections
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .or(d.max_connections),
        max_in_flight: size(c.max_in_flight, d.max_in_flight),
        month_cache_bytes: size(c.month_cache_bytes, d.month_cache_bytes),
        claimed_cache_entries: size(c.claimed_cache_entries, d.claimed_cache_entries),
    }
}
