//! The model file, version 1 (all integers little-endian):
//!
//! ```text
//! magic    8 bytes   "FLXFCST\0"
//! version  u32       1
//! hlen     u32       length of the header
//! header   hlen      JSON: config, index name, columns, normalisation, per target: name, column,
//!                    shape, parameter count, training stats, evaluation
//! count    u64       number of f32 parameters that follow (all targets, in header order)
//! params   4 * count f32 bits
//! checksum 32 bytes  SHA3-256 of every byte before it
//! ```
//!
//! Loading checks magic, version, lengths, checksum and that each target's parameter count
//! matches its shape, and names the file in every error.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};

use crate::forecaster::{Evaluation, ForecastConfig, Forecaster, TargetModel, TrainStats};
use crate::nn::{Layout, Network, Shape};
use crate::prep::Normaliser;
use crate::ForecastError;

pub const MAGIC: &[u8; 8] = b"FLXFCST\0";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    config: ForecastConfig,
    index_name: String,
    columns: Vec<String>,
    norm: Normaliser,
    models: Vec<ModelHeader>,
}

#[derive(Serialize, Deserialize)]
struct ModelHeader {
    target: String,
    column: usize,
    shape: Shape,
    params: usize,
    train: TrainStats,
    evaluation: Evaluation,
}

