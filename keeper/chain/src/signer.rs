//! The sr25519 keys that sign transactions: a secret URI (`//Alice`, a `0x` seed, a mnemonic with
//! an optional derivation path) read from a key file that only its owner may read
//! ([`flex_types::secret`]) or from an environment variable, never a default.

use std::path::Path;
use std::str::FromStr;

use subxt_signer::SecretUri;

use crate::client::Keypair;

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error(transparent)]
    File(#[from] flex_types::secret::SecretFileError),
    #[error("{origin}: not a secret URI (//Name, 0x seed or mnemonic)")]
    NotUri { origin: String },
    #[error("{origin}: not a valid sr25519 secret")]
    Invalid { origin: String },
    #[error("{origin} is empty")]
    Empty { origin: String },
}

/// A keypair from a secret URI; `origin` names where it came from in errors (never the secret).
pub fn keypair_from_uri(secret: &str, origin: &str) -> Result<Keypair, SignerError> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(SignerError::Empty {
            origin: origin.to_string(),
        });
    }
    let uri = SecretUri::from_str(secret).map_err(|_| SignerError::NotUri {
        origin: origin.to_string(),
    })?;
    Keypair::from_uri(&uri).map_err(|_| SignerError::Invalid {
        origin: origin.to_string(),
    })
}

/// The keypair whose secret URI is in `path` (mode 0600 or stricter on Unix).
pub fn keypair_from_file(path: &Path) -> Result<Keypair, SignerError> {
    let secret = flex_types::secret::read_secret_file(path)?;
    keypair_from_uri(&secret, &path.display().to_string())
}

/// The keypair in environment variable `var`, `None` when it is unset or empty.
pub fn keypair_from_env(var: &str) -> Result<Option<Keypair>, SignerError> {
    match std::env::var(var) {
        Ok(s) if !s.trim().is_empty() => keypair_from_uri(&s, var).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_files() {
        let alice = keypair_from_uri("//Alice\n", "x").unwrap();
        assert_eq!(
            crate::account_of(&alice).to_string(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        let e = keypair_from_uri("  ", "--key-file k").unwrap_err().to_string();
        assert_eq!(e, "--key-file k is empty");
        let dir = std::env::temp_dir().join(format!("flex-chain-signer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k");
        flex_types::secret::write_secret_file(&file, "//Bob").unwrap();
        let bob = keypair_from_file(&file).unwrap();
        assert_eq!(
            bob.public_key().0,
            subxt_signer::sr25519::dev::bob().public_key().0
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = keypair_from_file(&file).unwrap_err().to_string();
            assert!(e.contains("chmod 600"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
