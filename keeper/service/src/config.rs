//! `keeper.toml`: the keeper's configuration, with environment overrides.
//!
//! Every key can be overridden by `FLEX_<SECTION>_<KEY>` in upper case (`FLEX_CHAIN_URL`,
//! `FLEX_API_LISTEN`, `FLEX_STORE_PATH`, ...). The keeper's secret key is read from the file named
//! by `chain.key_file`, or from `FLEX_KEEPER_KEY`; it is never written to logs or errors. Relative
//! paths are relative to the config file's folder. Errors name the file and the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flex_engine::ConnectionBonus;
use flex_ingest::section::{self, KeyError};
use flex_sources::evm::{EvmConfig, EvmSection, EvmSource};
use flex_sources::substrate::{SubstrateConfig, SubstrateSection, SubstrateSource};
use flex_sources::Follower;
use flex_types::AccountId;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: not valid TOML: {message}")]
    Toml { file: String, message: String },
    #[error("{file}: {key}: {message}")]
    Key {
        file: String,
        key: String,
        message: String,
    },
    #[error("{file}: unknown key {key} (known: {known})")]
    Unknown {
        file: String,
        key: String,
        known: String,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `[api] tls_cert` and `tls_key`, resolved against the config file's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `[api]` limits as written (each at least 1); `None`: the API's default (README.md, "API
/// limits").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiLimits {
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub max_connections: Option<u64>,
    pub max_in_flight: Option<u64>,
    pub month_cache_bytes: Option<u64>,
    pub claimed_cache_entries: Option<u64>,
}

/// The keeper's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file (for messages).
    pub file: String,
    // [chain]
    pub chain_url: String,
    /// The reward pool's account.
    pub contract: AccountId,
    /// The reward pool's `.contract` bundle (selectors and error names).
    pub bundle: PathBuf,
    /// File holding the keeper's secret URI (`//Alice`, a `0x` seed, or a mnemonic).
    pub key_file: Option<PathBuf>,
    /// The keeper key's balance floor (native base units; 0 = none): below it `/health` is
    /// `degraded` and the metrics' `flex_key_balance_low` is 1.
    pub min_balance: u128,
    // [protocol]
    /// Unix seconds; when absent, read from the contract.
    pub genesis: Option<i64>,
    /// The weight table of epoch 0 (`protocol.weights`, or the first of `protocol.weight_versions`).
    pub weights: PathBuf,
    /// Every weight table version, `(from_epoch, file)` by ascending epoch; `protocol.weights`
    /// alone is one version from epoch 0. Read with [`Config::weight_schedule`].
    pub weight_versions: Vec<(u64, PathBuf)>,
    pub bonus: ConnectionBonus,
    /// Seconds after an epoch's end before it is closed (late actions).
    pub grace_seconds: u64,
    /// Where the month roots' claim prices come from (`docs/PROTOCOL.md`: 18-decimal fixed point).
    pub claim_prices: ClaimPrices,
    // [input]
    pub pool_files: Vec<PathBuf>,
    pub action_files: Vec<PathBuf>,
    // [store]
    pub store_path: PathBuf,
    // [api]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain and private key: the API is served over TLS (HTTPS) when both are set.
    pub tls: Option<TlsFiles>,
    /// The API's limits (`flex_api::Limits`); unset keys keep its defaults.
    pub api_limits: ApiLimits,
    /// The relayer's native balance (base units) below which `/health` reports `low_balance`
    /// and turns `degraded` (`api.relay_min_balance`; 0, the default: never).
    pub relay_min_balance: u128,
    // [offchain]
    /// EVM addresses whose signed batches of off-chain actions are accepted (`offchain` module).
    pub offchain_attesters: Vec<flex_engine::Address>,
    /// The kinds attesters may submit; `None`: every kind of the weight table.
    pub offchain_kinds: Option<Vec<String>>,
    /// Signed batch files, or folders of `*.json` signed files, imported like `POST /v1/actions`.
    pub offchain_files: Vec<PathBuf>,
    // [service]
    pub poll_ms: u64,
    pub backoff_max_ms: u64,
    // [log]
    pub log_format: LogFormat,
    pub log_level: String,
    // [[evm]]
    /// EVM log followers (`flex_sources::evm`).
    pub evm: Vec<EvmConfig>,
    // [[substrate]]
    /// Substrate finalized-block followers (`flex_sources::substrate`).
    pub substrate: Vec<SubstrateConfig>,
}

/// Where the month roots' claim prices come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimPrices {
    /// `protocol.claim_price`: one price for every month (0, free claims, when neither key is set).
    Flat(u128),
    /// `protocol.claim_prices`: a price table by month (`flex_ingest::ClaimPriceTable`), read
    /// again at each month close so that next month's price is added without a restart.
    Table(PathBuf),
}

impl ClaimPrices {
    /// Month `m`'s price; a table without the month is an error naming the month and the file.
    pub fn price(&self, m: u32) -> Result<u128, flex_ingest::PriceError> {
        match self {
            ClaimPrices::Flat(p) => Ok(*p),
            ClaimPrices::Table(path) => flex_ingest::ClaimPriceTable::read(path)?.price(m),
        }
    }
}

