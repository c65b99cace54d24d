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

/// The keeper's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file (for messages).
    pub file: String,
    // [chain]
    pub chain_url: String,
    /// The reward pool's account.
    pub contract: [u8; 32],
    /// The reward pool's `.contract` bundle (selectors and error names).
    pub bundle: PathBuf,
    /// File holding the keeper's secret URI (`//Alice`, a `0x` seed, or a mnemonic).
    pub key_file: Option<PathBuf>,
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
    /// The month roots' claim price (`docs/PROTOCOL.md`: 18-decimal fixed point).
    pub claim_price: u128,
    // [input]
    pub pool_files: Vec<PathBuf>,
    pub action_files: Vec<PathBuf>,
    // [store]
    pub store_path: PathBuf,
    // [api]
    pub listen: Option<SocketAddr>,
    // [offchain]
    /// EVM addresses whose signed batches of off-chain actions are accepted (`offchain` module).
    pub offchain_attesters: Vec<[u8; 20]>,
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
    /// EVM log followers (`evm_source`).
    pub evm: Vec<crate::evm_source::EvmConfig>,
    // [[substrate]]
    /// Substrate finalized-block followers (`substrate_source`).
    pub substrate: Vec<crate::substrate_source::SubstrateConfig>,
}

/// Known keys: `section.key` and what they hold.
const KEYS: &[(&str, &str)] = &[
    ("chain.url", "str"),
    ("chain.contract", "str"),
    ("chain.bundle", "str"),
    ("chain.key_file", "str"),
    ("protocol.genesis", "int"),
    ("protocol.weights", "str"),
    ("protocol.weight_versions", "versions"),
    ("protocol.connection_bonus", "str"),
    ("protocol.grace_seconds", "int"),
    ("protocol.claim_price", "str"),
    ("input.pool", "list"),
    ("input.actions", "list"),
    ("store.path", "str"),
    ("api.listen", "str"),
    ("offchain.attesters", "list"),
    ("offchain.kinds", "list"),
    ("offchain.files", "list"),
    ("service.poll_ms", "int"),
    ("service.backoff_max_ms", "int"),
    ("log.format", "str"),
    ("log.level", "str"),
];

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

    /// Parses config text; `env` holds the overrides.
    pub fn parse(text: &str, path: &Path, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Toml {
            file: file.clone(),
            message: e.to_string(),
        })?;
        // `[[evm]]` sections are an array of tables with their own keys (`evm_source`).
        let evm = match table.remove("evm") {
            Some(v) => crate::evm_source::parse_config(&file, &v, env)?,
            None => Vec::new(),
        };
        // `[[substrate]]` sections likewise (`substrate_source`).
        let substrate = match table.remove("substrate") {
            Some(v) => crate::substrate_source::parse_config(&file, &base, &v, env)?,
            None => Vec::new(),
        };
        let known = KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ");
        let mut values: BTreeMap<String, toml::Value> = BTreeMap::new();
        for (section, v) in &table {
            let Some(inner) = v.as_table() else {
                return Err(ConfigError::Unknown {
                    file,
                    key: section.clone(),
                    known,
                });
            };
            for (k, v) in inner {
                let key = format!("{section}.{k}");
                if !KEYS.iter().any(|(n, _)| *n == key) {
                    return Err(ConfigError::Unknown { file, key, known });
                }
                values.insert(key, v.clone());
            }
        }
        // Environment overrides.
        for (key, kind) in KEYS {
            let var = format!("FLEX_{}", key.replace('.', "_").to_uppercase());
            if let Some(v) = env.get(&var) {
                let value = match *kind {
                    "int" => toml::Value::Integer(v.trim().parse().map_err(|_| ConfigError::Key {
                        file: format!("{file} (environment {var})"),
                        key: key.to_string(),
                        message: format!("{v:?} is not an integer"),
                    })?),
                    "list" => toml::Value::Array(
                        v.split(',')
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| toml::Value::String(s.trim().to_string()))
                            .collect(),
                    ),
                    // `EPOCH=FILE,EPOCH=FILE`
                    "versions" => toml::Value::Array(
                        v.split(',')
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| {
                                let (epoch, f) = s.split_once('=').unwrap_or(("", s));
                                let epoch: i64 = epoch.trim().parse().map_err(|_| ConfigError::Key {
                                    file: format!("{file} (environment {var})"),
                                    key: key.to_string(),
                                    message: format!("{s:?} is not EPOCH=FILE"),
                                })?;
                                let mut t = toml::Table::new();
                                t.insert("from_epoch".into(), toml::Value::Integer(epoch));
                                t.insert("file".into(), toml::Value::String(f.trim().to_string()));
                                Ok(toml::Value::Table(t))
                            })
                            .collect::<Result<_, ConfigError>>()?,
                    ),
                    _ => toml::Value::String(v.clone()),
                };
                values.insert(key.to_string(), value);
            }
        }
        let r = Reader {
            file: &file,
            values: &values,
            base: &base,
        };
        let contract = r.req_str("chain.contract")?;
        let contract = parse_account(&contract).map_err(|message| r.err("chain.contract", message))?;
        let bonus = match r.opt_str("protocol.connection_bonus")?.as_deref() {
            None | Some("active") => ConnectionBonus::Active,
            Some("always") => ConnectionBonus::Always,
            Some(other) => {
                return Err(r.err(
                    "protocol.connection_bonus",
                    format!("{other:?} is neither \"active\" nor \"always\""),
                ))
            }
        };
        let claim_price = match r.opt_str("protocol.claim_price")? {
            None => 0,
            Some(s) => s.trim().parse::<u128>().map_err(|_| {
                r.err(
                    "protocol.claim_price",
                    format!("{s:?} is not a non-negative integer (18-decimal fixed point, as a string)"),
                )
            })?,
        };
        let listen = match r.opt_str("api.listen")? {
            None => None,
            Some(s) if s.is_empty() || s == "off" => None,
            Some(s) => Some(SocketAddr::from_str(&s).map_err(|_| {
                r.err(
                    "api.listen",
                    format!("{s:?} is not an address such as 127.0.0.1:8080"),
                )
            })?),
        };
        let log_format = match r.opt_str("log.format")?.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(r.err(
                    "log.format",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ))
            }
        };
        let genesis = r.opt_int("protocol.genesis")?;
        if let Some(g) = genesis {
            if g.rem_euclid(86_400) != 0 {
                return Err(r.err(
                    "protocol.genesis",
                    format!("{g} is not 00:00:00 UTC (unix seconds, a multiple of 86400)"),
                ));
            }
        }
        let pool_files = r.paths("input.pool")?;
        let offchain_attesters = r
            .strings("offchain.attesters")?
            .unwrap_or_default()
            .iter()
            .map(|a| {
                a.parse::<flex_engine::Address>()
                    .map(|a| a.0)
                    .map_err(|e| r.err("offchain.attesters", format!("{a:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let offchain_kinds = r.strings("offchain.kinds")?;
        let offchain_files = r.paths("offchain.files")?;
        if !offchain_files.is_empty() && offchain_attesters.is_empty() {
            return Err(r.err(
                "offchain.files",
                "signed files are read only from attesters: set offchain.attesters",
            ));
        }
        let action_files = r.paths("input.actions")?;
        let weight_versions = r.weight_versions()?;
        Ok(Config {
            chain_url: r
                .opt_str("chain.url")?
                .unwrap_or_else(|| "ws://127.0.0.1:9944".into()),
            contract,
            bundle: r.req_path("chain.bundle")?,
            key_file: r.opt_str("chain.key_file")?.map(|p| base.join(p)),
            genesis,
            weights: weight_versions[0].1.clone(),
            weight_versions,
            bonus,
            grace_seconds: r.opt_int("protocol.grace_seconds")?.unwrap_or(300) as u64,
            claim_price,
            pool_files,
            action_files,
            store_path: r
                .opt_str("store.path")?
                .map_or_else(|| base.join("keeper.db"), |p| base.join(p)),
            listen,
            offchain_attesters,
            offchain_kinds,
            offchain_files,
            poll_ms: r.opt_int("service.poll_ms")?.unwrap_or(1000).max(10) as u64,
            backoff_max_ms: r.opt_int("service.backoff_max_ms")?.unwrap_or(30_000).max(100) as u64,
            log_format,
            log_level: r.opt_str("log.level")?.unwrap_or_else(|| "info".into()),
            evm,
            substrate,
            file,
        })
    }
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
        flex_ingest::WeightVersions::new(versions).map_err(|message| ConfigError::Key {
            file: self.file.clone(),
            key: "protocol.weight_versions".into(),
            message,
        })
    }

    /// Every kind of every weight table version: what inputs may name
    /// ([`flex_ingest::WeightSchedule::all_kinds`]).
    pub fn known_kinds(&self) -> Result<flex_engine::WeightTable, ConfigError> {
        use flex_ingest::WeightSchedule;
        Ok(self.weight_schedule()?.all_kinds())
    }
}

struct Reader<'a> {
    file: &'a str,
    values: &'a BTreeMap<String, toml::Value>,
    base: &'a Path,
}

impl Reader<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            file: self.file.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.err(key, format!("expected a string, found {}", other.type_str()))),
        }
    }

    fn req_str(&self, key: &str) -> Result<String, ConfigError> {
        self.opt_str(key)?
            .ok_or_else(|| self.err(key, "missing (required)"))
    }

    fn req_path(&self, key: &str) -> Result<PathBuf, ConfigError> {
        Ok(self.base.join(self.req_str(key)?))
    }

    fn opt_int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i)),
            Some(toml::Value::Integer(i)) => Err(self.err(key, format!("{i} is negative"))),
            Some(other) => Err(self.err(key, format!("expected an integer, found {}", other.type_str()))),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(self.err(key, format!("expected strings, found {}", other.type_str()))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.err(
                key,
                format!("expected a list of strings, found {}", other.type_str()),
            )),
        }
    }

    /// `protocol.weights = FILE` (one version from epoch 0), or `[[protocol.weight_versions]]`
    /// tables of `from_epoch` and `file`, the first from epoch 0, strictly ascending.
    fn weight_versions(&self) -> Result<Vec<(u64, PathBuf)>, ConfigError> {
        const KEY: &str = "protocol.weight_versions";
        let single = self.opt_str("protocol.weights")?;
        let list = match self.values.get(KEY) {
            None => {
                let f = single.ok_or_else(|| {
                    self.err(
                        "protocol.weights",
                        "missing (required unless protocol.weight_versions lists the versions)",
                    )
                })?;
                return Ok(vec![(0, self.base.join(f))]);
            }
            Some(_) if single.is_some() => {
                return Err(self.err(
                    KEY,
                    "give either protocol.weights (one table for every epoch) or protocol.weight_versions, not both",
                ))
            }
            Some(toml::Value::Array(a)) if !a.is_empty() => a,
            Some(other) => {
                return Err(self.err(
                    KEY,
                    format!(
                        "expected [[protocol.weight_versions]] tables of from_epoch and file, found {}",
                        if other.is_array() { "an empty list" } else { other.type_str() }
                    ),
                ))
            }
        };
        let mut out: Vec<(u64, PathBuf)> = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let at = |k: &str| format!("{KEY}[{i}]{k}");
            let t = v
                .as_table()
                .ok_or_else(|| self.err(&at(""), format!("expected a table, found {}", v.type_str())))?;
            if let Some(k) = t.keys().find(|k| !matches!(k.as_str(), "from_epoch" | "file")) {
                return Err(self.err(&at(&format!(".{k}")), "unknown key (known: from_epoch, file)"));
            }
            let from_epoch = match t.get("from_epoch") {
                Some(toml::Value::Integer(e)) if *e >= 0 => *e as u64,
                Some(other) => {
                    return Err(self.err(
                        &at(".from_epoch"),
                        format!("expected an epoch number (>= 0), found {other}"),
                    ))
                }
                None => return Err(self.err(&at(".from_epoch"), "missing")),
            };
            let file = match t.get("file") {
                Some(toml::Value::String(f)) => self.base.join(f),
                Some(other) => {
                    return Err(self.err(
                        &at(".file"),
                        format!("expected a file name, found {}", other.type_str()),
                    ))
                }
                None => return Err(self.err(&at(".file"), "missing")),
            };
            match out.last() {
                None if from_epoch != 0 => {
                    return Err(self.err(
                        &at(".from_epoch"),
                        format!("{from_epoch}: the first version must start at epoch 0"),
                    ))
                }
                Some((prev, _)) if from_epoch <= *prev => {
                    return Err(self.err(
                        &at(".from_epoch"),
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

    fn paths(&self, key: &str) -> Result<Vec<PathBuf>, ConfigError> {
        match self.values.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::String(s)) => Ok(vec![self.base.join(s)]),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(self.base.join(s)),
                    other => Err(self.err(key, format!("expected file names, found {}", other.type_str()))),
                })
                .collect(),
            Some(other) => Err(self.err(
                key,
                format!("expected a file name or a list, found {}", other.type_str()),
            )),
        }
    }
}

