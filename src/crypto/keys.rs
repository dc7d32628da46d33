//! Key objects (`keys/<id>`): the repository's random master key, wrapped by a key derived from a password
//! with Argon2id. Several key objects (several passwords) open one repository; changing a password adds a key
//! object and removes the old one, and rewrites no data.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::format::{ObjectKind, decode_meta, encode_meta};
use crate::{Error, ErrorKind, Result};

/// Prefix of key objects.
pub const KEYS_PREFIX: &str = "keys/";
/// The environment variable that sets the Argon2id parameters of key objects created without
/// `encryption.kdf` (`m=<KiB>,t=<passes>,p=<lanes>`).
pub const KDF_ENV: &str = "TABSNAP_KDF";

/// The repository's secret keys: one encrypts objects, one keys the hash that names chunks, packs and indexes.
pub struct MasterKey {
    pub(crate) data: [u8; 32],
    pub(crate) ids: [u8; 32],
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.data.zeroize();
        self.ids.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random master key.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn random() -> Result<MasterKey> {
        let mut k = MasterKey { data: [0; 32], ids: [0; 32] };
        fill_random(&mut k.data)?;
        fill_random(&mut k.ids)?;
        Ok(k)
    }
}

/// Fills `buf` from the system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::new(ErrorKind::Io, "the system's random source failed"))
}

/// A password (or the content of a key file), wiped from memory when dropped. Never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// A password from its bytes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an empty password.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Password> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, "an empty password cannot protect a repository"));
        }
        Ok(Password(Zeroizing::new(bytes)))
    }

    /// The content of the file at `path`, less one trailing newline.
    ///
    /// # Errors
    /// The file cannot be read (named), or is empty.
    pub fn from_file(path: &std::path::Path) -> Result<Password> {
        let mut bytes =
            std::fs::read(path).map_err(|e| Error::io(format!("reading key file {}", path.display()), e))?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Password::new(bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("key file {} is empty", path.display())))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Argon2id's parameters for a key object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The most memory a key object may ask for (a hostile key object must not exhaust the reader's memory).
const MAX_MEMORY_KIB: u32 = 4 << 20;
const MAX_ITERATIONS: u32 = 100;
const MAX_PARALLELISM: u32 = 64;

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (about a quarter of a second on a current core).
    fn default() -> Self {
        KdfParams { memory_kib: 64 << 10, iterations: 3, parallelism: 1 }
    }
}

impl KdfParams {
    /// Parses `m=<KiB>,t=<passes>,p=<lanes>` (any order, each once, all three).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] naming what is wrong and the accepted ranges.
    pub fn parse(text: &str) -> Result<KdfParams> {
        let bad = |what: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "KDF parameters {text:?}: {what} (expected m=<KiB>,t=<passes>,p=<lanes>, e.g. m=65536,t=3,p=1)"
                ),
            )
        };
        let (mut m, mut t, mut p) = (None, None, None);
        for part in text.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or_else(|| bad(format!("{part:?} is not name=value")))?;
            let v: u32 = v.trim().parse().map_err(|_| bad(format!("{v:?} is not a whole number")))?;
            let slot = match k.trim() {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            };
            if slot.replace(v).is_some() {
                return Err(bad(format!("{} is given twice", k.trim())));
            }
        }
        let (Some(memory_kib), Some(iterations), Some(parallelism)) = (m, t, p) else {
            return Err(bad("m, t and p are all needed".into()));
        };
        let params = KdfParams { memory_kib, iterations, parallelism };
        params.check().map_err(|e| bad(e.message().to_owned()))?;
        Ok(params)
    }

    /// The parameters of [`KDF_ENV`] when set, else the defaults.
    ///
    /// # Errors
    /// A malformed [`KDF_ENV`].
    pub fn from_env() -> Result<KdfParams> {
        match std::env::var(KDF_ENV) {
            Ok(v) => KdfParams::parse(&v).map_err(|e| e.context(KDF_ENV)),
            Err(_) => Ok(KdfParams::default()),
        }
    }

    fn check(&self) -> Result<()> {
        let ok = (1..=MAX_PARALLELISM).contains(&self.parallelism)
            && (8 * self.parallelism..=MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=MAX_ITERATIONS).contains(&self.iterations);
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "out of range: p is 1..={MAX_PARALLELISM}, m is 8·p..={MAX_MEMORY_KIB} KiB, t is \
                     1..={MAX_ITERATIONS}"
                ),
            ))
        }
    }

    fn derive(&self, password: &Password, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("Argon2id parameters: {e}")))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(&password.0, salt, out.as_mut())
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("Argon2id: {e}")))?;
        Ok(out)
    }
}

/// The JSON body of a key object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    created_ms: u64,
    kdf: String,
    kdf_params: KdfParams,
    salt: String,
    cipher: String,
    nonce: String,
    wrapped: String,
}

const KDF_NAME: &str = "argon2id";
const CIPHER_NAME: &str = "chacha20-poly1305";
const WRAP_CONTEXT: &[u8] = b"tabsnap 1 key object ";

fn wrapping_key(kek: &[u8; 32]) -> Result<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, kek)
        .map(LessSafeKey::new)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "cannot set up the cipher"))
}

fn wrap_aad(repository_id: &str) -> Vec<u8> {
    [WRAP_CONTEXT, repository_id.as_bytes()].concat()
}

