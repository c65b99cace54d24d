//! Config sections: serde-derived structs (`#[serde(deny_unknown_fields)]`) read from TOML, then
//! one validation step per section. Every error names the key at fault as a path
//! (`evm[1].map[0].wallet`); the runner's config adds the file.
//!
//! The checks every section shares live here once: [`required`] strings (trimmed, never empty),
//! [`non_negative`] integers, [`address`]es and [`account`]s, [`source_name`] rules, and
//! [`deserialize`], which turns serde's errors into a [`KeyError`] with the key's path.

use serde::de::DeserializeOwned;

/// A key of a config section that is wrong, missing or unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{key}: {message}")]
    Key { key: String, message: String },
    #[error("unknown key {key} (known: {known})")]
    Unknown { key: String, known: String },
}

impl KeyError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyError::Key {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key at fault.
    pub fn key(&self) -> &str {
        match self {
            KeyError::Key { key, .. } | KeyError::Unknown { key, .. } => key,
        }
    }

    /// The same error for a key under `prefix` (`map[0].wallet` under `evm[1]`).
    pub fn under(self, prefix: &str) -> Self {
        let join = |key: String| {
            if prefix.is_empty() {
                key
            } else if key.is_empty() || key.starts_with('[') {
                format!("{prefix}{key}")
            } else {
                format!("{prefix}.{key}")
            }
        };
        match self {
            KeyError::Key { key, message } => KeyError::Key {
                key: join(key),
                message,
            },
            KeyError::Unknown { key, known } => KeyError::Unknown {
                key: join(key),
                known,
            },
        }
    }
}

/// Deserializes `value` into a section type; an error names the key's path (`evm[0].surprise`).
pub fn deserialize<T: DeserializeOwned>(value: toml::Value) -> Result<T, KeyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        // toml appends the key's context on a second line ("in `evm.map`"): the path says it.
        let message = e.inner().to_string();
        let message = message.lines().next().unwrap_or_default().to_string();
        match message.strip_prefix("unknown field `") {
            Some(rest) => KeyError::Unknown {
                key,
                known: known_fields(rest),
            },
            None => KeyError::Key { key, message },
        }
    })
}

/// `a, b, c` from the end of serde's "unknown field `x`, expected one of `a`, `b`, `c`" (or
/// "expected `a` or `b`", or "there are no fields").
fn known_fields(rest: &str) -> String {
    let Some((_, list)) = rest.split_once("expected ") else {
        return String::new();
    };
    list.trim_start_matches("one of ")
        .replace(" or ", ", ")
        .replace('`', "")
}

/// A required string: trimmed, present and not empty.
pub fn required(key: &str, value: Option<&String>) -> Result<String, KeyError> {
    match value.map(|s| s.trim()) {
        None => Err(KeyError::new(key, "missing (required)")),
        Some("") => Err(KeyError::new(key, "empty")),
        Some(s) => Ok(s.to_string()),
    }
}

/// A 20-byte address (`0x` + 40 hex digits, any case), whitespace around it ignored.
pub fn address(key: &str, text: &str) -> Result<flex_types::Address, KeyError> {
    text.trim()
        .parse()
        .map_err(|e| KeyError::new(key, format!("{text:?} is not an address: {e}")))
}

/// A 32-byte chain account: `0x` + 64 hex digits or SS58 of any network (checksum checked),
/// whitespace around it ignored.
pub fn account(key: &str, text: &str) -> Result<flex_types::AccountId, KeyError> {
    text.trim()
        .parse()
        .map_err(|e| KeyError::new(key, format!("{text:?} is {e}")))
}

/// An optional integer that must not be negative.
pub fn non_negative(key: &str, value: Option<i64>) -> Result<Option<u64>, KeyError> {
    match value {
        None => Ok(None),
        Some(i) => u64::try_from(i)
            .map(Some)
            .map_err(|_| KeyError::new(key, format!("{i} is negative"))),
    }
}

/// A source's `name`: letters, digits, `-` and `_` (it names environment variables and store keys),
/// unique among `taken` (the names of the sections before it, with their keys).
pub fn source_name(key: &str, name: Option<&String>, taken: &[(String, String)]) -> Result<String, KeyError> {
    let name = required(key, name)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(KeyError::new(
            key,
            format!("{name:?}: use letters, digits, - and _"),
        ));
    }
    if let Some((_, other)) = taken.iter().find(|(n, _)| *n == name) {
        return Err(KeyError::new(
            key,
            format!("{name:?} is also the name of {other}"),
        ));
    }
    Ok(name)
}