/// Serialises a forecaster into the version-1 format.
pub fn to_bytes(f: &Forecaster) -> Vec<u8> {
    let header = Header {
        config: f.config.clone(),
        index_name: f.index_name.clone(),
        columns: f.columns.clone(),
        norm: f.norm.clone(),
        models: f
            .models
            .iter()
            .map(|m| ModelHeader {
                target: m.target.clone(),
                column: m.column,
                shape: m.net.shape,
                params: m.net.params.len(),
                train: m.train.clone(),
                evaluation: m.evaluation.clone(),
            })
            .collect(),
    };
    // Serialising plain data structures to a Vec cannot fail.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    let count: usize = f.models.iter().map(|m| m.net.params.len()).sum();
    let mut out = Vec::with_capacity(8 + 4 + 4 + json.len() + 8 + 4 * count + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(count as u64).to_le_bytes());
    for m in &f.models {
        for p in &m.net.params {
            out.extend_from_slice(&p.to_bits().to_le_bytes());
        }
    }
    let sum = Sha3_256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Parses the version-1 format; `file` names the source in errors.
pub fn from_bytes(file: &Path, bytes: &[u8]) -> Result<Forecaster, ForecastError> {
    let bad = |message: String| ForecastError::Format {
        file: file.to_owned(),
        message,
    };
    if bytes.len() < 8 + 4 + 4 + 8 + 32 {
        return Err(bad(format!(
            "{} bytes is too short for a model file",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(bad("not a flex-forecast model (bad magic)".into()));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha3_256::digest(body).as_slice() != sum {
        return Err(bad("checksum mismatch: the file is corrupt or truncated".into()));
    }
    let mut at = 8;
    let mut take = |n: usize, what: &str| -> Result<&[u8], ForecastError> {
        let s = body
            .get(at..at + n)
            .ok_or_else(|| bad(format!("truncated in {what}")))?;
        at += n;
        Ok(s)
    };
    let word = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let version = word(take(4, "version")?);
    if version != VERSION {
        return Err(bad(format!(
            "model format version {version}; this keeper reads version {VERSION}"
        )));
    }
    let hlen = word(take(4, "header length")?) as usize;
    let header: Header =
        serde_json::from_slice(take(hlen, "header")?).map_err(|e| bad(format!("header: {e}")))?;
    let c = take(8, "parameter count")?;
    let count = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let count = usize::try_from(count).map_err(|_| bad(format!("parameter count {count} too large")))?;
    let raw = take(
        count
            .checked_mul(4)
            .ok_or_else(|| bad("parameter count overflows".into()))?,
        "parameters",
    )?;
    if at != body.len() {
        return Err(bad(format!(
            "{} unexpected bytes before the checksum",
            body.len() - at
        )));
    }
    let mut params = raw
        .chunks_exact(4)
        .map(|b| f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    let mut models = Vec::new();
    for (k, m) in header.models.into_iter().enumerate() {
        let want = Layout::new(m.shape).len;
        if m.params != want {
            return Err(bad(format!(
                "model #{k} ({}): {} parameters, its shape needs {want}",
                m.target, m.params
            )));
        }
        if m.column >= header.columns.len() || m.shape.input != header.columns.len() {
            return Err(bad(format!(
                "model #{k} ({}): column or input width does not match the columns",
                m.target
            )));
        }
        let p: Vec<f32> = params.by_ref().take(want).collect();
        if p.len() != want {
            return Err(bad(format!("model #{k} ({}): parameters run out", m.target)));
        }
        models.push(TargetModel {
            target: m.target,
            column: m.column,
            net: Network {
                shape: m.shape,
                params: p,
            },
            train: m.train,
            evaluation: m.evaluation,
        });
    }
    if params.next().is_some() {
        return Err(bad("more parameters than the models use".into()));
    }
    if header.norm.mean.len() != header.columns.len()
        || header.norm.std.len() != header.columns.len()
        || !(header.norm.log1p.is_empty() || header.norm.log1p.len() == header.columns.len())
    {
        return Err(bad("normalisation does not cover every column".into()));
    }
    Ok(Forecaster {
        config: header.config,
        index_name: header.index_name,
        columns: header.columns,
        norm: header.norm,
        models,
    })
}

pub fn save(f: &Forecaster, path: &Path) -> Result<(), ForecastError> {
    std::fs::write(path, to_bytes(f)).map_err(|source| ForecastError::Io {
        file: path.to_owned(),
        source,
    })
}

pub fn load(path: &Path) -> Result<Forecaster, ForecastError> {
    let bytes = std::fs::read(path).map_err(|source| ForecastError::Io {
        file: path.to_owned(),
        source,
    })?;
    from_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::History;

    fn model() -> Forecaster {
        let h = History::synthetic(60, 2);
        let c = ForecastConfig {
            window: 5,
            epochs: 2,
            hidden1: 6,
            hidden2: 3,
            ..ForecastConfig::default()
        };
        Forecaster::train(&h, &["reward_per_active".into(), "active".into()], &c).unwrap()
    }

    #[test]
    fn round_trip_is_exact() {
        let f = model();
        let bytes = to_bytes(&f);
        let back = from_bytes(Path::new("m.bin"), &bytes).unwrap();
        assert_eq!(back, f);
        assert_eq!(to_bytes(&back), bytes);
        let dir = std::env::temp_dir().join(format!("flex-forecast-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.flxf");
        save(&f, &path).unwrap();
        assert_eq!(load(&path).unwrap(), f);
        let h = History::synthetic(60, 2);
        assert_eq!(load(&path).unwrap().predict(&h).unwrap(), f.predict(&h).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corruption_is_detected_and_named() {
        let bytes = to_bytes(&model());
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        let e = from_bytes(Path::new("m.bin"), &flipped).unwrap_err().to_string();
        assert!(e.contains("m.bin") && e.contains("checksum"), "{e}");
        let e = from_bytes(Path::new("m.bin"), &bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum"), "{e}");
        let e = from_bytes(Path::new("m.bin"), &[b'x'; 100]).unwrap_err();
        assert!(e.to_string().contains("magic"), "{e}");
        // A future version with a valid checksum is refused by version.
        let mut v2 = bytes[..bytes.len() - 32].to_vec();
        v2[8] = 2;
        let sum = Sha3_256::digest(&v2);
        v2.extend_from_slice(&sum);
        let e = from_bytes(Path::new("m.bin"), &v2).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
    }
}
