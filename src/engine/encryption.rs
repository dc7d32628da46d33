//! A repository's encryption properties: `"encryption" = "on"` with `encryption.password` or
//! `encryption.key_file` (and `encryption.kdf`), read and checked, the secret kept out of everything saved or
//! shown, and the repository opened (or made) encrypted.
//!
//! A password given by statement is never saved: the state file keeps `"encryption" = "on"` and a key file's
//! path. A process that reopens a saved repository takes the password from its key file, or from
//! `TABSNAP_PASSWORD`; without either the repository stays registered but locked, and every use of it says
//! how to unlock it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::{EncryptedRepository, KdfParams, Password, Unlocked};
use crate::repo::{ObjectInfo, PutMode, PutOutcome, Repository};
use crate::{Error, ErrorKind, Result};

/// `"encryption" = "on" | "off"`.
pub(crate) const ENCRYPTION: &str = "encryption";
/// The password (never saved).
pub(crate) const PASSWORD: &str = "encryption.password";
/// A file holding the password (its path is saved).
pub(crate) const KEY_FILE: &str = "encryption.key_file";
/// Argon2id parameters of the key objects this statement writes.
pub(crate) const KDF: &str = "encryption.kdf";
/// The environment variable a process takes the password of a saved encrypted repository from.
pub const PASSWORD_ENV: &str = "TABSNAP_PASSWORD";

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The last value of `key` in `props`.
pub(crate) fn prop<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Takes the password out of `props`: what is left may be saved and shown.
pub(crate) fn take_password(props: &mut Vec<(String, String)>) -> Result<Option<Password>> {
    let given = prop(props, PASSWORD).map(|p| Password::new(p.as_bytes().to_vec())).transpose();
    props.retain(|(k, _)| k != PASSWORD);
    given.map_err(|_| invalid(format!("property {PASSWORD} is empty")))
}

/// A repository's encryption, as its properties declare it.
pub(crate) struct Settings {
    key_file: Option<PathBuf>,
    kdf: Option<KdfParams>,
}

/// Reads and checks the encryption properties (`password`: the one taken out of them, if any). `None`: the
/// repository is not encrypted.
///
/// # Errors
/// An unknown `encryption.*` property; `encryption` other than on/off; a password, key file or KDF without
/// `"encryption" = "on"`; both a password and a key file; a relative key file path; malformed KDF parameters.
pub(crate) fn settings(props: &[(String, String)], password: Option<&Password>) -> Result<Option<Settings>> {
    for (k, _) in props {
        if k.starts_with("encryption.") && ![PASSWORD, KEY_FILE, KDF].contains(&k.as_str()) {
            return Err(invalid(format!(
                "unknown property {k:?}: the encryption properties are {ENCRYPTION}, {PASSWORD}, {KEY_FILE} and {KDF}"
            )));
        }
    }
    let on = match prop(props, ENCRYPTION).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("off") => false,
        Some("on") => true,
        Some(_) => return Err(invalid(format!("property {ENCRYPTION} must be \"on\" or \"off\""))),
    };
    let key_file = prop(props, KEY_FILE).map(PathBuf::from);
    let kdf = prop(props, KDF).map(|v| KdfParams::parse(v).map_err(|e| e.context(KDF))).transpose()?;
    if !on {
        if password.is_some() || key_file.is_some() || kdf.is_some() {
            return Err(invalid(format!(
                "{PASSWORD}, {KEY_FILE} and {KDF} need \"{ENCRYPTION}\" = \"on\" (a repository's encryption is chosen \
                 when it is created)"
            )));
        }
        return Ok(None);
    }
    if password.is_some() && key_file.is_some() {
        return Err(invalid(format!("give either {PASSWORD} or {KEY_FILE}, not both")));
    }
    if key_file.as_deref().is_some_and(|p| !p.is_absolute()) {
        return Err(invalid(format!("{KEY_FILE} must be an absolute path")));
    }
    Ok(Some(Settings { key_file, kdf }))
}

impl Settings {
    /// The KDF parameters for new key objects: `encryption.kdf`, else `TABSNAP_KDF`, else the defaults.
    pub(crate) fn kdf(&self) -> Result<KdfParams> {
        self.kdf.map_or_else(KdfParams::from_env, Ok)
    }

