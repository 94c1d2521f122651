//! The local-mode KEK: key files in a directory. For `portal local` and tests
//! only; in Azure the KEK lives in Key Vault ([`KeyVaultWrapper`](crate::KeyVaultWrapper)).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use async_trait::async_trait;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap as _};
use zeroize::Zeroize;

use crate::error::WrapError;
use crate::key::{DataKey, KeyWrapper, WrappedKey};

const KEK_LEN: usize = 32;
/// AES-KW adds one 64-bit integrity block.
const WRAPPED_LEN: usize = DataKey::LEN + 8;

/// KEK versions as files `<dir>/kek-<n>.key` (32 random bytes each, mode 0600
/// in a 0700 directory on unix), data keys wrapped with AES-256 key wrap
/// (RFC 3394 / NIST SP 800-38F, aws-lc). Version 1 is created on first open;
/// [`rotate`](Self::rotate) adds version n+1 and new keys are wrapped under the
/// newest. Old versions are kept: wrapped keys name the version they need.
///
/// The key files sit on the same disk as the data they protect, so this adapter
/// guards against nothing but mistakes; it exists so that local runs exercise
/// the same code path as Key Vault.
#[derive(Debug)]
pub struct LocalKeyFile {
    dir: PathBuf,
    versions: RwLock<BTreeMap<u32, Kek>>,
}

struct Kek(Box<[u8; KEK_LEN]>);

impl Drop for Kek {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl LocalKeyFile {
    /// The KEK id recorded beside every key this adapter wraps.
    pub const KEK_ID: &'static str = "local";

    /// Opens the key directory (e.g. `<data_dir>/keys`), creating it (0700) and
    /// the first KEK version (0600) if needed. Blocking file I/O: call at start-up.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, WrapError> {
        let dir = dir.into();
        create_private_dir(&dir).map_err(WrapError::backend)?;
        let mut versions = BTreeMap::new();
        for entry in fs::read_dir(&dir).map_err(WrapError::backend)? {
            let entry = entry.map_err(WrapError::backend)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(".kek-") && name.ends_with(".tmp") {
                // Left by a crash before the link below; never used to wrap anything.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(version) = version_of_file(name) {
                versions.insert(version, read_kek(&entry.path())?);
            }
        }
        let keys = Self { dir, versions: RwLock::new(versions) };
        if keys.read().is_empty() {
            keys.rotate()?;
        }
        Ok(keys)
    }

