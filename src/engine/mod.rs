//! The one entry point: [`Engine::execute`] runs statements of the family for a session, returning a job id
//! at once for BACKUP and RESTORE (which run on their own threads) or a result set for SHOW.
//!
//! - `mod.rs`: [`Engine`], [`EngineBuilder`], [`Session`], [`Outcome`]: the public API.
//! - `dispatch.rs`: one statement to its effect (privileges, repositories, jobs, snapshots).
//! - `registry.rs`: the repositories by name, and the one factory that opens a declared repository.
//! - `encryption.rs`: a repository's encryption properties, its password kept out of what is saved or shown.
//! - `alter.rs`: ALTER REPOSITORY (a new password, new S3 credentials, a new retention policy).
//! - `retention.rs`: the `retention` property, applied after each successful BACKUP.
//! - `show.rs`: [`ResultSet`] and the SHOW statements that are not about jobs.
//! - `backup.rs`, `restore.rs`: what a BACKUP or RESTORE job does, from the host's snapshots to its commit.

mod alter;
mod backup;
mod dispatch;
mod encryption;
mod properties;
pub(crate) mod registry;
mod repo_properties;
mod restore;
mod retention;
mod show;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::host::{Host, TabletRef};
pub use crate::job::JobObserver;
use crate::job::persist::{RepoMeta, SavedState, StateFile};
use crate::job::{JobInfo, JobManager, ManagerOptions, Persistence};
use crate::pack::{self, CompressionMode, JobControl, Packer, PackerOptions};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};
use registry::Registry;
pub use show::ResultSet;

/// Who runs a statement, and in which database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user, as the host knows it.
    pub user: String,
    /// The current database (`USE db`), if any.
    pub database: Option<String>,
}

impl Session {
    /// A session of `user` with `database` as its current database.
    pub fn new(user: impl Into<String>, database: Option<&str>) -> Session {
        Session { user: user.into(), database: database.map(str::to_owned) }
    }
}

/// What one statement produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// BACKUP / RESTORE: the job started; follow it with SHOW BACKUP / SHOW RESTORE or [`Engine::wait`].
    Job(u64),
    /// SHOW …: rows.
    Rows(ResultSet),
    /// Anything else, done.
    Done,
}

struct Inner {
    host: Arc<dyn Host>,
    packer: Packer,
    registry: Arc<Registry>,
    jobs: Arc<JobManager>,
    ignore_unsupported_tables: bool,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    host: Arc<dyn Host>,
    options: PackerOptions,
    state_dir: Option<PathBuf>,
    history: usize,
    max_timeout: Option<Duration>,
    observer: Option<JobObserver>,
    ignore_unsupported_tables: bool,
}

impl EngineBuilder {
    /// Worker threads of the packer (0: one per core).
    pub fn threads(mut self, n: usize) -> Self {
        self.options.threads = n;
        self
    }
    /// How backups compress chunks when neither the BACKUP nor its repository has a `compression` property
    /// (default [`CompressionMode::Auto`]).
    pub fn compression(mut self, mode: CompressionMode) -> Self {
        self.options.compression = mode;
        self
    }
    /// The zstd level of [`CompressionMode::Auto`], 1 to 19.
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.options.zstd_level = level;
        self
    }
    /// Chunk size for large files.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.options.chunk_size = bytes;
        self
    }
    /// Target pack size.
    pub fn pack_size(mut self, bytes: usize) -> Self {
        self.options.pack_size = bytes;
        self
    }
    /// Memory budget for packs being filled and uploaded.
    pub fn bytes_in_flight(mut self, bytes: usize) -> Self {
        self.options.bytes_in_flight = bytes;
        self
    }
    /// The most JSON one page of a snapshot's manifest holds (default 4 MiB; see
    /// [`PackerOptions::manifest_page_size`]).
    pub fn manifest_page_size(mut self, bytes: usize) -> Self {
        self.options.manifest_page_size = bytes;
        self
    }
    /// The files a backup takes per batch of tablets, each batch snapshotted, backed up and released before
    /// the next (default 16,384; see [`PackerOptions::batch_files`]).
    pub fn batch_files(mut self, files: usize) -> Self {
        self.options.batch_files = files;
        self
    }
    /// Keeps repositories and job history in `dir`, so they survive the process.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }
    /// Finished jobs kept per database (default 10, as Doris).
    pub fn history(mut self, n: usize) -> Self {
        self.history = n.max(1);
        self
    }
    /// Watches every job: `observer` gets the job's record at each state change and, at most every 100 ms, as
    /// its progress moves. It runs on the job's thread: keep it short.
    pub fn on_progress(mut self, observer: JobObserver) -> Self {
        self.observer = Some(observer);
        self
    }
    /// Doris's `ignore_backup_not_support_table_type`: a BACKUP skips the tables that are not OLAP tables (and
    /// names them in TaskErrMsg) instead of failing with "Table 't' is not a OLAP table". Off by default.
    pub fn ignore_backup_not_support_table_type(mut self, ignore: bool) -> Self {
        self.ignore_unsupported_tables = ignore;
        self
    }
    /// Caps every job's timeout, whatever its `timeout` property says (a host's own bound on job length).
    pub fn max_job_timeout(mut self, limit: Duration) -> Self {
        self.max_timeout = Some(limit);
        self
    }

    /// The engine.
    ///
    /// # Errors
    /// Invalid options; a state directory that cannot be read; a saved repository that cannot be opened.
    pub fn build(self) -> Result<Engine> {
        let packer = Packer::builder().options(self.options).build()?;
        let file = self.state_dir.as_deref().map(StateFile::in_dir);
        let mut saved = match &file {
            Some(f) => f.read()?,
            None => SavedState::default(),
        };
        let registry = Arc::new(Registry::default());
        registry.load(std::mem::take(&mut saved.repositories))?;
        let persistence = file.map(|file| Persistence { file });
        let options = ManagerOptions { history: self.history, max_timeout: self.max_timeout, observer: self.observer };
        let jobs = Arc::new(JobManager::new(options, saved, persistence));
        Ok(Engine {
            inner: Arc::new(Inner {
                host: self.host,
                packer,
                registry,
                jobs,
                ignore_unsupported_tables: self.ignore_unsupported_tables,
            }),
        })
    }
}

