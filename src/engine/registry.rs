//! The repository registry: the repositories an engine knows by name, and the one factory that opens a
//! repository from its declaration (CREATE REPOSITORY, the state file).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use super::encryption;
use crate::crypto::{Password, Unlocked};
use crate::job::persist::RepoMeta;
use crate::pack;
use crate::repo::{Limit, LocalRepository, Repository, Retry, S3Config, S3Repository};
use crate::{Error, ErrorKind, Result};

/// The kind of repositories a host attaches itself; they are not saved.
pub(crate) const HOST_KIND: &str = "HOST";

struct RepoEntry {
    meta: RepoMeta,
    repo: Arc<dyn Repository>,
    /// The master key of an encrypted repository this process opened.
    unlocked: Option<Unlocked>,
}

/// The repositories of one engine, by name.
#[derive(Default)]
pub(crate) struct Registry {
    repos: RwLock<BTreeMap<String, RepoEntry>>,
}

fn already_exists(name: &str) -> Error {
    Error::new(ErrorKind::Analysis, format!("Repository {name} already exists"))
}

impl Registry {
    /// Opens every repository of `saved`.
    ///
    /// # Errors
    /// The first repository that cannot be opened, named.
    pub(crate) fn load(&self, saved: Vec<RepoMeta>) -> Result<()> {
        let mut repos = self.repos.write();
        for meta in saved {
            let (repo, unlocked) =
                open_repository(&meta, None, false).map_err(|e| e.context(format!("repository {}", meta.name)))?;
            let repo = honour_limits(repo);
            repos.insert(meta.name.clone(), RepoEntry { meta, repo, unlocked });
        }
        Ok(())
    }

    /// Makes the repositories declared by statement those of `saved` (the state directory's, which other
    /// processes may have changed): opens the new ones, forgets the dropped ones. Attached repositories stay.
    ///
    /// # Errors
    /// The first new repository that cannot be opened, named.
    pub(crate) fn sync(&self, saved: Vec<RepoMeta>) -> Result<()> {
        let stale: Vec<String> = {
            let repos = self.repos.read();
            repos
                .values()
                .filter(|e| {
                    e.meta.kind != HOST_KIND && !saved.iter().any(|m| m.name == e.meta.name && m.id == e.meta.id)
                })
                .map(|e| e.meta.name.clone())
                .collect()
        };
        let fresh: Vec<RepoMeta> = {
            let repos = self.repos.read();
            saved.into_iter().filter(|m| repos.get(&m.name).is_none_or(|e| e.meta.id != m.id)).collect()
        };
        if stale.is_empty() && fresh.is_empty() {
            return Ok(());
        }
        let mut opened = Vec::new();
        for meta in fresh {
            let (repo, unlocked) =
                open_repository(&meta, None, false).map_err(|e| e.context(format!("repository {}", meta.name)))?;
            opened.push(RepoEntry { meta, repo: honour_limits(repo), unlocked });
        }
        let mut repos = self.repos.write();
        for name in stale {
            repos.remove(&name);
        }
        for e in opened {
            repos.insert(e.meta.name.clone(), e);
        }
        Ok(())
    }

    /// Whether a repository is called `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.repos.read().contains_key(name)
    }

    /// The repository called `name`.
    ///
    /// # Errors
    /// "Repository `name` does not exist".
    pub(crate) fn get(&self, name: &str) -> Result<(RepoMeta, Arc<dyn Repository>)> {
        self.repos
            .read()
            .get(name)
            .map(|e| (e.meta.clone(), e.repo.clone()))
            .ok_or_else(|| Error::new(ErrorKind::Analysis, format!("Repository {name} does not exist")))
    }

    /// The key of repository `name`, when it is encrypted and this process opened it.
    pub(crate) fn unlocked(&self, name: &str) -> Option<Unlocked> {
        self.repos.read().get(name).and_then(|e| e.unlocked.clone())
    }

    /// Replaces repository `meta.name`'s declaration and key, and its store when `reopened` (ALTER REPOSITORY).
    pub(crate) fn replace(&self, meta: RepoMeta, reopened: Option<Arc<dyn Repository>>, unlocked: Option<Unlocked>) {
        let mut repos = self.repos.write();
        let repo = match (reopened, repos.get(&meta.name)) {
            (Some(r), _) => honour_limits(r),
            (None, Some(e)) => e.repo.clone(),
            (None, None) => return,
        };
        repos.insert(meta.name.clone(), RepoEntry { meta, repo, unlocked });
    }

    /// Every repository, by name.
    pub(crate) fn entries(&self) -> Vec<(RepoMeta, Arc<dyn Repository>)> {
        self.repos.read().values().map(|e| (e.meta.clone(), e.repo.clone())).collect()
    }

    /// Opens the repository `meta` declares (made encrypted with `password` when its properties say so) and
    /// registers it.
    ///
    /// # Errors
    /// The factory's errors, as "Failed to create repository: …".
    pub(crate) fn create(&self, meta: RepoMeta, password: Option<Password>) -> Result<()> {
        let (repo, unlocked) =
            open_repository(&meta, password, true).map_err(|e| e.context("Failed to create repository"))?;
        self.repos.write().insert(meta.name.clone(), RepoEntry { meta, repo: honour_limits(repo), unlocked });
        Ok(())
    }

    /// Registers `repo`, which the host provides, under `name` and initialises it, encrypted when `props` say
    /// so (`password`: the one given with them); `meta` is built with the repository's description once the
    /// name is known to be free.
    ///
    /// # Errors
    /// "Repository `name` already exists"; the repository's own errors while initialising it; the encryption
    /// properties' errors.
    pub(crate) fn attach(
        &self,
        name: &str,
        repo: Arc<dyn Repository>,
        props: &[(String, String)],
        password: Option<Password>,
        meta: impl FnOnce(&dyn Repository) -> RepoMeta,
    ) -> Result<()> {
        let mut repos = self.repos.write();
        if repos.contains_key(name) {
            return Err(already_exists(name));
        }
        let (repo, unlocked) = encryption::open(honour_limits(repo), props, password, true)
            .map_err(|e| e.context("Failed to create repository"))?;
        let meta = meta(repo.as_ref());
        repos.insert(name.into(), RepoEntry { meta, repo, unlocked });
        Ok(())
    }

    /// Forgets repository `name`.
    pub(crate) fn remove(&self, name: &str) {
        self.repos.write().remove(name);
    }
}

