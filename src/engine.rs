//! The one entry point: [`Engine::execute`] runs statements of the family for a session, returning a job id
//! at once for BACKUP and RESTORE (which run on their own threads) or a result set for SHOW.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::format::Manifest;
use crate::host::{Host, Privilege, TabletRef};
use crate::job::{self, JobInfo, JobKind, JobState};
use crate::pack::{
    self, BackupSource, CancelToken, IndexSource, JobControl, Packer, PackerOptions, PartitionSource, Progress,
    ProgressInfo, TableSource, TabletSource,
};
use crate::plan::{self, BackupPlan, RestorePlan};
use crate::repo::{Limit, LocalRepository, Repository, Retry, S3Config, S3Repository};
use crate::sql::{self, Statement, ast};
use crate::{Error, ErrorKind, Result};

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

/// Rows with named columns, as SHOW returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ResultSet {
    /// The column names, Doris's.
    pub columns: Vec<String>,
    /// The rows, each as many values as columns.
    pub rows: Vec<Vec<String>>,
}

impl ResultSet {
    fn new(columns: &[&str]) -> ResultSet {
        ResultSet { columns: columns.iter().map(|c| (*c).to_owned()).collect(), rows: Vec::new() }
    }

    /// The value of `column` in row `row`.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        let c = self.columns.iter().position(|n| n == column)?;
        self.rows.get(row)?.get(c).map(String::as_str)
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

/// A repository known to the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RepoMeta {
    id: u64,
    name: String,
    kind: String,
    location: String,
    read_only: bool,
    create_ms: u64,
    /// The repository's properties (credentials among them: the state file is private to its owner, and
    /// nothing else ever shows them).
    #[serde(default)]
    properties: Vec<(String, String)>,
}

struct RepoEntry {
    meta: RepoMeta,
    repo: Arc<dyn Repository>,
}

#[derive(Default, Serialize, Deserialize)]
struct SavedState {
    next_id: u64,
    repositories: Vec<RepoMeta>,
    jobs: Vec<JobInfo>,
}

struct Inner {
    host: Arc<dyn Host>,
    packer: Packer,
    repos: RwLock<BTreeMap<String, RepoEntry>>,
    jobs: Mutex<BTreeMap<u64, JobInfo>>,
    cancels: Mutex<HashMap<u64, CancelToken>>,
    changed: Condvar,
    next_id: AtomicU64,
    state_dir: Option<PathBuf>,
    history: usize,
    max_timeout: Option<Duration>,
    save_lock: Mutex<()>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    observer: Option<JobObserver>,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    host: Arc<dyn Host>,
    options: PackerOptions,
    state_dir: Option<PathBuf>,
    history: usize,
    max_timeout: Option<Duration>,
    observer: Option<JobObserver>,
}

/// Called with a job's record when its state changes and, at most every 100 ms, as its progress moves.
pub type JobObserver = Arc<dyn Fn(&JobInfo) + Send + Sync>;

impl EngineBuilder {
    /// Worker threads of the packer (0: one per core).
    pub fn threads(mut self, n: usize) -> Self {
        self.options.threads = n;
        self
    }
    /// zstd level, 1 to 19.
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
        let inner = Inner {
            host: self.host,
            packer,
            repos: RwLock::new(BTreeMap::new()),
            jobs: Mutex::new(BTreeMap::new()),
            cancels: Mutex::new(HashMap::new()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(1),
            state_dir: self.state_dir,
            history: self.history,
            max_timeout: self.max_timeout,
            save_lock: Mutex::new(()),
            threads: Mutex::new(Vec::new()),
            observer: self.observer,
        };
        inner.load()?;
        Ok(Engine { inner: Arc::new(inner) })
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

fn denied(what: &str) -> Error {
    Error::new(
        ErrorKind::Analysis,
        format!("Access denied; you need (at least one of) the {what} privilege(s) for this operation"),
    )
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
        }
    }

