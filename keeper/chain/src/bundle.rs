//! ink! `.contract` bundles: the Wasm code plus the metadata we need to call it.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read contract bundle {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("contract bundle {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("contract bundle {path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("contract {contract} has no {kind} named '{label}'")]
    Unknown {
        contract: String,
        kind: &'static str,
        label: String,
    },
}

/// One contract's code and call metadata, read from a `cargo contract build` bundle.
#[derive(Debug, Clone)]
pub struct ContractBundle {
    pub name: String,
    pub wasm: Vec<u8>,
    pub code_hash: [u8; 32],
    metadata: Value,
}

impl ContractBundle {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BundleError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BundleError::Read {
            path: path.into(),
            source,
        })?;
        let metadata: Value = serde_json::from_str(&text).map_err(|source| BundleError::Json {
            path: path.into(),
            source,
        })?;
        let invalid = |what: &str| BundleError::Invalid {
            path: path.into(),
            what: what.to_string(),
        };
        let name = metadata["contract"]["name"]
            .as_str()
            .ok_or_else(|| invalid("no contract.name"))?;
        let wasm = metadata["source"]["wasm"]
            .as_str()
            .ok_or_else(|| invalid("no source.wasm"))?;
        let wasm = decode_hex(wasm).ok_or_else(|| invalid("source.wasm is not hex"))?;
        let hash = metadata["source"]["hash"]
            .as_str()
            .ok_or_else(|| invalid("no source.hash"))?;
        let code_hash = decode_hex(hash)
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .ok_or_else(|| invalid("source.hash is not 32 bytes of hex"))?;
        Ok(Self {
            name: name.to_string(),
            wasm,
            code_hash,
            metadata,
        })
    }

    /// The bundle's JSON metadata (spec, types, ...).
    pub fn metadata(&self) -> &Value {
        &self.metadata
    }

    /// The selector of the constructor with this label (e.g. `new`).
    pub fn constructor(&self, label: &str) -> Result<[u8; 4], BundleError> {
        self.selector("constructors", "constructor", label)
    }

    /// The selector of the message with this label (e.g. `PSP22::transfer`).
    pub fn message(&self, label: &str) -> Result<[u8; 4], BundleError> {
        self.selector("messages", "message", label)
    }

    /// The signature topic (topic 0) of the event with this label.
    pub fn event_topic(&self, label: &str) -> Result<[u8; 32], BundleError> {
        let unknown = || BundleError::Unknown {
            contract: self.name.clone(),
            kind: "event",
            label: label.to_string(),
        };
        let events = self.metadata["spec"]["events"].as_array().ok_or_else(unknown)?;
        events
            .iter()
            .find(|e| e["label"].as_str() == Some(label))
            .and_then(|e| e["signature_topic"].as_str())
            .and_then(decode_hex)
            .and_then(|t| <[u8; 32]>::try_from(t).ok())
            .ok_or_else(unknown)
    }

    /// The name of a contract error from a reverted message's output: ink! messages returning
    /// `Result<T, E>` revert with `Ok(Err(e))` (SCALE: `00 01 <variant index> ...`); `E` is the
    /// enum named `error_type` (last path segment, e.g. `Error`) in the bundle's type registry.
    pub fn error_variant(&self, error_type: &str, output: &[u8]) -> Option<String> {
        match output {
            [0, 1, index, ..] => self.variant_name(error_type, *index),
            _ => None,
        }
    }

    /// The name of variant `index` of the enum whose path ends in `type_name`.
    pub fn variant_name(&self, type_name: &str, index: u8) -> Option<String> {
        self.metadata["types"].as_array()?.iter().find_map(|t| {
            let ty = &t["type"];
            let path = ty["path"].as_array()?;
            if path.last()?.as_str()? != type_name {
                return None;
            }
            ty["def"]["variant"]["variants"].as_array()?.iter().find_map(|v| {
                (v["index"].as_u64()? == u64::from(index)).then(|| v["name"].as_str().map(str::to_string))?
            })
        })
    }

    /// Decodes a message's whole SCALE output (ink!'s `Result<T, LangError>`) by the message's
    /// return type in the bundle's type registry: a value whose variants and fields carry the
    /// metadata's names (`Ok(Ok([Ok(()), Err(AlreadyClaimed)]))` for `claim_batch`). Trailing
    /// bytes are an error.
    pub fn decode_output(
        &self,
        label: &str,
        output: &[u8],
    ) -> Result<subxt::ext::scale_value::Value<()>, BundleError> {
        let invalid = |what: String| BundleError::Invalid {
            path: self.name.clone().into(),
            what,
        };
        let message = self.metadata["spec"]["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["label"].as_str() == Some(label)))
            .ok_or_else(|| BundleError::Unknown {
                contract: self.name.clone(),
                kind: "message",
                label: label.to_string(),
            })?;
        let ty = message["returnType"]["type"]
            .as_u64()
            .and_then(|t| u32::try_from(t).ok())
            .ok_or_else(|| invalid(format!("message {label} has no return type id")))?;
        let registry: scale_info::PortableRegistry =
            serde_json::from_value(serde_json::json!({ "types": self.metadata["types"] }))
                .map_err(|e| invalid(format!("the type registry does not parse: {e}")))?;
        let mut input = output;
        let value = subxt::ext::scale_value::scale::decode_as_type(&mut input, ty, &registry)
            .map_err(|e| invalid(format!("{label}'s output does not decode: {e}")))?;
        if !input.is_empty() {
            return Err(invalid(format!(
                "{label}'s output has {} bytes left over",
                input.len()
            )));
        }
        Ok(value.remove_context())
    }

    fn selector(&self, section: &str, kind: &'static str, label: &str) -> Result<[u8; 4], BundleError> {
        let unknown = || BundleError::Unknown {
            contract: self.name.clone(),
            kind,
            label: label.to_string(),
        };
        let items = self.metadata["spec"][section].as_array().ok_or_else(unknown)?;
        items
            .iter()
            .find(|m| m["label"].as_str() == Some(label))
            .and_then(|m| m["selector"].as_str())
            .and_then(decode_hex)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .ok_or_else(unknown)
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    // ink! metadata writes `0x`; a bare hex string is read too.
    flex_types::hex::decode_vec(&format!("0x{}", s.strip_prefix("0x").unwrap_or(s))).ok()
}