/// The keys an environment variable `FLEX_<SECTION>_<KEY>` overrides, and how its text is read.
const ENV_KEYS: &[(&str, &str, EnvKind)] = &[
    ("chain", "url", EnvKind::Str),
    ("chain", "contract", EnvKind::Str),
    ("chain", "bundle", EnvKind::Str),
    ("chain", "key_file", EnvKind::Str),
    ("chain", "min_balance", EnvKind::Str),
    ("protocol", "genesis", EnvKind::Int),
    ("protocol", "weights", EnvKind::Str),
    ("protocol", "weight_versions", EnvKind::Versions),
    ("protocol", "connection_bonus", EnvKind::Str),
    ("protocol", "grace_seconds", EnvKind::Int),
    ("protocol", "claim_price", EnvKind::Str),
    ("protocol", "claim_prices", EnvKind::Str),
    ("input", "pool", EnvKind::List),
    ("input", "actions", EnvKind::List),
    ("store", "path", EnvKind::Str),
    ("api", "listen", EnvKind::Str),
    ("api", "tls_cert", EnvKind::Str),
    ("api", "tls_key", EnvKind::Str),
    ("api", "header_read_timeout_ms", EnvKind::Int),
    ("api", "idle_timeout_ms", EnvKind::Int),
    ("api", "request_timeout_ms", EnvKind::Int),
    ("api", "max_connections", EnvKind::Int),
    ("api", "max_in_flight", EnvKind::Int),
    ("api", "month_cache_bytes", EnvKind::Int),
    ("api", "claimed_cache_entries", EnvKind::Int),
    ("api", "relay_min_balance", EnvKind::Str),
    ("offchain", "attesters", EnvKind::List),
    ("offchain", "kinds", EnvKind::List),
    ("offchain", "files", EnvKind::List),
    ("service", "poll_ms", EnvKind::Int),
    ("service", "backoff_max_ms", EnvKind::Int),
    ("log", "format", EnvKind::Str),
    ("log", "level", EnvKind::Str),
];

#[derive(Debug, Clone, Copy)]
enum EnvKind {
    Str,
    Int,
    /// Comma-separated.
    List,
    /// `EPOCH=FILE,EPOCH=FILE`.
    Versions,
}

