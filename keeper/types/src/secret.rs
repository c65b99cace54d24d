//! Secret files (the keeper's key, a wallet's key, the API's TLS key): read only when no one but
//! the owner can read them, as ssh does for its keys. A key readable by the group or others is
//! refused with the command that fixes it, before anything is signed with it.

use std::path::{Path, PathBuf};

/// Why a secret file is not read.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: a secret readable by group or others (mode {mode:04o}); run `chmod 600 {path}` \
         (or `chmod go-rwx`)"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// Checks `path`'s permissions: on Unix, no group or other bits.
pub fn check_secret_file(path: &Path) -> Result<(), SecretFileError> {
    let meta = std::fs::metadata(path).map_err(|source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// The file's text, after [`check_secret_file`].
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    check_secret_file(path)?;
    std::fs::read_to_string(path).map_err(|source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a secret file readable by its owner only (tests, the demo, generated keys).
pub fn write_secret_file(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its mode on open: narrow it as well.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_ref())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_owner_readable_secrets_are_read() {
        let dir = std::env::temp_dir().join(format!("flex-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.key");
        write_secret_file(&path, "//Alice").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_secret_file(&path).unwrap(), "//Alice");
        for mode in [0o640, 0o604, 0o644, 0o666] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = read_secret_file(&path).unwrap_err().to_string();
            assert!(
                e.contains(&format!("mode {mode:04o}"))
                    && e.contains(&format!("chmod 600 {}", path.display())),
                "{e}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), "//Alice");
        // Rewriting narrows an exposed file.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret_file(&path, "//Bob").unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), "//Bob");
        let e = read_secret_file(&dir.join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing: cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