/// Encodes a key object that opens `master` with `password`, bound to the repository `repository_id`.
///
/// # Errors
/// Invalid parameters; a failing random source.
pub fn encode_key(
    master: &MasterKey,
    password: &Password,
    params: KdfParams,
    repository_id: &str,
    created_ms: u64,
) -> Result<Vec<u8>> {
    params.check()?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 12];
    fill_random(&mut salt)?;
    fill_random(&mut nonce)?;
    let kek = params.derive(password, &salt)?;
    let mut wrapped = Zeroizing::new([master.data, master.ids].concat());
    let tag = wrapping_key(&kek)?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(repository_id)),
            wrapped.as_mut_slice(),
        )
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "cannot wrap the master key"))?;
    let mut stored = wrapped.to_vec();
    stored.extend_from_slice(tag.as_ref());
    let body = KeyBody {
        created_ms,
        kdf: KDF_NAME.into(),
        kdf_params: params,
        salt: hex(&salt),
        cipher: CIPHER_NAME.into(),
        nonce: hex(&nonce),
        wrapped: hex(&stored),
    };
    let json = serde_json::to_vec_pretty(&body)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("cannot encode a key object: {e}")))?;
    encode_meta(ObjectKind::Key, &json, false)
}

/// Decodes and checks a key object: framing, crc32c, KDF, cipher and parameters.
fn decode_key(name: &str, data: &[u8]) -> Result<KeyBody> {
    let body = decode_meta(ObjectKind::Key, name, data)?;
    let bad = |what: String| Error::new(ErrorKind::Format, format!("key object {name}: {what}")).with_object(name);
    let k: KeyBody = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    if k.kdf != KDF_NAME || k.cipher != CIPHER_NAME {
        return Err(bad(format!("unknown KDF {:?} or cipher {:?}", k.kdf, k.cipher)));
    }
    k.kdf_params.check().map_err(|e| bad(format!("KDF parameters {}", e.message())))?;
    Ok(k)
}

/// Checks a key object without opening it (what a check without the password can say of it).
///
/// # Errors
/// As [`open_key`]'s format errors.
pub fn check_key_object(name: &str, data: &[u8]) -> Result<()> {
    decode_key(name, data).map(|_| ())
}

/// Opens the key object `name` with `password`: `Ok(None)` when the password is not this key object's.
///
/// # Errors
/// A key object that is not one (format, crc32c, unknown KDF or cipher, parameters out of range), named.
pub fn open_key(name: &str, data: &[u8], password: &Password, repository_id: &str) -> Result<Option<MasterKey>> {
    let k = decode_key(name, data)?;
    let bad = |what: String| Error::new(ErrorKind::Format, format!("key object {name}: {what}")).with_object(name);
    let salt = unhex(&k.salt).filter(|s| s.len() == 32).ok_or_else(|| bad("bad salt".into()))?;
    let nonce: [u8; 12] = unhex(&k.nonce).and_then(|n| n.try_into().ok()).ok_or_else(|| bad("bad nonce".into()))?;
    let mut wrapped = unhex(&k.wrapped).filter(|w| w.len() == 80).ok_or_else(|| bad("bad wrapped key".into()))?;
    let kek = k.kdf_params.derive(password, &salt)?;
    let opened = wrapping_key(&kek)?.open_in_place(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(wrap_aad(repository_id)),
        &mut wrapped,
    );
    let result = match opened {
        Ok(plain) => {
            let mut m = MasterKey { data: [0; 32], ids: [0; 32] };
            m.data.copy_from_slice(&plain[..32]);
            m.ids.copy_from_slice(&plain[32..64]);
            Some(m)
        }
        Err(_) => None,
    };
    wrapped.zeroize();
    Ok(result)
}

/// A new key object's name: `keys/` and 32 random hex digits.
///
/// # Errors
/// A failing random source.
pub fn new_key_name() -> Result<String> {
    let mut id = [0u8; 16];
    fill_random(&mut id)?;
    Ok(format!("{KEYS_PREFIX}{}", hex(&id)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn a_key_object_opens_with_its_password_only() {
        let master = MasterKey::random().unwrap();
        let pw = Password::new("correct horse").unwrap();
        let obj = encode_key(&master, &pw, CHEAP, "repo1", 1).unwrap();
        let opened = open_key("keys/a", &obj, &pw, "repo1").unwrap().unwrap();
        assert_eq!((opened.data, opened.ids), (master.data, master.ids));
        assert!(open_key("keys/a", &obj, &Password::new("wrong").unwrap(), "repo1").unwrap().is_none());
        // Bound to its repository.
        assert!(open_key("keys/a", &obj, &pw, "repo2").unwrap().is_none());
        // The password appears nowhere in the object.
        assert!(!obj.windows(13).any(|w| w == b"correct horse"));
    }

    #[test]
    fn kdf_parameters_are_checked() {
        assert_eq!(KdfParams::parse("m=64,t=1,p=1").unwrap(), CHEAP);
        assert_eq!(KdfParams::parse(" p=2 , m=1024,t=2").unwrap().parallelism, 2);
        for bad in ["m=64,t=1", "m=4,t=1,p=1", "m=64,t=0,p=1", "m=64,t=1,p=1,m=64", "x=1,m=64,t=1,p=1", "m=a,t=1,p=1"] {
            let e = KdfParams::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains(bad), "{e}");
        }
    }

    #[test]
    fn hostile_key_objects_are_refused_before_any_work() {
        let body =
            br#"{"created_ms":1,"kdf":"argon2id","kdf_params":{"memory_kib":4294967295,"iterations":1,"parallelism":1},
            "salt":"00","cipher":"chacha20-poly1305","nonce":"00","wrapped":"00"}"#;
        let obj = encode_meta(ObjectKind::Key, body, false).unwrap();
        let e = open_key("keys/x", &obj, &Password::new("p").unwrap(), "r").unwrap_err();
        assert_eq!((e.kind(), e.object()), (ErrorKind::Format, Some("keys/x")));
        assert!(Password::new("").is_err());
    }
}