impl Inner {
    /// The packer of a backup whose statement or repository chose `compression`; the engine's own otherwise.
    fn packer_for(&self, compression: Option<CompressionMode>) -> Result<Packer> {
        self.packer.with_compression(compression.unwrap_or(self.packer.options().compression))
    }
}

/// The engine: statements in, jobs and result sets out. Safe to share between threads.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn analysis(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Analysis, msg)
}

impl Engine {
    /// A builder for an engine over `host`.
    pub fn builder(host: Arc<dyn Host>) -> EngineBuilder {
        EngineBuilder {
            host,
            options: PackerOptions::default(),
            state_dir: None,
            history: 10,
            max_timeout: None,
            observer: None,
            ignore_unsupported_tables: false,
        }
    }

    /// Runs the statements of `sql` in order for `session`. BACKUP and RESTORE return [`Outcome::Job`] at once.
    ///
    /// # Errors
    /// The first statement that fails stops the rest: a syntax error (with its position), an analysis error
    /// with Doris's message, or an execution error. Statements before it have run.
    pub fn execute(&self, session: &Session, sql: &str) -> Result<Vec<Outcome>> {
        let stmts = crate::sql::parse(sql)?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            crate::sql::validate(stmt)?;
            out.push(self.execute_one(session, stmt)?);
        }
        Ok(out)
    }

    /// The job `id`, if the engine knows it.
    pub fn job(&self, id: u64) -> Option<JobInfo> {
        self.inner.jobs.get(id)
    }

    /// Every job the engine knows, oldest first.
    pub fn jobs(&self) -> Vec<JobInfo> {
        self.inner.jobs.all()
    }

    /// Waits until job `id` ends or `timeout` passes, and returns it as it is then.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown job.
    pub fn wait(&self, id: u64, timeout: Duration) -> Result<JobInfo> {
        self.inner.jobs.wait(id, timeout)
    }

    /// Cancels every running job and waits until every job thread has ended. After this no job calls the host
    /// or a repository any more. Must not be called from a job's own callbacks.
    pub fn shutdown(&self) {
        self.inner.jobs.shutdown();
    }

    /// Cancels job `id` if it is still running; returns whether it was.
    pub fn cancel(&self, id: u64) -> bool {
        self.inner.jobs.cancel(id)
    }

    /// Registers a repository the host provides itself (its own storage, a C callback table, …) under `name`,
    /// as CREATE REPOSITORY would, and initialises it (or attaches to the snapshots already in it). Such
    /// repositories are not saved in the state directory: the host registers them again at each start.
    ///
    /// # Errors
    /// "Repository `name` already exists"; the repository's own errors while initialising it.
    pub fn attach_repository(&self, name: &str, repo: Arc<dyn Repository>, read_only: bool) -> Result<()> {
        self.attach_repository_with(name, repo, read_only, &[])
    }

    /// [`Engine::attach_repository`] with repository properties: `encryption`, `encryption.password`,
    /// `encryption.key_file`, `encryption.kdf` (an encrypted repository, made when the store is empty),
    /// `retention` (applied after each BACKUP into it; see docs/ENCRYPTION.md) and `compression` (how backups
    /// into it compress; docs/PROPERTIES.md).
    ///
    /// # Errors
    /// As [`Engine::attach_repository`]; a property that does not apply to a repository the host stores, or
    /// a bad value; a wrong password.
    pub fn attach_repository_with(
        &self,
        name: &str,
        repo: Arc<dyn Repository>,
        read_only: bool,
        properties: &[(String, String)],
    ) -> Result<()> {
        let mut properties = properties.to_vec();
        let password = encryption::take_password(&mut properties)?;
        if let Some((k, _)) = properties.iter().find(|(k, _)| !repo_properties::applies_to_every_kind(k)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "property {k:?} does not apply to a repository the host stores itself (it takes encryption, \
                     encryption.password, encryption.key_file, encryption.kdf, retention and compression)"
                ),
            ));
        }
        retention::policy(&properties, read_only)?;
        repo_properties::compression(&properties)?;
        let id = self.inner.jobs.next_id()?;
        self.inner.registry.attach(name, repo, &properties, password, |repo| RepoMeta {
            id,
            name: name.into(),
            kind: registry::HOST_KIND.into(),
            location: repo.describe(),
            read_only,
            create_ms: pack::now_ms(),
            properties: properties.clone(),
        })
    }

    /// One node's share of a backup several nodes run (see [`crate::pack::cluster`]): packs `tablets` (each
    /// with the directory holding its files) into repository `repository` and leaves the part of node `node`
    /// for [`Engine::commit_parts`]. Every node of one backup uses the same `label` and `timestamp`.
    ///
    /// # Errors
    /// An unknown repository; a read-only one; the packer's errors.
    pub fn backup_part(
        &self,
        repository: &str,
        database: &str,
        label: &str,
        timestamp: &str,
        node: &str,
        tablets: &[(TabletRef, PathBuf)],
    ) -> Result<pack::BackupSummary> {
        let (meta, repo) = self.inner.registry.get(repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        let source = crate::cluster::part_source(database, tablets);
        let control = JobControl { timestamp: Some(timestamp.into()), ..JobControl::default() };
        let packer = self.inner.packer_for(repo_properties::compression(&meta.properties)?)?;
        let (part, summary) = packer.backup_part(repo.as_ref(), &source, label, &control)?;
        pack::cluster::write_part(repo.as_ref(), node, &part)?;
        Ok(summary)
    }

    /// A backup several nodes run, coordinated (see [`crate::cluster::Coordinator::run`]) into repository
    /// `repository`: `coordinator` deals `tablets` to its nodes and `runner` runs each node's share (for a node in
    /// this process, [`Engine::backup_part`] with the task's database, label, timestamp and part); the snapshot
    /// is committed once every tablet is stored.
    ///
    /// # Errors
    /// An unknown or read-only repository; the coordinator's errors.
    pub fn cluster_backup(
        &self,
        repository: &str,
        database: &str,
        label: &str,
        tablets: &[crate::cluster::NodeTablet],
        coordinator: &crate::cluster::Coordinator,
        runner: &dyn crate::cluster::NodeRunner,
    ) -> Result<crate::cluster::ClusterSummary> {
        let (meta, repo) = self.inner.registry.get(repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        coordinator.run(repo.as_ref(), database, label, tablets, runner)
    }

    /// Commits a backup several nodes ran: every node in `nodes` must have left its part; the parts are merged
    /// and the manifest written. Returns the number of files in the snapshot.
    ///
    /// # Errors
    /// An unknown repository; missing parts (named); an existing snapshot; repository errors.
    pub fn commit_parts(&self, repository: &str, label: &str, timestamp: &str, nodes: &[String]) -> Result<u64> {
        let (meta, repo) = self.inner.registry.get(repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        let m = pack::cluster::commit_parts(repo.as_ref(), label, timestamp, nodes)?;
        Ok(m.files().count() as u64)
    }

    /// Collects garbage in repository `repository` under its exclusive lock (see [`crate::store`]): removes the
    /// index objects and packs no snapshot needs, unless another job or process uses the repository (then
    /// [`crate::store::GcOutcome::Busy`] lists who, and nothing is removed). With `dry_run`, only reports.
    ///
    /// # Errors
    /// An unknown repository; a READ ONLY one (unless `dry_run`); repository errors.
    pub fn collect_garbage(&self, repository: &str, dry_run: bool) -> Result<crate::store::GcOutcome> {
        let (meta, repo) = self.inner.registry.get(repository)?;
        if meta.read_only && !dry_run {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        crate::store::collect_garbage(repo.as_ref(), dry_run)
    }
}