    /// Runs the statements of `sql` in order for `session`. BACKUP and RESTORE return [`Outcome::Job`] at once.
    ///
    /// # Errors
    /// The first statement that fails stops the rest: a syntax error (with its position), an analysis error
    /// with Doris's message, or an execution error. Statements before it have run.
    pub fn execute(&self, session: &Session, sql: &str) -> Result<Vec<Outcome>> {
        let stmts = sql::parse(sql)?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            sql::validate(stmt)?;
            out.push(self.execute_one(session, stmt)?);
        }
        Ok(out)
    }

    fn execute_one(&self, session: &Session, stmt: &Statement) -> Result<Outcome> {
        let inner = &self.inner;
        let admin = || {
            if inner.host.has_privilege(&session.user, &Privilege::Admin) { Ok(()) } else { Err(denied("ADMIN")) }
        };
        let load = |db: &str| {
            if inner.host.has_privilege(&session.user, &Privilege::Load(db.into())) {
                Ok(())
            } else {
                Err(denied("LOAD"))
            }
        };
        let current_db = |db: &Option<String>| -> Result<String> {
            db.clone().or_else(|| session.database.clone()).ok_or_else(|| analysis("No database selected"))
        };
        match stmt {
            Statement::CreateRepository(s) => {
                admin()?;
                self.create_repository(s).map(|()| Outcome::Done)
            }
            Statement::DropRepository(s) => {
                admin()?;
                self.drop_repository(&s.name).map(|()| Outcome::Done)
            }
            Statement::ShowRepositories => {
                admin()?;
                Ok(Outcome::Rows(self.show_repositories()))
            }
            Statement::Backup(s) => {
                let db = sql::resolve_database(&s.label, session.database.as_deref())?.to_owned();
                load(&db)?;
                self.start_backup(s, &db).map(Outcome::Job)
            }
            Statement::Restore(s) => {
                let db = sql::resolve_database(&s.label, session.database.as_deref())?.to_owned();
                load(&db)?;
                self.start_restore(s, &db).map(Outcome::Job)
            }
            Statement::ShowBackup(s) => {
                let db = current_db(&s.database)?;
                load(&db)?;
                let filter = sql::read_name_filter(&s.filter, "SnapshotName")?;
                let mut rs = ResultSet::new(job::BACKUP_COLUMNS);
                rs.rows = self.jobs_of(&db, JobKind::Backup, filter.as_ref()).iter().map(JobInfo::backup_row).collect();
                Ok(Outcome::Rows(rs))
            }
            Statement::ShowRestore(s) => {
                let db = current_db(&s.database)?;
                load(&db)?;
                let filter = sql::read_name_filter(&s.filter, "Label")?;
                let mut rs = if s.brief {
                    ResultSet::new(&job::brief_restore_columns())
                } else {
                    ResultSet::new(job::RESTORE_COLUMNS)
                };
                rs.rows = self
                    .jobs_of(&db, JobKind::Restore, filter.as_ref())
                    .iter()
                    .map(|j| j.restore_row(s.brief))
                    .collect();
                Ok(Outcome::Rows(rs))
            }
            Statement::CancelBackup(s) | Statement::CancelRestore(s) => {
                let db = current_db(&s.database)?;
                load(&db)?;
                let kind = if matches!(stmt, Statement::CancelBackup(_)) { JobKind::Backup } else { JobKind::Restore };
                let filter = sql::read_name_filter(&s.filter, "Label")?;
                self.cancel_running(&db, kind, filter.as_ref()).map(|_| Outcome::Done)
            }
            Statement::ShowSnapshot(s) => {
                admin()?;
                let filter = sql::snapshot_filter(&s.filter)?;
                self.show_snapshot(&s.repository, &filter).map(Outcome::Rows)
            }
            Statement::DropSnapshot(s) => {
                admin()?;
                let timestamp = sql::drop_snapshot_filter(&s.filter)?;
                self.drop_snapshot(&s.repository, &s.label.label, timestamp.as_deref()).map(|()| Outcome::Done)
            }
        }
    }

    /// The job `id`, if the engine knows it.
    pub fn job(&self, id: u64) -> Option<JobInfo> {
        self.inner.jobs.lock().get(&id).cloned()
    }

    /// Every job the engine knows, oldest first.
    pub fn jobs(&self) -> Vec<JobInfo> {
        self.inner.jobs.lock().values().cloned().collect()
    }

    /// Waits until job `id` ends or `timeout` passes, and returns it as it is then.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown job.
    pub fn wait(&self, id: u64, timeout: Duration) -> Result<JobInfo> {
        let deadline = Instant::now().checked_add(timeout);
        let mut jobs = self.inner.jobs.lock();
        loop {
            let job = jobs.get(&id).ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no job {id}")))?;
            if job.state.is_done() {
                let job = job.clone();
                drop(jobs);
                // Returns only once the job's end is saved (see `Inner::finish`).
                drop(self.inner.save_lock.lock());
                return Ok(job);
            }
            match deadline {
                Some(d) if Instant::now() >= d => return Ok(job.clone()),
                Some(d) => {
                    self.inner.changed.wait_until(&mut jobs, d);
                }
                None => self.inner.changed.wait(&mut jobs),
            }
        }
    }

    /// Cancels every running job and waits until every job thread has ended. After this no job calls the host
    /// or a repository any more. Must not be called from a job's own callbacks.
    pub fn shutdown(&self) {
        for t in self.inner.cancels.lock().values() {
            t.cancel();
        }
        let threads = std::mem::take(&mut *self.inner.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }

    /// Cancels job `id` if it is still running; returns whether it was.
    pub fn cancel(&self, id: u64) -> bool {
        match self.inner.cancels.lock().get(&id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Registers a repository the host provides itself (its own storage, a C callback table, …) under `name`,
    /// as CREATE REPOSITORY would, and initialises it (or attaches to the snapshots already in it). Such
    /// repositories are not saved in the state directory: the host registers them again at each start.
    ///
    /// # Errors
    /// "Repository `name` already exists"; the repository's own errors while initialising it.
    pub fn attach_repository(&self, name: &str, repo: Arc<dyn Repository>, read_only: bool) -> Result<()> {
        let inner = &self.inner;
        let mut repos = inner.repos.write();
        if repos.contains_key(name) {
            return Err(analysis(format!("Repository {name} already exists")));
        }
        pack::init_repository(repo.as_ref()).map_err(|e| e.context("Failed to create repository"))?;
        let meta = RepoMeta {
            id: inner.next_id.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            kind: "HOST".into(),
            location: repo.describe(),
            read_only,
            create_ms: pack::now_ms(),
            properties: Vec::new(),
        };
        repos.insert(name.into(), RepoEntry { meta, repo });
        Ok(())
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
        let (meta, repo) = self.repository(repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        let mut tables: Vec<TableSource> = Vec::new();
        for (t, dir) in tablets {
            let table = match tables.iter().position(|x| x.name == t.table) {
                Some(i) => &mut tables[i],
                None => {
                    tables.push(TableSource { name: t.table.clone(), partitions: Vec::new() });
                    tables.last_mut().ok_or_else(|| Error::new(ErrorKind::Io, "internal"))?
                }
            };
            let part = match table.partitions.iter().position(|x| x.name == t.partition) {
                Some(i) => &mut table.partitions[i],
                None => {
                    table.partitions.push(PartitionSource { name: t.partition.clone(), indexes: Vec::new() });
                    table.partitions.last_mut().ok_or_else(|| Error::new(ErrorKind::Io, "internal"))?
                }
            };
            match part.indexes.iter().position(|x| x.name == t.index) {
                Some(i) => part.indexes[i].tablets.push(TabletSource::new(t.tablet.clone(), dir.clone())),
                None => part.indexes.push(IndexSource {
                    name: t.index.clone(),
                    tablets: vec![TabletSource::new(t.tablet.clone(), dir.clone())],
                }),
            }
        }
        let source = BackupSource { database: database.into(), tables, host_metadata: Vec::new() };
        let control = JobControl { timestamp: Some(timestamp.into()), ..JobControl::default() };
        let (part, summary) = self.inner.packer.backup_part(repo.as_ref(), &source, label, &control)?;
        pack::cluster::write_part(repo.as_ref(), node, &part)?;
        Ok(summary)
    }

    /// Commits a backup several nodes ran: every node in `nodes` must have left its part; the parts are merged
    /// and the manifest written. Returns the number of files in the snapshot.
    ///
    /// # Errors
    /// An unknown repository; missing parts (named); an existing snapshot; repository errors.
    pub fn commit_parts(&self, repository: &str, label: &str, timestamp: &str, nodes: &[String]) -> Result<u64> {
        let (_, repo) = self.repository(repository)?;
        let m = pack::cluster::commit_parts(repo.as_ref(), label, timestamp, nodes)?;
        Ok(m.files().count() as u64)
    }

    // -- repositories ---------------------------------------------------------------------------------------

    fn create_repository(&self, s: &ast::CreateRepository) -> Result<()> {
        let inner = &self.inner;
        if inner.repos.read().contains_key(&s.name) {
            return Err(analysis(format!("Repository {} already exists", s.name)));
        }
        let kind = match &s.storage {
            ast::StorageKind::Local => "LOCAL",
            ast::StorageKind::S3 => "S3",
            ast::StorageKind::Hdfs => "HDFS",
            ast::StorageKind::Broker(_) => "BROKER",
        };
        let meta = RepoMeta {
            id: inner.next_id.fetch_add(1, Ordering::Relaxed),
            name: s.name.clone(),
            kind: kind.into(),
            location: s.location.clone(),
            read_only: s.read_only,
            create_ms: pack::now_ms(),
            properties: s.properties.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        };
        let repo = open_repository(&meta).map_err(|e| e.context("Failed to create repository"))?;
        inner.repos.write().insert(s.name.clone(), RepoEntry { meta, repo });
        inner.save()
    }

    fn drop_repository(&self, name: &str) -> Result<()> {
        let inner = &self.inner;
        if !inner.repos.read().contains_key(name) {
            return Err(analysis("Repository does not exist"));
        }
        if inner.jobs.lock().values().any(|j| !j.state.is_done() && j.repository == name) {
            return Err(analysis("Backup or restore job is running on this repository. Can not drop it"));
        }
        inner.repos.write().remove(name);
        inner.save()
    }

    fn repository(&self, name: &str) -> Result<(RepoMeta, Arc<dyn Repository>)> {
        self.inner
            .repos
            .read()
            .get(name)
            .map(|e| (e.meta.clone(), e.repo.clone()))
            .ok_or_else(|| analysis(format!("Repository {name} does not exist")))
    }

    fn show_repositories(&self) -> ResultSet {
        let mut rs =
            ResultSet::new(&["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "Type", "ErrMsg"]);
        for e in self.inner.repos.read().values() {
            let m = &e.meta;
            let err = pack::list_snapshots(e.repo.as_ref()).err().map_or("NULL".to_owned(), |e| e.to_string());
            rs.rows.push(vec![
                m.id.to_string(),
                m.name.clone(),
                job::time_text(Some(m.create_ms)),
                m.read_only.to_string(),
                m.location.clone(),
                "-".into(),
                m.kind.clone(),
                err,
            ]);
        }
        rs
    }

    fn show_snapshot(&self, repository: &str, filter: &sql::SnapshotFilter) -> Result<ResultSet> {
        let (_, repo) = self.repository(repository)?;
        let snaps = pack::list_snapshots(repo.as_ref())?;
        let selected = snaps.iter().filter(|s| filter.snapshot.as_ref().is_none_or(|l| &s.label == l));
        if let Some(ts) = &filter.timestamp {
            let mut rs = ResultSet::new(&["Snapshot", "Timestamp", "Database", "Details", "Status"]);
            for s in selected.filter(|s| &s.timestamp == ts) {
                let (db, details, status) = match pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp) {
                    Ok(m) => (m.database.clone(), manifest_details(&m), "OK".to_owned()),
                    Err(e) => (String::new(), String::new(), format!("ERROR: {e}")),
                };
                rs.rows.push(vec![s.label.clone(), s.timestamp.clone(), db, details, status]);
            }
            return Ok(rs);
        }
        let mut by_label: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in selected {
            by_label.entry(&s.label).or_default().push(&s.timestamp);
        }
        let mut rs = ResultSet::new(&["Snapshot", "Timestamp", "Status"]);
        for (label, ts) in by_label {
            rs.rows.push(vec![label.to_owned(), ts.join("\n"), "OK".into()]);
        }
        Ok(rs)
    }

    fn drop_snapshot(&self, repository: &str, label: &str, timestamp: Option<&str>) -> Result<()> {
        let (_, repo) = self.repository(repository)?;
        let doomed: Vec<_> = pack::list_snapshots(repo.as_ref())?
            .into_iter()
            .filter(|s| s.label == label && timestamp.is_none_or(|t| s.timestamp == t))
            .collect();
        if doomed.is_empty() {
            return Err(analysis(format!("Snapshot {label} does not exist in repository {repository}")));
        }
        for s in &doomed {
            repo.delete(&crate::format::manifest_key(&s.label, &s.timestamp))?;
        }
        // Frees the space now unless others use the repository (any process): then a later collection will.
        crate::store::collect_garbage(repo.as_ref(), false)?;
        Ok(())
    }

    // -- jobs -----------------------------------------------------------------------------------------------

    fn jobs_of(&self, db: &str, kind: JobKind, filter: Option<&sql::NameFilter>) -> Vec<JobInfo> {
        self.inner
            .jobs
            .lock()
            .values()
            .filter(|j| j.kind == kind && j.database == db && filter.is_none_or(|f| f.matches(&j.label)))
            .cloned()
            .collect()
    }

    fn cancel_running(&self, db: &str, kind: JobKind, filter: Option<&sql::NameFilter>) -> Result<u64> {
        let running = self.jobs_of(db, kind, filter).into_iter().find(|j| !j.state.is_done()).ok_or_else(|| {
            analysis(match kind {
                JobKind::Backup => "No backup job is currently running",
                JobKind::Restore => "No restore is currently running",
            })
        })?;
        self.cancel(running.id);
        Ok(running.id)
    }

    /// Registers a new job for `db` unless one is running there; returns its id and cancel token.
    fn admit(&self, mut job: JobInfo) -> Result<(u64, CancelToken)> {
        let inner = &self.inner;
        let mut jobs = inner.jobs.lock();
        if let Some(r) = jobs.values().find(|j| j.database == job.database && !j.state.is_done()) {
            return Err(analysis(format!(
                "Can only run one backup or restore job of a database at same time, current running: label = {}, jobId = {}",
                r.label, r.id
            )));
        }
        if job.kind == JobKind::Backup {
            if let Some(r) = jobs.values().find(|j| {
                j.kind == JobKind::Backup
                    && !j.state.is_done()
                    && j.repository == job.repository
                    && j.label == job.label
            }) {
                return Err(analysis(format!(
                    "Snapshot with name '{}' already exist in repository (job {})",
                    r.label, r.id
                )));
            }
        }
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        job.id = id;
        jobs.insert(id, job);
        // Keep the last `history` finished jobs per database.
        let mut per_db: HashMap<String, Vec<u64>> = HashMap::new();
        for j in jobs.values().filter(|j| j.state.is_done()) {
            per_db.entry(j.database.clone()).or_default().push(j.id);
        }
        for ids in per_db.values() {
            for old in ids.iter().take(ids.len().saturating_sub(inner.history)) {
                jobs.remove(old);
            }
        }
        let token = CancelToken::new();
        inner.cancels.lock().insert(id, token.clone());
        Ok((id, token))
    }

    fn start_backup(&self, s: &ast::Backup, db: &str) -> Result<u64> {
        if s.global {
            return Err(analysis("BACKUP GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"));
        }
        let (meta, repo) = self.repository(&s.repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {} is read only", s.repository)));
        }
        let timeout = sql::timeout_secs(&s.properties)?;
        if pack::list_snapshots(repo.as_ref())?.iter().any(|x| x.label == s.label.label) {
            return Err(analysis(format!("Snapshot with name '{}' already exist in repository", s.label.label)));
        }
        let catalog = self
            .inner
            .host
            .tables(db)
            .map_err(|e| if e.kind() == ErrorKind::NotFound { analysis(e.message()) } else { e })?;
        let plan = plan::plan_backup(s, db, &catalog)?;
        let mut job = JobInfo::new(0, JobKind::Backup, db, &s.label.label, &s.repository, timeout);
        job.timestamp = pack::timestamp_utc(job.create_ms);
        job.objects = plan.tables.iter().map(|(t, _)| format!("{db}.{t}")).collect();
        job.tablets = plan.tablets().len() as u64;
        let timestamp = job.timestamp.clone();
        let (id, token) = self.admit(job)?;
        self.inner.save()?;
        let inner = self.inner.clone();
        let label = s.label.label.clone();
        spawn_job(&self.inner, id, token.clone(), timeout, move || {
            run_backup(&inner, id, plan, &label, repo, timestamp, token)
        });
        Ok(id)
    }

    fn start_restore(&self, s: &ast::Restore, db: &str) -> Result<u64> {
        if s.global {
            return Err(analysis("RESTORE GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"));
        }
        let (_, repo) = self.repository(&s.repository)?;
        let timeout = sql::timeout_secs(&s.properties)?;
        let timestamp = s.properties.get("backup_timestamp").unwrap_or_default().to_owned();
        let manifest = pack::load_manifest(repo.as_ref(), &s.label.label, &timestamp).map_err(|e| {
            analysis(format!(
                "Failed to get info of snapshot '{}' because: {}. Maybe specified wrong backup timestamp",
                s.label.label,
                e.message()
            ))
        })?;
        let catalog = match self.inner.host.tables(db) {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let plan = plan::plan_restore(s, db, &manifest, &catalog)?;
        let mut job = JobInfo::new(0, JobKind::Restore, db, &s.label.label, &s.repository, timeout);
        job.timestamp = timestamp;
        job.objects = plan
            .tables
            .iter()
            .map(|t| if t.source == t.target { t.source.clone() } else { format!("{} AS {}", t.source, t.target) })
            .collect();
        job.restore_properties = s.properties.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let (id, token) = self.admit(job)?;
        self.inner.save()?;
        let inner = self.inner.clone();
        spawn_job(&self.inner, id, token.clone(), timeout, move || {
            run_restore(&inner, id, plan, manifest, repo, token)
        });
        Ok(id)
    }
}

fn manifest_details(m: &Manifest) -> String {
    let files = m.files().count();
    let bytes: u64 = m.files().map(|f| f.4.size).sum();
    serde_json::json!({
        "database": m.database,
        "label": m.label,
        "backup_time": m.timestamp,
        "olap_table_list": m.tables.iter().map(|t| serde_json::json!({
            "name": t.name,
            "partition_names": t.partitions.iter().map(|p| &p.name).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "files": files,
        "bytes": bytes,
    })
    .to_string()
}

fn open_repository(meta: &RepoMeta) -> Result<Arc<dyn Repository>> {
    match meta.kind.as_str() {
        "LOCAL" => {
            let path = meta.location.strip_prefix("file://").unwrap_or(&meta.location);
            if !Path::new(path).is_absolute() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("location {} must be an absolute file:/// path", meta.location),
                ));
            }
            let repo = LocalRepository::new(path)?;
            pack::init_repository(&repo)?;
            Ok(Arc::new(repo))
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
            let repo = Limit::new(Retry::new(s3, 5, Duration::from_millis(200)), max_requests, bandwidth);
            pack::init_repository(&repo)?;
            Ok(Arc::new(repo))
        }
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{other} repositories are not supported by tabsnap; use WITH S3 or WITH LOCAL"),
        )),
    }
}

/// Runs `body` on a thread of its own, with a watchdog that times the job out; the job's record is closed with
/// the outcome.
fn spawn_job(
    inner: &Arc<Inner>,
    id: u64,
    token: CancelToken,
    timeout_secs: u64,
    body: impl FnOnce() -> Result<()> + Send + 'static,
) {
    let mut timeout = Duration::from_secs(timeout_secs);
    if let Some(cap) = inner.max_timeout {
        timeout = timeout.min(cap);
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog_token = token.clone();
    std::thread::Builder::new()
        .name(format!("tabsnap-job-{id}-timeout"))
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                watchdog_token.time_out();
            }
        })
        .ok();
    let job_inner = inner.clone();
    let spawned = std::thread::Builder::new().name(format!("tabsnap-job-{id}")).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "the job panicked (internal error)")));
        drop(done_tx);
        job_inner.finish(id, result);
    });
    match spawned {
        Ok(handle) => {
            let mut threads = inner.threads.lock();
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
        Err(e) => {
            token.cancel();
            inner.finish(id, Err(Error::new(ErrorKind::Io, format!("cannot start the job's thread: {e}"))));
        }
    }
}