/// `keeper.toml` as written: every section and key, unknown ones refused. [`Config::parse`] checks
/// the values and names the key at fault.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    chain: ChainSection,
    #[serde(default)]
    protocol: ProtocolSection,
    #[serde(default)]
    input: InputSection,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    api: ApiSection,
    #[serde(default)]
    offchain: OffchainSection,
    #[serde(default)]
    service: ServiceSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    evm: Vec<EvmSection>,
    #[serde(default)]
    substrate: Vec<SubstrateSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainSection {
    url: Option<String>,
    contract: Option<String>,
    bundle: Option<String>,
    key_file: Option<String>,
    min_balance: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolSection {
    genesis: Option<i64>,
    weights: Option<String>,
    weight_versions: Option<Vec<WeightVersionSection>>,
    connection_bonus: Option<String>,
    grace_seconds: Option<i64>,
    claim_price: Option<String>,
    claim_prices: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightVersionSection {
    from_epoch: Option<i64>,
    file: Option<String>,
}

/// A file name or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Files {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSection {
    pool: Option<Files>,
    actions: Option<Files>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiSection {
    listen: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    header_read_timeout_ms: Option<i64>,
    idle_timeout_ms: Option<i64>,
    request_timeout_ms: Option<i64>,
    max_connections: Option<i64>,
    max_in_flight: Option<i64>,
    month_cache_bytes: Option<i64>,
    claimed_cache_entries: Option<i64>,
    relay_min_balance: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffchainSection {
    attesters: Option<Vec<String>>,
    kinds: Option<Vec<String>>,
    files: Option<Files>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceSection {
    poll_ms: Option<i64>,
    backoff_max_ms: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    format: Option<String>,
    level: Option<String>,
}

impl Config {
    /// Reads `path` and applies the `FLEX_*` environment overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        let env: BTreeMap<String, String> =
            std::env::vars().filter(|(k, _)| k.starts_with("FLEX_")).collect();
        Self::parse(&text, path, &env)
    }

    /// Parses config text; `env` holds the overrides. Three steps: TOML, then the environment
    /// overrides, then the sections (serde, unknown keys refused) and one check of every value.
    pub fn parse(text: &str, path: &Path, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Toml {
            file: file.clone(),
            message: e.to_string(),
        })?;
        apply_env(&mut table, env, &file)?;
        let raw: RawConfig =
            section::deserialize(toml::Value::Table(table)).map_err(|e| key_error(&file, e))?;
        check(raw, &file, &base, env).map_err(|e| key_error(&file, e))
    }
}

/// Sets each overridden key in the table (creating its section), read as its kind.
fn apply_env(table: &mut toml::Table, env: &BTreeMap<String, String>, file: &str) -> Result<(), ConfigError> {
    for (section, key, kind) in ENV_KEYS {
        let var = format!("FLEX_{}_{}", section.to_uppercase(), key.to_uppercase());
        let Some(v) = env.get(&var) else {
            continue;
        };
        let bad = |message: String| ConfigError::Key {
            file: format!("{file} (environment {var})"),
            key: format!("{section}.{key}"),
            message,
        };
        let list = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
        let value = match kind {
            EnvKind::Str => toml::Value::String(v.clone()),
            EnvKind::Int => toml::Value::Integer(
                v.trim()
                    .parse()
                    .map_err(|_| bad(format!("{v:?} is not an integer")))?,
            ),
            EnvKind::List => toml::Value::Array(list().map(|s| toml::Value::String(s.to_string())).collect()),
            EnvKind::Versions => toml::Value::Array(
                list()
                    .map(|s| {
                        let (epoch, f) = s.split_once('=').unwrap_or(("", s));
                        let epoch: i64 = epoch
                            .trim()
                            .parse()
                            .map_err(|_| bad(format!("{s:?} is not EPOCH=FILE")))?;
                        let mut t = toml::Table::new();
                        t.insert("from_epoch".into(), toml::Value::Integer(epoch));
                        t.insert("file".into(), toml::Value::String(f.trim().to_string()));
                        Ok(toml::Value::Table(t))
                    })
                    .collect::<Result<_, ConfigError>>()?,
            ),
        };
        let slot = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match slot {
            toml::Value::Table(t) => {
                t.insert(key.to_string(), value);
            }
            _ => return Err(bad(format!("[{section}] in the file is not a table"))),
        }
    }
    Ok(())
}

fn key_error(file: &str, e: KeyError) -> ConfigError {
    match e {
        KeyError::Key { key, message } => ConfigError::Key {
            file: file.to_string(),
            key,
            message,
        },
        KeyError::Unknown { key, known } => ConfigError::Unknown {
            file: file.to_string(),
            key,
            known,
        },
    }
}

/// The one validation step: every value checked, defaults applied, paths made absolute.
fn check(
    raw: RawConfig,
    file: &str,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Config, KeyError> {
    let RawConfig {
        chain,
        protocol,
        input,
        store,
        api,
        offchain,
        service,
        log,
        evm,
        substrate,
    } = raw;
    let evm = flex_sources::evm::configs(&evm, env)?;
    let substrate = flex_sources::substrate::configs(&substrate, base, env)?;
    let contract = section::required("chain.contract", chain.contract.as_ref())?;
    let contract = section::account("chain.contract", &contract)?;
    let bonus = match protocol.connection_bonus.as_deref() {
        None | Some("active") => ConnectionBonus::Active,
        Some("always") => ConnectionBonus::Always,
        Some(other) => {
            return Err(KeyError::new(
                "protocol.connection_bonus",
                format!("{other:?} is neither \"active\" nor \"always\""),
            ))
        }
    };
    let claim_prices = match (&protocol.claim_price, &protocol.claim_prices) {
        (Some(_), Some(_)) => {
            return Err(KeyError::new(
                "protocol.claim_prices",
                "give either protocol.claim_price (one price for every month) or protocol.claim_prices (a table by month), not both",
            ))
        }
        (None, None) => ClaimPrices::Flat(0),
        (Some(s), None) => ClaimPrices::Flat(s.trim().parse::<u128>().map_err(|_| {
            KeyError::new(
                "protocol.claim_price",
                format!("{s:?} is not a non-negative integer (18-decimal fixed point, as a string)"),
            )
        })?),
        (None, Some(file)) => {
            let path = base.join(file);
            // Read once now so a bad table stops the start; read again at each month close.
            flex_ingest::ClaimPriceTable::read(&path)
                .map_err(|e| KeyError::new("protocol.claim_prices", e.to_string()))?;
            ClaimPrices::Table(path)
        }
    };
    let listen = match api.listen.as_deref().map(str::trim) {
        None | Some("" | "off") => None,
        Some(s) => Some(SocketAddr::from_str(s).map_err(|_| {
            KeyError::new(
                "api.listen",
                format!("{s:?} is not an address such as 127.0.0.1:8080"),
            )
        })?),
    };
    let tls = match (api.tls_cert.as_deref(), api.tls_key.as_deref()) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: base.join(cert),
            key: base.join(key),
        }),
        (Some(_), None) => {
            return Err(KeyError::new(
                "api.tls_key",
                "missing: api.tls_cert is set, give both or neither",
            ))
        }
        (None, Some(_)) => {
            return Err(KeyError::new(
                "api.tls_cert",
                "missing: api.tls_key is set, give both or neither",
            ))
        }
    };
    let relay_min_balance = match &api.relay_min_balance {
        None => 0,
        Some(s) => s.trim().parse::<u128>().map_err(|_| {
            KeyError::new(
                "api.relay_min_balance",
                format!("{s:?} is not a non-negative integer (native base units, as a string)"),
            )
        })?,
    };
    let log_format = match log.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(KeyError::new(
                "log.format",
                format!("{other:?} is neither \"text\" nor \"json\""),
            ))
        }
    };
    let genesis = section::non_negative("protocol.genesis", protocol.genesis)?.map(|g| g as i64);
    if let Some(g) = genesis {
        if g.rem_euclid(86_400) != 0 {
            return Err(KeyError::new(
                "protocol.genesis",
                format!("{g} is not 00:00:00 UTC (unix seconds, a multiple of 86400)"),
            ));
        }
    }
    let paths = |f: Option<Files>| -> Vec<PathBuf> {
        match f {
            None => Vec::new(),
            Some(Files::One(s)) => vec![base.join(s)],
            Some(Files::Many(v)) => v.into_iter().map(|s| base.join(s)).collect(),
        }
    };
    let offchain_attesters = offchain
        .attesters
        .unwrap_or_default()
        .iter()
        .map(|a| section::address("offchain.attesters", a))
        .collect::<Result<Vec<_>, _>>()?;
    let offchain_files = paths(offchain.files);
    if !offchain_files.is_empty() && offchain_attesters.is_empty() {
        return Err(KeyError::new(
            "offchain.files",
            "signed files are read only from attesters: set offchain.attesters",
        ));
    }
    let weight_versions = weight_versions(protocol.weights, protocol.weight_versions, base)?;
    let int = |key: &str, v: Option<i64>| section::non_negative(key, v);
    let positive = |key: &str, v: Option<i64>| match int(key, v)? {
        Some(0) => Err(KeyError::new(key, "must be at least 1")),
        n => Ok(n),
    };
    let api_limits = ApiLimits {
        header_read_timeout_ms: positive("api.header_read_timeout_ms", api.header_read_timeout_ms)?,
        idle_timeout_ms: positive("api.idle_timeout_ms", api.idle_timeout_ms)?,
        request_timeout_ms: positive("api.request_timeout_ms", api.request_timeout_ms)?,
        max_connections: positive("api.max_connections", api.max_connections)?,
        max_in_flight: positive("api.max_in_flight", api.max_in_flight)?,
        month_cache_bytes: positive("api.month_cache_bytes", api.month_cache_bytes)?,
        claimed_cache_entries: positive("api.claimed_cache_entries", api.claimed_cache_entries)?,
    };
    Ok(Config {
        chain_url: chain.url.unwrap_or_else(|| "ws://127.0.0.1:9944".into()),
        contract,
        bundle: base.join(section::required("chain.bundle", chain.bundle.as_ref())?),
        key_file: chain.key_file.map(|p| base.join(p)),
        min_balance: match &chain.min_balance {
            None => 0,
            Some(v) => v.trim().parse::<u128>().map_err(|_| {
                KeyError::new(
                    "chain.min_balance",
                    format!("{v:?} is not a non-negative integer (native base units, as a string)"),
                )
            })?,
        },
        genesis,
        weights: weight_versions[0].1.clone(),
        weight_versions,
        bonus,
        grace_seconds: int("protocol.grace_seconds", protocol.grace_seconds)?.unwrap_or(300),
        claim_prices,
        pool_files: paths(input.pool),
        action_files: paths(input.actions),
        store_path: store
            .path
            .map_or_else(|| base.join("keeper.db"), |p| base.join(p)),
        listen,
        tls,
        api_limits,
        relay_min_balance,
        offchain_attesters,
        offchain_kinds: offchain.kinds,
        offchain_files,
        poll_ms: int("service.poll_ms", service.poll_ms)?.unwrap_or(1000).max(10),
        backoff_max_ms: int("service.backoff_max_ms", service.backoff_max_ms)?
            .unwrap_or(30_000)
            .max(100),
        log_format,
        log_level: log.level.unwrap_or_else(|| "info".into()),
        evm,
        substrate,
        file: file.to_string(),
    })
}