/// The environment variable overriding a source section's key: `FLEX_<SECTION>_<NAME>_<KEY>`
/// (name upper-cased, `-` as `_`), e.g. `FLEX_EVM_MAINNET_URL`.
pub fn env_var(section: &str, name: &str, key: &str) -> String {
    format!(
        "FLEX_{}_{}_{}",
        section.to_uppercase(),
        name.to_uppercase().replace('-', "_"),
        key.to_uppercase()
    )
}

/// Where a source map finds the wallet: a parameter or field by name, or a topic by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletRef {
    Name(String),
    Index(i64),
}

impl<'de> serde::Deserialize<'de> for WalletRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WalletRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a parameter or field name, or a topic index (1, 2, ...)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WalletRef, E> {
                Ok(WalletRef::Name(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<WalletRef, E> {
                Ok(WalletRef::Index(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WalletRef, E> {
                Ok(WalletRef::Index(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

impl std::fmt::Display for WalletRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalletRef::Name(n) => write!(f, "{n:?}"),
            WalletRef::Index(i) => write!(f, "{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_in_hex_or_ss58_and_addresses() {
        let alice = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
        let from_hex = account("chain.contract", alice).unwrap();
        let from_ss58 = account(
            "chain.contract",
            " 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY ",
        )
        .unwrap();
        assert_eq!(from_hex, from_ss58);
        assert_eq!(from_ss58.to_string(), alice);
        let e = account(
            "chain.contract",
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ",
        )
        .unwrap_err();
        assert_eq!(e.key(), "chain.contract");
        assert!(e.to_string().contains("checksum"), "{e}");
        let e = account("chain.contract", "0x1234").unwrap_err();
        assert_eq!(
            e.to_string(),
            "chain.contract: \"0x1234\" is not 0x + 64 hex digits: expected 0x followed by 64 hex digits, found 6 characters"
        );

        let a = address(
            "evm[0].map[0].contract",
            " 0x5FbDB2315678afecb367f032d93f642f64180aa3",
        )
        .unwrap();
        assert_eq!(a.to_string(), "0x5fbdb2315678afecb367f032d93f642f64180aa3");
        let e = address("offchain.attesters", "0x5FbDB2315678afecb367f032d93f642f64180aaZ").unwrap_err();
        assert_eq!(
            e.to_string(),
            "offchain.attesters: \"0x5FbDB2315678afecb367f032d93f642f64180aaZ\" is not an address: invalid hex digit 'Z'"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Root {
        #[serde(default)]
        evm: Vec<Section>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Section {
        name: Option<String>,
        confirmations: Option<i64>,
        #[serde(default)]
        map: Vec<Map>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Map {
        kind: Option<String>,
        wallet: Option<String>,
    }

    fn parse(text: &str) -> Result<Root, KeyError> {
        deserialize(toml::Value::Table(text.parse().unwrap()))
    }

    #[test]
    fn errors_name_the_path() {
        let e = parse("[[evm]]\nname = 'a'\nsurprise = 1\n").unwrap_err();
        assert_eq!(
            e,
            KeyError::Unknown {
                key: "evm[0].surprise".into(),
                known: "name, confirmations, map".into()
            }
        );
        let e = parse("[[evm]]\n[[evm.map]]\nwho = 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown key evm[0].map[0].who (known: kind, wallet)"
        );
        let e = parse("[[evm]]\nname = 5\n").unwrap_err();
        assert_eq!(e.key(), "evm[0].name");
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = parse("other = 1\n").unwrap_err();
        assert_eq!(e.to_string(), "unknown key other (known: evm)");
    }

    #[test]
    fn shared_checks() {
        assert_eq!(required("a.b", Some(&" x ".to_string())), Ok("x".into()));
        assert_eq!(
            required("a.b", Some(&" ".to_string())).unwrap_err().to_string(),
            "a.b: empty"
        );
        assert_eq!(
            required("a.b", None).unwrap_err().to_string(),
            "a.b: missing (required)"
        );
        assert_eq!(non_negative("k", Some(3)), Ok(Some(3)));
        assert_eq!(
            non_negative("k", Some(-3)).unwrap_err().to_string(),
            "k: -3 is negative"
        );
        let taken = [("main".to_string(), "evm[0]".to_string())];
        assert!(source_name("evm[1].name", Some(&"lo cal".into()), &taken).is_err());
        let e = source_name("evm[1].name", Some(&"main".into()), &taken).unwrap_err();
        assert_eq!(e.to_string(), "evm[1].name: \"main\" is also the name of evm[0]");
        assert_eq!(env_var("evm", "main-net", "url"), "FLEX_EVM_MAIN_NET_URL");
        assert_eq!(
            KeyError::new("wallet", "bad").under("evm[1].map[0]").to_string(),
            "evm[1].map[0].wallet: bad"
        );
    }
}
