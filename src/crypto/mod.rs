//! Encrypted repositories: every object but the config, key objects and locks is sealed with authenticated
//! encryption (ChaCha20-Poly1305) under a random master key; key objects wrap that key with a key derived from
//! a password (Argon2id), so several passwords open one repository and a password changes without rewriting
//! data; chunk, pack and index ids are hashed with a secret of the master key, so object names reveal nothing
//! of the content. `docs/FORMAT.md` ("Encrypted repositories") is normative; `docs/ENCRYPTION.md` is the
//! operator's guide.
//!
//! ```
//! use tabsnap::crypto::{EncryptedRepository, KdfParams, Password};
//! use tabsnap::repo::{MemoryRepository, PutMode, Repository};
//!
//! let store = std::sync::Arc::new(MemoryRepository::new());
//! let cheap = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
//! let (repo, _) = EncryptedRepository::open_or_create(store.clone(), &Password::new("s3cret")?, cheap)?;
//! tabsnap::pack::init_repository(&repo)?;
//! repo.put("index/0", b"plain text", PutMode::CreateIfAbsent)?;
//! assert_eq!(repo.get_range("index/0", 6, Some(4))?, b"text");
//! assert_ne!(tabsnap::repo::get(store.as_ref(), "index/0")?, b"plain text");
//! assert!(EncryptedRepository::open(store, &Password::new("wrong")?).is_err());
//! # Ok::<(), tabsnap::Error>(())
//! ```

mod check;
mod keys;
mod repo;
pub mod seal;

pub use check::check_stored;
pub(crate) use keys::fill_random;
pub use keys::{KDF_ENV, KEYS_PREFIX, KdfParams, MasterKey, Password, check_key_object};
pub use repo::{EncryptedRepository, Unlocked, add_key, change_password, is_clear};

#[cfg(test)]
mod tests;