/// `protocol.weights = FILE` (one version from epoch 0), or `[[protocol.weight_versions]]`
/// tables of `from_epoch` and `file`, the first from epoch 0, strictly ascending.
fn weight_versions(
    single: Option<String>,
    list: Option<Vec<WeightVersionSection>>,
    base: &Path,
) -> Result<Vec<(u64, PathBuf)>, KeyError> {
    const KEY: &str = "protocol.weight_versions";
    let list = match (single, list) {
        (Some(f), None) => return Ok(vec![(0, base.join(f))]),
        (None, None) => {
            return Err(KeyError::new(
                "protocol.weights",
                "missing (required unless protocol.weight_versions lists the versions)",
            ))
        }
        (Some(_), Some(_)) => return Err(KeyError::new(
            KEY,
            "give either protocol.weights (one table for every epoch) or protocol.weight_versions, not both",
        )),
        (None, Some(l)) if l.is_empty() => {
            return Err(KeyError::new(
                KEY,
                "expected [[protocol.weight_versions]] tables of from_epoch and file, found an empty list",
            ))
        }
        (None, Some(l)) => l,
    };
    let mut out: Vec<(u64, PathBuf)> = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        let at = |k: &str| format!("{KEY}[{i}]{k}");
        let from_epoch = match v.from_epoch {
            Some(e) if e >= 0 => e as u64,
            Some(other) => {
                return Err(KeyError::new(
                    at(".from_epoch"),
                    format!("expected an epoch number (>= 0), found {other}"),
                ))
            }
            None => return Err(KeyError::new(at(".from_epoch"), "missing")),
        };
        let file = match v.file {
            Some(f) => base.join(f),
            None => return Err(KeyError::new(at(".file"), "missing")),
        };
        match out.last() {
            None if from_epoch != 0 => {
                return Err(KeyError::new(
                    at(".from_epoch"),
                    format!("{from_epoch}: the first version must start at epoch 0"),
                ))
            }
            Some((prev, _)) if from_epoch <= *prev => {
                return Err(KeyError::new(
                    at(".from_epoch"),
                    format!(
                        "{from_epoch} is not after the previous version's {prev}: versions are listed by strictly ascending from_epoch"
                    ),
                ))
            }
            _ => {}
        }
        out.push((from_epoch, file));
    }
    Ok(out)
}