    /// Creates KEK version n+1 and makes it current; returns its version.
    /// Blocking file I/O (a few small writes).
    pub fn rotate(&self) -> Result<String, WrapError> {
        let mut versions = self.versions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = versions.keys().next_back().map_or(1, |v| v + 1);
        let kek = write_new_kek(&self.dir, next)?;
        versions.insert(next, kek);
        tracing::info!(version = next, "created a new local key-encryption key version");
        Ok(next.to_string())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, Kek>> {
        self.versions.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unknown(version: &str) -> WrapError {
        WrapError::UnknownKek { kek_id: Self::KEK_ID.into(), version: version.into() }
    }

    /// The KEK bytes of `version`, loading a file another process created since we opened.
    fn kek(&self, version: u32) -> Result<AesKek, WrapError> {
        if let Some(kek) = self.read().get(&version) {
            return AesKek::new(&AES_256, &kek.0[..]).map_err(|_| WrapError::Rejected);
        }
        let path = self.dir.join(file_name(version));
        if !path.exists() {
            return Err(Self::unknown(&version.to_string()));
        }
        let kek = read_kek(&path)?;
        let aes = AesKek::new(&AES_256, &kek.0[..]).map_err(|_| WrapError::Rejected)?;
        self.versions.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(version, kek);
        Ok(aes)
    }
}

#[async_trait]
impl KeyWrapper for LocalKeyFile {
    fn kek_id(&self) -> &str {
        Self::KEK_ID
    }

    async fn current_version(&self) -> Result<String, WrapError> {
        let versions = self.read();
        let current = versions.keys().next_back().ok_or_else(|| Self::unknown("current"))?;
        Ok(current.to_string())
    }

    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError> {
        let current = {
            let versions = self.read();
            *versions.keys().next_back().ok_or_else(|| Self::unknown("current"))?
        };
        let mut out = vec![0; WRAPPED_LEN];
        self.kek(current)?
            .wrap(key.expose_secret(), &mut out)
            .map_err(|_| WrapError::backend(io::Error::other("AES key wrap failed")))?;
        Ok(WrappedKey { kek_id: Self::KEK_ID.into(), kek_version: current.to_string(), bytes: out })
    }

    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        if wrapped.kek_id != Self::KEK_ID {
            return Err(WrapError::UnknownKek { kek_id: wrapped.kek_id.clone(), version: wrapped.kek_version.clone() });
        }
        let version = parse_version(&wrapped.kek_version).ok_or_else(|| Self::unknown(&wrapped.kek_version))?;
        let kek = self.kek(version)?;
        if wrapped.bytes.len() != WRAPPED_LEN {
            return Err(WrapError::Rejected);
        }
        let mut out = [0; WRAPPED_LEN];
        let key = kek
            .unwrap(&wrapped.bytes, &mut out)
            .ok()
            .and_then(|plain| DataKey::from_slice(plain))
            .ok_or(WrapError::Rejected);
        out.zeroize();
        key
    }
}

fn file_name(version: u32) -> String {
    format!("kek-{version}.key")
}

/// `kek-<n>.key` with n a decimal ≥ 1 without leading zeros.
fn version_of_file(name: &str) -> Option<u32> {
    parse_version(name.strip_prefix("kek-")?.strip_suffix(".key")?)
}

fn parse_version(text: &str) -> Option<u32> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn read_kek(path: &Path) -> Result<Kek, WrapError> {
    warn_if_readable_by_others(path);
    let mut bytes = fs::read(path).map_err(WrapError::backend)?;
    let kek = if bytes.len() == KEK_LEN {
        let mut kek = Kek(Box::new([0; KEK_LEN]));
        kek.0.copy_from_slice(&bytes);
        Ok(kek)
    } else {
        Err(WrapError::backend(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a {KEK_LEN}-byte key", path.display()),
        )))
    };
    bytes.zeroize();
    kek
}

/// Writes the new version to a temporary file, flushes it, then hard-links it
/// into place, which fails rather than overwrites if another process made the
/// same version first (a renamed-over KEK would lose every key wrapped by it).
fn write_new_kek(dir: &Path, version: u32) -> Result<Kek, WrapError> {
    let mut kek = Kek(Box::new([0; KEK_LEN]));
    aws_lc_rs::rand::fill(&mut kek.0[..])
        .map_err(|_| WrapError::backend(io::Error::other("the random number generator failed")))?;
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix)
        .map_err(|_| WrapError::backend(io::Error::other("the random number generator failed")))?;
    let suffix = portal_store::lower_hex(&suffix);
    let temp = dir.join(format!(".kek-{version}.{suffix}.tmp"));
    let target = dir.join(file_name(version));
    let result = (|| {
        let mut file = private_file_options().open(&temp)?;
        file.write_all(&kek.0[..])?;
        file.sync_all()?;
        drop(file);
        fs::hard_link(&temp, &target)?;
        sync_dir(dir)
    })();
    let _ = fs::remove_file(&temp);
    result.map_err(WrapError::backend)?;
    Ok(kek)
}