/// `repo` with its own [`crate::repo::Properties::max_concurrency`] enforced: at most that many calls at once,
/// whoever makes them (every job, every worker thread). Every repository the registry holds goes through here.
fn honour_limits(repo: Arc<dyn Repository>) -> Arc<dyn Repository> {
    match repo.properties().max_concurrency {
        0 => repo,
        n => Arc::new(Limit::new(repo, n, 0)),
    }
}

/// Opens (and initialises, when new) the repository `meta` declares: LOCAL or S3, with S3's retry and limits,
/// encrypted when its properties say so (`password`: the one a statement gave; `creating`: CREATE
/// REPOSITORY, which may make a new encrypted repository).
///
/// # Errors
/// An unsupported kind; a relative LOCAL location; invalid S3 or encryption properties; a wrong password; the
/// repository's own errors.
pub(crate) fn open_repository(
    meta: &RepoMeta,
    password: Option<Password>,
    creating: bool,
) -> Result<(Arc<dyn Repository>, Option<Unlocked>)> {
    encryption::open(open_store(meta)?, &meta.properties, password, creating)
}

/// The repository `meta` declares opened again with a master key already at hand (new S3 credentials).
///
/// # Errors
/// As [`open_repository`].
pub(crate) fn reopen(meta: &RepoMeta, unlocked: Option<&Unlocked>) -> Result<Arc<dyn Repository>> {
    let store = open_store(meta)?;
    let repo: Arc<dyn Repository> = match unlocked {
        Some(u) => Arc::new(crate::crypto::EncryptedRepository::with_key(store, u.key.clone())),
        None => store,
    };
    pack::init_repository(repo.as_ref())?;
    Ok(repo)
}

/// The store `meta` declares, not yet initialised: LOCAL or S3, with S3's retry and limits.
fn open_store(meta: &RepoMeta) -> Result<Arc<dyn Repository>> {
    match meta.kind.as_str() {
        "LOCAL" => {
            let path = meta.location.strip_prefix("file://").unwrap_or(&meta.location);
            if !Path::new(path).is_absolute() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("location {} must be an absolute file:/// path", meta.location),
                ));
            }
            Ok(Arc::new(LocalRepository::new(path)?))
        }
        "S3" => {
            let get = |k: &str| meta.properties.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let s3 = S3Repository::new(S3Config::from_properties(&meta.location, &get)?)?;
            s3.probe()?;
            let number = |k: &str| -> Result<u64> {
                get(k).map_or(Ok(0), |v| {
                    v.trim().parse().map_err(|_| {
                        Error::new(
                            ErrorKind::InvalidArgument,
                            format!("property {k} must be a whole number, not {v:?}"),
                        )
                    })
                })
            };
            let max_requests = usize::try_from(number("s3.max_requests")?).unwrap_or(usize::MAX);
            let bandwidth = number("s3.bandwidth_limit")?;
            Ok(Arc::new(Limit::new(Retry::new(s3, 5, Duration::from_millis(200)), max_requests, bandwidth)))
        }
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{other} repositories are not supported by tabsnap; use WITH S3 or WITH LOCAL"),
        )),
    }
}
