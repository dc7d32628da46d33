//! [`EncryptedRepository`]: a wrapper that seals every object but the config, key objects and locks, and
//! opens any byte range of a sealed object by reading and decrypting only the blocks that hold it.

use std::sync::Arc;

use super::keys::{KEYS_PREFIX, KdfParams, MasterKey, Password, encode_key, fill_random, new_key_name, open_key};
use super::seal::{self, BLOCK, HEADER_LEN, Header};
use crate::format::{CONFIG_KEY, RepoConfig};
use crate::repo::{ObjectInfo, Properties, PutMode, PutOutcome, Repository, get};
use crate::store::LOCKS_PREFIX;
use crate::{Error, ErrorKind, Result};

/// A repository opened with its master key, and the key object that opened it.
#[derive(Debug, Clone)]
pub struct Unlocked {
    /// The master key.
    pub key: Arc<MasterKey>,
    /// The key object the password opened (`keys/<id>`).
    pub key_name: String,
}

/// Whether `key` is stored in clear: the config (public parameters), key objects (protected by their password)
/// and locks (who uses the repository, read by tools that have no password).
pub fn is_clear(key: &str) -> bool {
    key == CONFIG_KEY || key.starts_with(KEYS_PREFIX) || key.starts_with(LOCKS_PREFIX)
}

/// An encrypted repository over any [`Repository`] (docs/FORMAT.md, "Encrypted repositories").
pub struct EncryptedRepository<R> {
    inner: R,
    key: Arc<MasterKey>,
}

impl<R: Repository> EncryptedRepository<R> {
    /// Opens the encrypted repository in `inner` with `password`, or, when `inner` holds no repository yet,
    /// makes one whose first key object opens with `password` (Argon2id with `params`).
    ///
    /// # Errors
    /// As [`EncryptedRepository::open`]; a location holding other objects; repository errors.
    pub fn open_or_create(inner: R, password: &Password, params: KdfParams) -> Result<(Self, Unlocked)> {
        if inner.size(CONFIG_KEY)?.is_none() {
            if let Some(other) = inner.list("")?.into_iter().find(|o| !o.key.starts_with(KEYS_PREFIX)) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "{} holds objects that are not a tabsnap repository (e.g. {}); choose an empty location",
                        inner.describe(),
                        other.key
                    ),
                ));
            }
            let now = crate::pack::now_ms();
            let config = RepoConfig::new_encrypted(now)?;
            let master = MasterKey::random()?;
            let key_name = new_key_name()?;
            // The key object first: a config is never there without a key that opens it.
            inner.put(&key_name, &encode_key(&master, password, params, &config.id, now)?, PutMode::CreateIfAbsent)?;
            match inner.put(CONFIG_KEY, &config.encode()?, PutMode::CreateIfAbsent)? {
                PutOutcome::Written => {
                    let key = Arc::new(master);
                    return Ok((EncryptedRepository { inner, key: key.clone() }, Unlocked { key, key_name }));
                }
                // Another process made the repository meanwhile: ours is unused; open theirs.
                PutOutcome::AlreadyExists => inner.delete(&key_name)?,
            }
        }
        Self::open(inner, password)
    }

    /// Opens the encrypted repository in `inner` with `password`. Reads only the config and the key objects.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when `inner` holds no repository; [`ErrorKind::InvalidArgument`] for a
    /// repository that is not encrypted, and for a wrong password (one message, whatever the number of key
    /// objects); [`ErrorKind::Format`] for an encrypted repository without key objects.
    pub fn open(inner: R, password: &Password) -> Result<(Self, Unlocked)> {
        let config = match inner.size(CONFIG_KEY)? {
            Some(_) => RepoConfig::decode(CONFIG_KEY, &get(&inner, CONFIG_KEY)?)?,
            None => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{} is not a tabsnap repository (no config object)", inner.describe()),
                ));
            }
        };
        if !config.is_encrypted() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} is a repository that is not encrypted: a repository's encryption is chosen when it is \
                     created",
                    inner.describe()
                ),
            ));
        }
        let mut names: Vec<String> = inner.list(KEYS_PREFIX)?.into_iter().map(|o| o.key).collect();
        names.sort();
        let mut unreadable = None;
        for name in &names {
            let opened = get(&inner, name).and_then(|data| open_key(name, &data, password, &config.id));
            match opened {
                Ok(Some(master)) => {
                    let key = Arc::new(master);
                    let unlocked = Unlocked { key: key.clone(), key_name: name.clone() };
                    return Ok((EncryptedRepository { inner, key }, unlocked));
                }
                Ok(None) => {}
                Err(e) => unreadable = unreadable.or(Some(e)),
            }
        }
        if names.is_empty() {
            return Err(Error::new(
                ErrorKind::Format,
                format!("{} is encrypted but holds no key object (keys/): it cannot be opened", inner.describe()),
            ));
        }
        let mut message = format!(
            "wrong password for the encrypted repository {}: none of its {} key object(s) opens with it",
            inner.describe(),
            names.len()
        );
        if let Some(e) = unreadable {
            message.push_str(&format!(" (and one could not be read: {e})"));
        }
        Err(Error::new(ErrorKind::InvalidArgument, message))
    }

    /// The repository in `inner` with a master key already opened (after new credentials of its store).
    pub fn with_key(inner: R, key: Arc<MasterKey>) -> Self {
        EncryptedRepository { inner, key }
    }

    /// The store under the encryption.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        let short = |what: String| Error::new(ErrorKind::Repository, format!("object {key}: {what}")).with_object(key);
        if offset == 0 && len.is_none() {
            let data = self.inner.get_range(key, 0, None)?;
            let header = Header::decode(key, &data)?;
            if data.len() as u64 != header.sealed_len() {
                return Err(Error::new(
                    ErrorKind::Corruption,
                    format!(
                        "encrypted object {key}: {} bytes stored, its header says {}",
                        data.len(),
                        header.sealed_len()
                    ),
                )
                .with_object(key));
            }
            return seal::open_blocks(&self.key.data, key, &header, 0, &data[HEADER_LEN..]);
        }
        let head = self.inner.get_range(key, 0, Some(HEADER_LEN as u64))?;
        let header = Header::decode(key, &head)?;
        let total = header.plain_len;
        let end = match len {
            Some(n) => offset.checked_add(n).filter(|&e| e <= total),
            None => (offset <= total).then_some(total),
        }
        .ok_or_else(|| short(format!("short read ({total} bytes, {offset}+{len:?} asked)")))?;
        if end == offset {
            return Ok(Vec::new());
        }
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        let (start, _) = header.block_place(first);
        let (last_at, last_len) = header.block_place(last);
        let want = last_at + last_len - start;
        let stored = self.inner.get_range(key, start, Some(want))?;
        if stored.len() as u64 != want {
            return Err(short(format!("short read ({} bytes returned, {want} asked)", stored.len())));
        }
        let plain = seal::open_blocks(&self.key.data, key, &header, first, &stored)?;
        let skip = usize::try_from(offset - first * BLOCK).unwrap_or(usize::MAX);
        let take = usize::try_from(end - offset).unwrap_or(usize::MAX);
        plain.get(skip..skip.saturating_add(take)).map(<[u8]>::to_vec).ok_or_else(|| short("short block".into()))
    }
}