impl Config {
    /// Reads the weight table versions; an error names the key and the file.
    pub fn weight_schedule(&self) -> Result<flex_ingest::WeightVersions, ConfigError> {
        let single = self.weight_versions.len() == 1 && self.weight_versions[0].1 == self.weights;
        let mut versions = Vec::with_capacity(self.weight_versions.len());
        for (i, (from_epoch, path)) in self.weight_versions.iter().enumerate() {
            let key = if single {
                "protocol.weights".to_string()
            } else {
                format!("protocol.weight_versions[{i}].file")
            };
            let table = flex_ingest::read_weight_table(path).map_err(|e| ConfigError::Key {
                file: self.file.clone(),
                key,
                message: e.to_string(),
            })?;
            versions.push(flex_ingest::WeightVersion {
                from_epoch: *from_epoch,
                table,
                origin: path.display().to_string(),
            });
        }
        flex_ingest::WeightVersions::new(versions).map_err(|e| ConfigError::Key {
            file: self.file.clone(),
            key: "protocol.weight_versions".into(),
            message: e.to_string(),
        })
    }

    /// Every kind of every weight table version: what inputs may name
    /// ([`flex_ingest::WeightSchedule::all_kinds`]).
    pub fn known_kinds(&self) -> Result<flex_engine::WeightTable, ConfigError> {
        use flex_ingest::WeightSchedule;
        Ok(self.weight_schedule()?.all_kinds())
    }

    /// The `[[evm]]` followers, their kinds checked against every weight table version.
    pub fn evm_sources(&self) -> Result<Vec<EvmSource>, ConfigError> {
        flex_sources::evm::sources(&self.evm, &self.known_kinds()?).map_err(|e| key_error(&self.file, e))
    }

    /// The `[[substrate]]` followers, their kinds checked against every weight table version (the
    /// epoch close decides per version what an action counts).
    pub fn substrate_sources(&self) -> Result<Vec<SubstrateSource>, ConfigError> {
        flex_sources::substrate::sources(&self.substrate, &self.known_kinds()?)
            .map_err(|e| key_error(&self.file, e))
    }

