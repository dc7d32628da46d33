//! ALTER REPOSITORY: a new password (or key file) for an encrypted repository, new S3 credentials, a new
//! retention policy or compression. A password change adds a key object and removes the one this process
//! opened the repository with; no data is rewritten.

use super::encryption::{KDF, KEY_FILE, PASSWORD, prop};
use super::registry::reopen;
use super::{Engine, analysis};
use crate::crypto::{self, KdfParams, Password};
use crate::sql::ast;
use crate::{Error, ErrorKind, Result};

/// The S3 credentials ALTER REPOSITORY may change.
const S3_CREDENTIALS: &[&str] = &["s3.access_key", "s3.secret_key", "s3.session_token"];
/// Everything ALTER REPOSITORY may change.
const ALTERABLE: &[&str] = &[
    PASSWORD,
    KEY_FILE,
    KDF,
    "s3.access_key",
    "s3.secret_key",
    "s3.session_token",
    super::retention::RETENTION,
    super::repo_properties::COMPRESSION,
];

impl Engine {
    pub(super) fn alter_repository(&self, s: &ast::AlterRepository) -> Result<()> {
        let inner = &self.inner;
        let (mut meta, repo) = inner.registry.get(&s.name)?;
        let given: Vec<(String, String)> = s.properties.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        if let Some((k, _)) = given.iter().find(|(k, _)| !ALTERABLE.contains(&k.as_str())) {
            return Err(analysis(format!(
                "ALTER REPOSITORY cannot change property {k:?}; it changes {}",
                ALTERABLE.join(", ")
            )));
        }
        let s3: Vec<&(String, String)> = given.iter().filter(|(k, _)| S3_CREDENTIALS.contains(&k.as_str())).collect();
        if !s3.is_empty() && meta.kind != "S3" {
            return Err(analysis(format!("Repository {} is not an S3 repository: it has no S3 credentials", s.name)));
        }
        if prop(&given, super::retention::RETENTION).is_some() {
            super::retention::policy(&given, meta.read_only)?;
        }
        super::repo_properties::compression(&given)?;
        let mut unlocked = inner.registry.unlocked(&s.name);
        let new_password = password_of(&given)?;
        if let Some(password) = &new_password {
            let Some(current) = &unlocked else {
                let encrypted = prop(&meta.properties, super::encryption::ENCRYPTION)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("on"));
                return Err(analysis(if encrypted {
                    format!(
                        "Repository {} is encrypted but this process has no password for it: set TABSNAP_PASSWORD \
                         (or declare it with {KEY_FILE}) to change its password",
                        s.name
                    )
                } else {
                    format!("Repository {} is not encrypted: its encryption is chosen when it is created", s.name)
                }));
            };
            let params = match prop(&given, KDF) {
                Some(v) => KdfParams::parse(v).map_err(|e| e.context(KDF))?,
                None => KdfParams::from_env()?,
            };
            unlocked = Some(crypto::change_password(repo.as_ref(), current, password, params)?);
        } else if prop(&given, KDF).is_some() {
            return Err(analysis(format!("{KDF} applies to a new password: give {PASSWORD} or {KEY_FILE} with it")));
        }

        // The declaration: the password itself is never kept; a key file's path is, and a new password
        // replaces the key file that no longer opens the repository.
        for (k, v) in &given {
            if k == PASSWORD {
                meta.properties.retain(|(key, _)| key != KEY_FILE);
                continue;
            }
            meta.properties.retain(|(key, _)| key != k);
            meta.properties.push((k.clone(), v.clone()));
        }
        let reopened = if s3.is_empty() { None } else { Some(reopen(&meta, unlocked.as_ref())?) };
        inner.jobs.change_repositories(|list| {
            match list.iter_mut().find(|m| m.name == meta.name && m.id == meta.id) {
                Some(saved) => saved.properties.clone_from(&meta.properties),
                None => return Err(analysis(format!("Repository {} does not exist", meta.name))),
            }
            Ok(())
        })?;
        inner.registry.replace(meta, reopened, unlocked);
        Ok(())
    }
}

/// The new password an ALTER REPOSITORY gives: `encryption.password`, or the content of `encryption.key_file`.
fn password_of(given: &[(String, String)]) -> Result<Option<Password>> {
    match (prop(given, PASSWORD), prop(given, KEY_FILE)) {
        (Some(_), Some(_)) => {
            Err(Error::new(ErrorKind::InvalidArgument, format!("give either {PASSWORD} or {KEY_FILE}, not both")))
        }
        (Some(p), None) => Password::new(p.as_bytes().to_vec()).map(Some).map_err(|e| e.context(PASSWORD)),
        (None, Some(path)) => {
            let path = std::path::Path::new(path);
            if !path.is_absolute() {
                return Err(Error::new(ErrorKind::InvalidArgument, format!("{KEY_FILE} must be an absolute path")));
            }
            Password::from_file(path).map(Some)
        }
        (None, None) => Ok(None),
    }
}