/// The plaintext length of the sealed object `key` of `sealed` bytes.
fn plain_size(key: &str, sealed: u64) -> Result<u64> {
    seal::plain_len(sealed).ok_or_else(|| {
        Error::new(
            ErrorKind::Corruption,
            format!("encrypted object {key}: {sealed} bytes is no sealed object's length"),
        )
        .with_object(key)
    })
}

impl<R: Repository> Repository for EncryptedRepository<R> {
    fn properties(&self) -> Properties {
        self.inner.properties()
    }

    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        if is_clear(key) {
            return self.inner.put(key, data, mode);
        }
        let mut nonce = [0u8; 16];
        fill_random(&mut nonce)?;
        self.inner.put(key, &seal::seal(&self.key.data, key, data, nonce)?, mode)
    }

    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        if is_clear(key) { self.inner.get_range(key, offset, len) } else { self.range(key, offset, len) }
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.inner.size(key)? {
            Some(n) if !is_clear(key) => plain_size(key, n).map(Some),
            other => Ok(other),
        }
    }

    /// Sizes are plaintext sizes; a sealed object whose length no plaintext seals to is listed with size 0
    /// (reading it names the damage).
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut objects = self.inner.list(prefix)?;
        for o in &mut objects {
            if !is_clear(&o.key) {
                o.size = seal::plain_len(o.size).unwrap_or(0);
            }
        }
        Ok(objects)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn remove_leftovers(&self, dry_run: bool) -> Result<(u64, u64)> {
        self.inner.remove_leftovers(dry_run)
    }

    fn hash_key(&self) -> Option<[u8; 32]> {
        Some(self.key.ids)
    }
}

/// Adds a key object to the encrypted repository in `inner` that opens `unlocked`'s master key with
/// `password`; returns its name. The repository's other key objects stay.
///
/// # Errors
/// Repository errors; invalid parameters.
pub fn add_key(inner: &dyn Repository, unlocked: &Unlocked, password: &Password, params: KdfParams) -> Result<String> {
    let config = RepoConfig::decode(CONFIG_KEY, &get(inner, CONFIG_KEY)?)?;
    let name = new_key_name()?;
    let now = crate::pack::now_ms();
    inner.put(&name, &encode_key(&unlocked.key, password, params, &config.id, now)?, PutMode::CreateIfAbsent)?;
    Ok(name)
}

/// Changes the password of the encrypted repository in `inner`: adds a key object for `password`, then
/// removes the one `unlocked` was opened with. No data is rewritten. Returns the new key object.
///
/// # Errors
/// As [`add_key`]; when the old key object cannot be removed, the new one stays (both passwords open the
/// repository) and the error says so.
pub fn change_password(
    inner: &dyn Repository,
    unlocked: &Unlocked,
    password: &Password,
    params: KdfParams,
) -> Result<Unlocked> {
    let key_name = add_key(inner, unlocked, password, params)?;
    inner.delete(&unlocked.key_name).map_err(|e| {
        e.context(format!(
            "the new password was added as {key_name}, but the old key object {} could not be removed (both \
             passwords open the repository)",
            unlocked.key_name
        ))
    })?;
    Ok(Unlocked { key: unlocked.key.clone(), key_name })
}