    /// Every chain follower of the config (`[[evm]]`, then `[[substrate]]`), to run in the
    /// background (`flex_sources::follower::spawn`).
    pub fn chain_followers(&self) -> Result<Vec<Box<dyn Follower>>, ConfigError> {
        let mut out: Vec<Box<dyn Follower>> = Vec::new();
        if !self.evm.is_empty() {
            out.extend(
                self.evm_sources()?
                    .into_iter()
                    .map(|s| Box::new(s) as Box<dyn Follower>),
            );
        }
        if !self.substrate.is_empty() {
            out.extend(
                self.substrate_sources()?
                    .into_iter()
                    .map(|s| Box::new(s) as Box<dyn Follower>),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[chain]
contract = "0x1111111111111111111111111111111111111111111111111111111111111111"
bundle = "pool.contract"
[protocol]
weights = "weights.toml"
genesis = 1769644800
claim_price = "500000000000000000"
[input]
pool = "pool.json"
"#;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::parse(text, Path::new("/etc/flex/keeper.toml"), &env)
    }

    #[test]
    fn min_balance_from_the_file_or_the_environment() {
        assert_eq!(parse(GOOD, &[]).unwrap().min_balance, 0);
        let with = |v: &str| GOOD.replace("[protocol]", &format!("min_balance = \"{v}\"\n[protocol]"));
        assert_eq!(parse(&with("4321"), &[]).unwrap().min_balance, 4321);
        let c = parse(GOOD, &[("FLEX_CHAIN_MIN_BALANCE", "7")]).unwrap();
        assert_eq!(c.min_balance, 7);
        let e = parse(&with("-1"), &[]).unwrap_err().to_string();
        assert!(e.contains("chain.min_balance"), "{e}");
    }

    #[test]
    fn claim_prices_by_month_from_a_table_file() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("prices.toml");
        std::fs::write(&table, "\"2026-01\" = \"7\"\n").unwrap();
        let flat = GOOD.replace("claim_price = \"500000000000000000\"\n", "");
        let with_table = flat.replace(
            "[input]",
            &format!("claim_prices = {:?}\n[input]", table.display().to_string()),
        );
        let c = parse(&with_table, &[]).unwrap();
        assert_eq!(c.claim_prices, ClaimPrices::Table(table.clone()));
        assert_eq!(c.claim_prices.price(24312).unwrap(), 7);
        let missing = c.claim_prices.price(24313).unwrap_err().to_string();
        assert!(
            missing.contains("2026-02") && missing.contains("prices.toml"),
            "{missing}"
        );
        // The month is added without a restart: the file is read again.
        std::fs::write(&table, "\"2026-01\" = \"7\"\n\"2026-02\" = \"9\"\n").unwrap();
        assert_eq!(c.claim_prices.price(24313).unwrap(), 9);
        // Neither key: free claims; both: refused; a bad table stops the start, naming the line.
        assert_eq!(parse(&flat, &[]).unwrap().claim_prices, ClaimPrices::Flat(0));
        let both = with_table.replace("[input]", "claim_price = \"1\"\n[input]");
        let e = parse(&both, &[]).unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
        std::fs::write(&table, "\"2026-01\" = \"7\"\n\"2026-02\" = 0.5\n").unwrap();
        let e = parse(&with_table, &[]).unwrap_err().to_string();
        assert!(
            e.contains("protocol.claim_prices") && e.contains("prices.toml:2"),
            "{e}"
        );
        // From the environment.
        std::fs::write(&table, "\"2026-01\" = \"7\"\n").unwrap();
        let c = parse(&flat, &[("FLEX_PROTOCOL_CLAIM_PRICES", table.to_str().unwrap())]).unwrap();
        assert_eq!(c.claim_prices, ClaimPrices::Table(table));
    }

    #[test]
    fn api_limits_are_read_and_zero_is_refused() {
        let c = parse(
            &format!("{GOOD}\n[api]\nheader_read_timeout_ms = 2500\nmax_connections = 300\nmonth_cache_bytes = 1048576\n"),
            &[("FLEX_API_MAX_IN_FLIGHT", "7")],
        )
        .unwrap();
        assert_eq!(
            c.api_limits,
            ApiLimits {
                header_read_timeout_ms: Some(2500),
                max_connections: Some(300),
                month_cache_bytes: Some(1 << 20),
                max_in_flight: Some(7),
                ..ApiLimits::default()
            }
        );
        assert_eq!(parse(GOOD, &[]).unwrap().api_limits, ApiLimits::default());
        let e = parse(&format!("{GOOD}\n[api]\nidle_timeout_ms = 0\n"), &[]).unwrap_err();
        assert!(
            e.to_string().contains("api.idle_timeout_ms") && e.to_string().contains("at least 1"),
            "{e}"
        );
        let e = parse(&format!("{GOOD}\n[api]\nmax_connections = -3\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("api.max_connections"), "{e}");
    }

    #[test]
    fn api_tls_needs_both_files_resolved_against_the_config() {
        let c = parse(
            &format!("{GOOD}\n[api]\nlisten = \"0.0.0.0:8443\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/keys/k.pem\"\n"),
            &[],
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert: PathBuf::from("/etc/flex/tls/cert.pem"),
                key: PathBuf::from("/keys/k.pem"),
            })
        );
        assert_eq!(parse(GOOD, &[]).unwrap().tls, None);
        let e = parse(&format!("{GOOD}\n[api]\ntls_cert = \"c.pem\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("api.tls_key"), "{e}");
        let e = parse(&format!("{GOOD}\n[api]\ntls_key = \"k.pem\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("api.tls_cert"), "{e}");
        // Both from the environment.
        let c = parse(
            GOOD,
            &[("FLEX_API_TLS_CERT", "c.pem"), ("FLEX_API_TLS_KEY", "k.pem")],
        )
        .unwrap();
        assert_eq!(c.tls.unwrap().key, PathBuf::from("/etc/flex/k.pem"));
    }

    #[test]
    fn relay_min_balance_from_the_file_or_the_environment() {
        assert_eq!(parse(GOOD, &[]).unwrap().relay_min_balance, 0);
        let c = parse(
            &format!("{GOOD}\n[api]\nrelay_min_balance = \"5000000000000\"\n"),
            &[],
        )
        .unwrap();
        assert_eq!(c.relay_min_balance, 5_000_000_000_000);
        let c = parse(
            GOOD,
            &[(
                "FLEX_API_RELAY_MIN_BALANCE",
                "340282366920938463463374607431768211455",
            )],
        )
        .unwrap();
        assert_eq!(c.relay_min_balance, u128::MAX);
        let e = parse(&format!("{GOOD}\n[api]\nrelay_min_balance = \"-1\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("api.relay_min_balance"), "{e}");
    }

    #[test]
    fn defaults_paths_and_env_overrides() {
        let c = parse(
            GOOD,
            &[
                ("FLEX_CHAIN_URL", "ws://node:9944"),
                ("FLEX_PROTOCOL_GRACE_SECONDS", "5"),
            ],
        )
        .unwrap();
        assert_eq!(c.chain_url, "ws://node:9944");
        assert_eq!(c.grace_seconds, 5);
        assert_eq!(c.claim_prices, ClaimPrices::Flat(500_000_000_000_000_000));
        assert_eq!(c.pool_files, vec![PathBuf::from("/etc/flex/pool.json")]);
        assert_eq!(c.store_path, PathBuf::from("/etc/flex/keeper.db"));
        assert_eq!(c.contract, AccountId([0x11; 32]));
        assert!(c.listen.is_none());
    }

    /// `chain.contract` in SS58 (any network) is the same account as in hex; a bad checksum is
    /// refused naming the key.
    #[test]
    fn contract_in_ss58_or_hex() {
        let alice_hex = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
        let alice: [u8; 32] = flex_types::hex::decode(alice_hex).unwrap();
        let hex_contract = "0x1111111111111111111111111111111111111111111111111111111111111111";
        let from_hex = parse(&GOOD.replace(hex_contract, alice_hex), &[]).unwrap();
        let from_ss58 = parse(
            &GOOD.replace(hex_contract, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
            &[],
        )
        .unwrap();
        let from_polkadot = parse(
            &GOOD.replace(hex_contract, "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"),
            &[],
        )
        .unwrap();
        assert_eq!(from_hex.contract.0, alice);
        assert_eq!(from_ss58.contract.0, alice);
        assert_eq!(from_polkadot.contract.0, alice);
        let e = parse(
            &GOOD.replace(hex_contract, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("chain.contract") && e.contains("checksum"), "{e}");
    }

    #[test]
    fn offchain_attesters_kinds_and_files() {
        let text = format!(
            "{GOOD}[offchain]\nattesters = [\"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"]\nkinds = [\"post\"]\nfiles = [\"signed\"]\n"
        );
        let c = parse(&text, &[]).unwrap();
        assert_eq!(c.offchain_attesters.len(), 1);
        assert_eq!(c.offchain_attesters[0].0[0], 0xf3);
        assert_eq!(c.offchain_kinds, Some(vec!["post".to_string()]));
        assert_eq!(c.offchain_files, vec![PathBuf::from("/etc/flex/signed")]);
        let c = parse(
            GOOD,
            &[(
                "FLEX_OFFCHAIN_ATTESTERS",
                "0x1111111111111111111111111111111111111111, 0x2222222222222222222222222222222222222222",
            )],
        )
        .unwrap();
        assert_eq!(
            c.offchain_attesters,
            vec![flex_engine::Address([0x11; 20]), flex_engine::Address([0x22; 20])]
        );
        assert_eq!(c.offchain_kinds, None);
        let e = parse(&format!("{GOOD}[offchain]\nattesters = [\"0x12\"]\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("offchain.attesters"), "{e}");
        let e = parse(&format!("{GOOD}[offchain]\nfiles = [\"signed\"]\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("offchain.files"), "{e}");
    }

    #[test]
    fn weight_versions() {
        let c = parse(GOOD, &[]).unwrap();
        assert_eq!(
            c.weight_versions,
            vec![(0, PathBuf::from("/etc/flex/weights.toml"))]
        );
        let versioned = GOOD.replace("weights = \"weights.toml\"\n", "")
            + "[[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n\
               [[protocol.weight_versions]]\nfrom_epoch = 30\nfile = \"w1.toml\"\n";
        let c = parse(&versioned, &[]).unwrap();
        assert_eq!(
            c.weight_versions,
            vec![
                (0, PathBuf::from("/etc/flex/w0.toml")),
                (30, PathBuf::from("/etc/flex/w1.toml"))
            ]
        );
        assert_eq!(c.weights, PathBuf::from("/etc/flex/w0.toml"));
        let c = parse(GOOD, &[("FLEX_PROTOCOL_WEIGHT_VERSIONS", "0=a.toml, 7=b.json")]).unwrap_err();
        assert!(c.to_string().contains("not both"), "{c}");
        let c = parse(
            &GOOD.replace("weights = \"weights.toml\"\n", ""),
            &[("FLEX_PROTOCOL_WEIGHT_VERSIONS", "0=a.toml, 7=b.json")],
        )
        .unwrap();
        assert_eq!(c.weight_versions[1], (7, PathBuf::from("/etc/flex/b.json")));
        let bad = |from: &str, to: &str| parse(&versioned.replace(from, to), &[]).unwrap_err().to_string();
        let e = bad("from_epoch = 30", "from_epoch = 0");
        assert!(
            e.contains("protocol.weight_versions[1].from_epoch") && e.contains("ascending"),
            "{e}"
        );
        let e = bad("from_epoch = 0", "from_epoch = 1");
        assert!(
            e.contains("protocol.weight_versions[0].from_epoch") && e.contains("epoch 0"),
            "{e}"
        );
        let e = bad("from_epoch = 30", "from_epoch = -1");
        assert!(e.contains("protocol.weight_versions[1].from_epoch"), "{e}");
        let e = bad("file = \"w1.toml\"", "path = \"w1.toml\"");
        assert!(e.contains("unknown key protocol.weight_versions[1].path"), "{e}");
        let e = bad("file = \"w1.toml\"", "");
        assert!(e.contains("protocol.weight_versions[1].file: missing"), "{e}");
        let e = parse(
            &format!("{GOOD}[[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("protocol.weight_versions: give either"), "{e}");
    }

    /// Each version's table is read and checked; an error names the key and the table's file.
    #[test]
    fn weight_schedule_reads_each_version() {
        use flex_ingest::WeightSchedule;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w0.toml"), "swap = \"2.5\"\n").unwrap();
        std::fs::write(dir.path().join("w1.toml"), "swap = 5\nvote = 1\n").unwrap();
        let text = GOOD.replace("weights = \"weights.toml\"\n", "")
            + "[[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n\
             [[protocol.weight_versions]]\nfrom_epoch = 3\nfile = \"w1.toml\"\n";
        let c = Config::parse(&text, &dir.path().join("keeper.toml"), &BTreeMap::new()).unwrap();
        let s = c.weight_schedule().unwrap();
        let t = s.table_for_epoch(2).unwrap();
        assert_eq!(t.weight(t.kind("swap").unwrap()).unwrap().to_string(), "2.5");
        let t = s.table_for_epoch(3).unwrap();
        assert_eq!(t.weight(t.kind("swap").unwrap()).unwrap().to_string(), "5");
        assert_eq!(c.known_kinds().unwrap().len(), 2);
        std::fs::write(dir.path().join("w1.toml"), "swap = 11\n").unwrap();
        let e = c.weight_schedule().unwrap_err().to_string();
        assert!(
            e.contains("protocol.weight_versions[1].file") && e.contains("w1.toml") && e.contains("\"swap\""),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(GOOD, &[("FLEX_PROTOCOL_GRACE_SECONDS", "soon")]).unwrap_err();
        assert!(
            e.to_string().contains("protocol.grace_seconds")
                && e.to_string().contains("FLEX_PROTOCOL_GRACE_SECONDS"),
            "{e}"
        );
        let e = parse(&GOOD.replace("1769644800", "1769644801"), &[]).unwrap_err();
        assert!(e.to_string().contains("protocol.genesis"), "{e}");
        let e = parse(&GOOD.replace("0x1111", "0x11"), &[]).unwrap_err();
        assert!(e.to_string().contains("chain.contract"), "{e}");
        let e = parse(&format!("{GOOD}\n[api]\nlisten = \"nowhere\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("api.listen"), "{e}");
        let e = parse(&format!("{GOOD}\n[api]\nport = 1\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("unknown key api.port"), "{e}");
        let e = parse(&GOOD.replace("weights = \"weights.toml\"", ""), &[]).unwrap_err();
        assert!(e.to_string().contains("protocol.weights: missing"), "{e}");
        let e = parse("[chain\n", &[]).unwrap_err();
        assert!(e.to_string().contains("not valid TOML"), "{e}");
    }

    const SUBSTRATE: &str = r#"
[[substrate]]
name = "dev-net"
url = "ws://127.0.0.1:9944"
start_block = 3
[[substrate.map]]
pallet = "Balances"
event = "Transfer"
wallet = "from"
kind = "transfer"
[[substrate.map]]
contract = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
topic = "0x990df076cb1e9527aa102cd100c1481efe393eeabb5825f9af1f5e58221864de"
wallet = 2
kind = "token"
"#;

    #[test]
    fn a_kind_of_any_weight_version_may_be_mapped() {
        // "token" only exists from epoch 10 on: the follower must accept it (the epoch close
        // decides per version what an action counts), and a kind of no version is refused.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w0.toml"), "transfer = \"1\"\n").unwrap();
        std::fs::write(dir.path().join("w1.toml"), "transfer = \"1\"\ntoken = \"2\"\n").unwrap();
        let text = format!(
            "[chain]\ncontract = \"0x{}\"\nbundle = \"pool.contract\"\n[protocol]\ngenesis = 1769644800\n\
             [[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n\
             [[protocol.weight_versions]]\nfrom_epoch = 10\nfile = \"w1.toml\"\n{SUBSTRATE}",
            "11".repeat(32)
        );
        let config = Config::parse(&text, &dir.path().join("keeper.toml"), &BTreeMap::new()).unwrap();
        let sources = config.substrate_sources().unwrap();
        assert_eq!(sources[0].config.maps.len(), 2);
        let first = flex_ingest::read_weight_table(&config.weights).unwrap();
        let e = sources_err(&config, &first);
        assert!(
            e.contains("substrate[0].map[1].kind") && e.contains("\"token\""),
            "{e}"
        );
        let mut token_only = flex_engine::WeightTable::new();
        token_only.insert_str("token", "2").unwrap();
        let e = sources_err(&config, &token_only);
        assert!(e.contains("substrate[0].map[0].kind"), "{e}");
    }

    fn sources_err(config: &Config, table: &flex_engine::WeightTable) -> String {
        match flex_sources::substrate::sources(&config.substrate, table) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }
}