impl Inner {
    fn update(&self, id: u64, f: impl FnOnce(&mut JobInfo)) {
        if let Some(j) = self.jobs.lock().get_mut(&id) {
            f(j);
        }
        self.changed.notify_all();
    }

    fn set_state(&self, id: u64, state: JobState) {
        self.update(id, |j| j.state = state);
        let _ = self.save();
        self.notify_observer(id);
    }

    fn notify_observer(&self, id: u64) {
        if let Some(observe) = &self.observer {
            if let Some(job) = self.jobs.lock().get(&id).cloned() {
                observe(&job);
            }
        }
    }

    fn finish(&self, id: u64, result: Result<()>) {
        self.cancels.lock().remove(&id);
        // The end of a job is saved before anyone can see it: `wait` takes the save lock after seeing a job end.
        let guard = self.save_lock.lock();
        if let Some(j) = self.jobs.lock().get_mut(&id) {
            j.finished_ms = Some(pack::now_ms());
            match result {
                Ok(()) => {
                    j.state = JobState::Finished;
                    j.files_done = j.files_total;
                    j.bytes_done = j.bytes_total;
                }
                Err(e) => {
                    j.state = JobState::Cancelled;
                    let (status, msg) = match e.kind() {
                        ErrorKind::Cancelled => ("CANCELLED", "user cancelled".to_owned()),
                        ErrorKind::TimedOut => ("TIMEOUT", "the job ran past its timeout".to_owned()),
                        _ => ("COMMON_ERROR", e.to_string()),
                    };
                    j.status = status.into();
                    j.error = Some(msg);
                    j.error_kind = Some(e.kind());
                }
            }
        }
        let _ = self.save_locked();
        drop(guard);
        self.changed.notify_all();
        self.notify_observer(id);
    }