    /// The password: the one given, else the key file's content, else `TABSNAP_PASSWORD`.
    fn password(&self, given: Option<Password>) -> Result<Option<Password>> {
        if let Some(p) = given {
            return Ok(Some(p));
        }
        if let Some(path) = &self.key_file {
            return Password::from_file(path).map(Some);
        }
        match std::env::var_os(PASSWORD_ENV) {
            Some(v) => Password::new(v.into_encoded_bytes()).map(Some).map_err(|e| e.context(PASSWORD_ENV)),
            None => Ok(None),
        }
    }
}

/// `inner` as its properties declare it, initialised: encrypted (opened, or made when `inner` is empty and
/// `creating`) with the unlocked key, as it is, or locked when it is encrypted and no password is at hand.
///
/// # Errors
/// As [`settings`]; no password while `creating`; a wrong password; repository errors.
pub(crate) fn open(
    inner: Arc<dyn Repository>,
    props: &[(String, String)],
    given: Option<Password>,
    creating: bool,
) -> Result<(Arc<dyn Repository>, Option<Unlocked>)> {
    let Some(settings) = settings(props, given.as_ref())? else {
        crate::pack::init_repository(inner.as_ref())?;
        return Ok((inner, None));
    };
    let Some(password) = settings.password(given)? else {
        if creating {
            return Err(invalid(format!(
                "\"{ENCRYPTION}\" = \"on\" needs {PASSWORD} or {KEY_FILE} (or {PASSWORD_ENV} in the environment)"
            )));
        }
        return Ok((Arc::new(Locked { describe: inner.describe() }), None));
    };
    let (repo, unlocked) = if creating {
        EncryptedRepository::open_or_create(inner, &password, settings.kdf()?)?
    } else {
        EncryptedRepository::open(inner, &password)?
    };
    crate::pack::init_repository(&repo)?;
    Ok((Arc::new(repo), Some(unlocked)))
}

/// An encrypted repository whose password this process does not have: every use says how to give it.
struct Locked {
    describe: String,
}

impl Locked {
    fn refuse<T>(&self) -> Result<T> {
        Err(invalid(format!(
            "{} is encrypted and this process has no password for it: set {PASSWORD_ENV}, or declare the repository \
             with {KEY_FILE}",
            self.describe
        )))
    }
}

impl Repository for Locked {
    fn put(&self, _: &str, _: &[u8], _: PutMode) -> Result<PutOutcome> {
        self.refuse()
    }
    fn get_range(&self, _: &str, _: u64, _: Option<u64>) -> Result<Vec<u8>> {
        self.refuse()
    }
    fn size(&self, _: &str) -> Result<Option<u64>> {
        self.refuse()
    }
    fn list(&self, _: &str) -> Result<Vec<ObjectInfo>> {
        self.refuse()
    }
    fn delete(&self, _: &str) -> Result<()> {
        self.refuse()
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_password_is_taken_out_and_the_rest_checked() {
        let mut p = props(&[("encryption", "on"), ("encryption.password", "pw"), ("s3.region", "x")]);
        let pw = take_password(&mut p).unwrap();
        assert!(pw.is_some());
        assert_eq!(p, props(&[("encryption", "on"), ("s3.region", "x")]));
        assert!(settings(&p, pw.as_ref()).unwrap().is_some());
        let refused = [
            props(&[("encryption", "yes")]),
            props(&[("encryption", "on"), ("encryption.passwd", "x")]),
            props(&[("encryption.key_file", "/k")]),
            props(&[("encryption", "on"), ("encryption.key_file", "k")]),
            props(&[("encryption", "on"), ("encryption.kdf", "m=1")]),
        ];
        for p in refused {
            let e = settings(&p, None).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{p:?}");
        }
        let both = props(&[("encryption", "on"), ("encryption.key_file", "/k")]);
        assert!(settings(&both, pw.as_ref()).err().unwrap().message().contains("not both"));
        assert!(settings(&props(&[]), pw.as_ref()).is_err());
        assert!(take_password(&mut props(&[("encryption.password", "")])).is_err());
    }
}