#[cfg(unix)]
fn private_file_options() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    options
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "a key-encryption key file is readable by other users");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("portal-crypto-").tempdir().expect("temp dir")
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let temp = temp_dir();
        let dir = temp.path().join("data").join("keys");
        let keys = LocalKeyFile::open(&dir).expect("open");
        keys.rotate().expect("rotate");
        assert_eq!(fs::metadata(&dir).expect("dir").permissions().mode() & 0o777, 0o700);
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("entry");
            assert_eq!(entry.metadata().expect("meta").permissions().mode() & 0o777, 0o600);
            assert_eq!(entry.metadata().expect("meta").len(), 32);
            names.push(entry.file_name().into_string().expect("utf-8"));
        }
        names.sort();
        assert_eq!(names, ["kek-1.key", "kek-2.key"]);
    }

    #[tokio::test]
    async fn keys_survive_reopening_and_rotation() {
        let temp = temp_dir();
        let data_key = DataKey::generate().expect("rng");
        let wrapped = {
            let keys = LocalKeyFile::open(temp.path()).expect("open");
            assert_eq!(keys.current_version().await.expect("version"), "1");
            keys.wrap(&data_key).await.expect("wrap")
        };
        assert_eq!((wrapped.kek_id.as_str(), wrapped.kek_version.as_str()), ("local", "1"));
        assert_eq!(wrapped.bytes.len(), 40);

        let keys = LocalKeyFile::open(temp.path()).expect("reopen");
        assert_eq!(keys.unwrap(&wrapped).await.expect("unwrap after reopen"), data_key);
        assert_eq!(keys.rotate().expect("rotate"), "2");
        assert_eq!(keys.current_version().await.expect("version"), "2");
        assert_eq!(keys.unwrap(&wrapped).await.expect("version 1 after rotation"), data_key);
        let rewrapped = keys.wrap(&data_key).await.expect("wrap");
        assert_eq!(rewrapped.kek_version, "2");
        assert_ne!(rewrapped.bytes, wrapped.bytes);

        let reopened = LocalKeyFile::open(temp.path()).expect("reopen");
        assert_eq!(reopened.current_version().await.expect("version"), "2");
        assert_eq!(reopened.unwrap(&rewrapped).await.expect("unwrap v2"), data_key);
    }

    #[tokio::test]
    async fn a_version_created_by_another_process_is_loaded_on_demand() {
        let temp = temp_dir();
        let first = LocalKeyFile::open(temp.path()).expect("open");
        let second = LocalKeyFile::open(temp.path()).expect("open again");
        second.rotate().expect("rotate");
        let data_key = DataKey::generate().expect("rng");
        let wrapped = second.wrap(&data_key).await.expect("wrap");
        assert_eq!(first.unwrap(&wrapped).await.expect("unwrap"), data_key);
    }

    #[tokio::test]
    async fn concurrent_rotation_never_overwrites_a_version() {
        let temp = temp_dir();
        let first = LocalKeyFile::open(temp.path()).expect("open");
        let second = LocalKeyFile::open(temp.path()).expect("open again");
        first.rotate().expect("first rotation");
        assert!(second.rotate().is_err(), "version 2 exists already");
        let data_key = DataKey::generate().expect("rng");
        let wrapped = first.wrap(&data_key).await.expect("wrap");
        assert_eq!(LocalKeyFile::open(temp.path()).expect("reopen").unwrap(&wrapped).await.expect("unwrap"), data_key);
    }

    #[tokio::test]
    async fn bad_wrapped_keys_are_rejected() {
        let temp = temp_dir();
        let keys = LocalKeyFile::open(temp.path()).expect("open");
        let wrapped = keys.wrap(&DataKey::generate().expect("rng")).await.expect("wrap");
        let mut altered = wrapped.clone();
        altered.bytes[5] ^= 1;
        assert!(matches!(keys.unwrap(&altered).await, Err(WrapError::Rejected)));
        let short = WrappedKey { bytes: wrapped.bytes[..39].to_vec(), ..wrapped.clone() };
        assert!(matches!(keys.unwrap(&short).await, Err(WrapError::Rejected)));
        for version in ["", "0", "01", "7", "latest", "-1"] {
            let other = WrappedKey { kek_version: version.into(), ..wrapped.clone() };
            assert!(matches!(keys.unwrap(&other).await, Err(WrapError::UnknownKek { .. })), "{version:?}");
        }
        let foreign = WrappedKey { kek_id: "https://kv/keys/x".into(), ..wrapped };
        assert!(matches!(keys.unwrap(&foreign).await, Err(WrapError::UnknownKek { .. })));
    }
}