    fn state_file(&self) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|d| d.join("state.json"))
    }

    fn load(&self) -> Result<()> {
        let Some(path) = self.state_file() else { return Ok(()) };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let state: SavedState = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(ErrorKind::Format, format!("{}: {e}", path.display())))?;
        self.next_id.store(state.next_id.max(1), Ordering::Relaxed);
        let mut repos = self.repos.write();
        for meta in state.repositories {
            let repo = open_repository(&meta).map_err(|e| e.context(format!("repository {}", meta.name)))?;
            repos.insert(meta.name.clone(), RepoEntry { meta, repo });
        }
        let mut jobs = self.jobs.lock();
        for mut j in state.jobs {
            if !j.state.is_done() {
                j.state = JobState::Cancelled;
                j.status = "CANCELLED".into();
                j.error = Some("the process running the job exited before it finished".into());
                j.finished_ms.get_or_insert(pack::now_ms());
            }
            jobs.insert(j.id, j);
        }
        Ok(())
    }

    fn save(&self) -> Result<()> {
        let _guard = self.save_lock.lock();
        self.save_locked()
    }

    fn save_locked(&self) -> Result<()> {
        let Some(path) = self.state_file() else { return Ok(()) };
        let state = SavedState {
            next_id: self.next_id.load(Ordering::Relaxed),
            repositories: self
                .repos
                .read()
                .values()
                .filter(|e| e.meta.kind != "HOST")
                .map(|e| e.meta.clone())
                .collect(),
            jobs: self.jobs.lock().values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        // Private to its owner: it holds repository credentials.
        let write = |p: &Path| -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(p)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write(&tmp)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}

/// Feeds packer progress into the job record.
struct JobProgress {
    inner: Arc<Inner>,
    id: u64,
    last_observed: Mutex<Option<Instant>>,
}

impl JobProgress {
    fn new(inner: &Arc<Inner>, id: u64) -> Arc<JobProgress> {
        Arc::new(JobProgress { inner: inner.clone(), id, last_observed: Mutex::new(None) })
    }
}

impl Progress for JobProgress {
    fn update(&self, info: &ProgressInfo) {
        self.inner.update(self.id, |j| j.set_progress(info));
        if self.inner.observer.is_some() {
            let due = {
                let mut last = self.last_observed.lock();
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if due {
                self.inner.notify_observer(self.id);
            }
        }
    }
}

fn run_backup(
    inner: &Arc<Inner>,
    id: u64,
    plan: BackupPlan,
    label: &str,
    repo: Arc<dyn Repository>,
    timestamp: String,
    cancel: CancelToken,
) -> Result<()> {
    let db = plan.database.clone();
    inner.set_state(id, JobState::Snapshoting);
    cancel.check()?;
    let tablets = plan.tablets();
    let dirs = inner.host.snapshot(&db, &tablets)?;
    let result = (|| -> Result<()> {
        let mut dir_of: HashMap<&TabletRef, PathBuf> = tablets.iter().zip(dirs).collect();
        let tables = plan
            .tables
            .iter()
            .map(|(table, partitions)| TableSource {
                name: table.clone(),
                partitions: partitions
                    .iter()
                    .map(|p| PartitionSource {
                        name: p.name.clone(),
                        indexes: p
                            .indexes
                            .iter()
                            .map(|i| IndexSource {
                                name: i.name.clone(),
                                tablets: i
                                    .tablets
                                    .iter()
                                    .map(|t| {
                                        let r = TabletRef {
                                            table: table.clone(),
                                            partition: p.name.clone(),
                                            index: i.name.clone(),
                                            tablet: t.id.clone(),
                                        };
                                        TabletSource::new(t.id.clone(), dir_of.remove(&r).unwrap_or_default())
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let source = BackupSource {
            database: db.clone(),
            tables,
            host_metadata: inner.host.metadata(&db, &plan.table_names())?,
        };
        inner.update(id, |j| j.snapshot_finished_ms = Some(pack::now_ms()));
        inner.set_state(id, JobState::UploadSnapshot);
        inner.set_state(id, JobState::Uploading);
        let control = JobControl {
            progress: Some(JobProgress::new(inner, id)),
            cancel: cancel.clone(),
            timestamp: Some(timestamp),
        };
        inner.packer.backup(repo.as_ref(), &source, label, &control)?;
        inner.update(id, |j| j.transfer_finished_ms = Some(pack::now_ms()));
        inner.set_state(id, JobState::SaveMeta);
        inner.set_state(id, JobState::UploadInfo);
        Ok(())
    })();
    let released = inner.host.release(&db, &tablets);
    result?;
    released.map_err(|e| e.context("releasing the tablet snapshots"))
}

fn run_restore(
    inner: &Arc<Inner>,
    id: u64,
    plan: RestorePlan,
    manifest: Manifest,
    repo: Arc<dyn Repository>,
    cancel: CancelToken,
) -> Result<()> {
    let db = plan.database.clone();
    inner.set_state(id, JobState::Snapshoting);
    let mut committed: Vec<&str> = Vec::new();
    let result = (|| -> Result<()> {
        // Prepare a target for every tablet restored.
        let mut targets: HashMap<(String, String, String, String), PathBuf> = HashMap::new();
        for t in &manifest.tables {
            for p in &t.partitions {
                let Some(target) = plan.target_of(&t.name, &p.name) else { continue };
                for i in &p.indexes {
                    let index = if i.name == t.name { target.to_owned() } else { i.name.clone() };
                    for tablet in &i.tablets {
                        cancel.check()?;
                        let r = TabletRef {
                            table: target.to_owned(),
                            partition: p.name.clone(),
                            index: index.clone(),
                            tablet: tablet.id.clone(),
                        };
                        let dir = inner.host.restore_target(&db, id, &r)?;
                        targets.insert((t.name.clone(), p.name.clone(), i.name.clone(), tablet.id.clone()), dir);
                    }
                }
            }
        }
        inner.update(id, |j| {
            j.snapshot_finished_ms = Some(pack::now_ms());
            j.tablets = targets.len() as u64;
        });
        inner.set_state(id, JobState::Download);
        inner.set_state(id, JobState::Downloading);
        let control =
            JobControl { progress: Some(JobProgress::new(inner, id)), cancel: cancel.clone(), timestamp: None };
        inner.packer.restore(
            repo.as_ref(),
            &manifest,
            &|t, p, i, tablet| {
                targets.get(&(t.name.clone(), p.name.clone(), i.name.clone(), tablet.id.clone())).cloned()
            },
            &control,
        )?;
        inner.update(id, |j| j.transfer_finished_ms = Some(pack::now_ms()));
        inner.set_state(id, JobState::Commit);
        cancel.check()?;
        inner.set_state(id, JobState::Committing);
        let metadata = manifest.host_metadata_bytes();
        for t in &plan.tables {
            inner.host.commit_restore(&db, id, &t.target, &t.source, &metadata)?;
            committed.push(&t.target);
        }
        Ok(())
    })();
    if result.is_err() {
        for t in plan.tables.iter().filter(|t| !committed.contains(&t.target.as_str())) {
            let _ = inner.host.abort_restore(&db, id, &t.target);
        }
    }
    result
}