/// A 32-byte account as `0x` + 64 hex digits.
pub fn parse_account(s: &str) -> Result<[u8; 32], String> {
    let digits = s
        .trim()
        .strip_prefix("0x")
        .ok_or_else(|| format!("{s:?} is not 0x + 64 hex digits"))?;
    let bytes = hex::decode(digits).map_err(|_| format!("{s:?} is not 0x + 64 hex digits"))?;
    <[u8; 32]>::try_from(bytes).map_err(|_| format!("{s:?} is not 0x + 64 hex digits"))
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
        assert_eq!(c.claim_price, 500_000_000_000_000_000);
        assert_eq!(c.pool_files, vec![PathBuf::from("/etc/flex/pool.json")]);
        assert_eq!(c.store_path, PathBuf::from("/etc/flex/keeper.db"));
        assert_eq!(c.contract, [0x11; 32]);
        assert!(c.listen.is_none());
    }

    #[test]
    fn offchain_attesters_kinds_and_files() {
        let text = format!(
            "{GOOD}[offchain]\nattesters = [\"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"]\nkinds = [\"post\"]\nfiles = [\"signed\"]\n"
        );
        let c = parse(&text, &[]).unwrap();
        assert_eq!(c.offchain_attesters.len(), 1);
        assert_eq!(c.offchain_attesters[0][0], 0xf3);
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
        assert_eq!(c.offchain_attesters, vec![[0x11; 20], [0x22; 20]]);
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
        assert!(e.contains("protocol.weight_versions[1].path: unknown key"), "{e}");
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
}
