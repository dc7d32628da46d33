//! One statement to its effect: privileges checked, then repositories created or dropped, jobs started or
//! cancelled, snapshots shown or dropped.

use super::backup::{BackupTarget, run_backup};
use super::restore::run_restore;
use super::{Engine, Outcome, Session, analysis, properties};
use crate::host::{HostFeature, Privilege};
use crate::job::persist::RepoMeta;
use crate::job::{JobInfo, JobKind};
use crate::sql::{self, NameFilter, Statement, ast};
use crate::{Error, ErrorKind, Result, pack, plan};

/// How long CANCEL waits for the job to end.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn denied(what: &str) -> Error {
    Error::new(
        ErrorKind::Analysis,
        format!("Access denied; you need (at least one of) the {what} privilege(s) for this operation"),
    )
}

impl Engine {
    pub(super) fn execute_one(&self, session: &Session, stmt: &Statement) -> Result<Outcome> {
        let host = &self.inner.host;
        let admin = || if host.has_privilege(&session.user, &Privilege::Admin) { Ok(()) } else { Err(denied("ADMIN")) };
        let load = |db: &str| {
            if host.has_privilege(&session.user, &Privilege::Load(db.into())) { Ok(()) } else { Err(denied("LOAD")) }
        };
        let current_db = |db: &Option<String>| -> Result<String> {
            db.clone().or_else(|| session.database.clone()).ok_or_else(|| analysis("No database selected"))
        };
        // Other processes sharing the state directory may have created or dropped repositories.
        if let Some(saved) = self.inner.jobs.saved_repositories()? {
            self.inner.registry.sync(saved)?;
        }
        match stmt {
            Statement::CreateRepository(s) => {
                admin()?;
                self.create_repository(s).map(|()| Outcome::Done)
            }
            Statement::DropRepository(s) => {
                admin()?;
                self.drop_repository(&s.name).map(|()| Outcome::Done)
            }
            Statement::AlterRepository(s) => {
                admin()?;
                self.alter_repository(s).map(|()| Outcome::Done)
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
                self.check_database(&db)?;
                Ok(Outcome::Rows(self.show_backup(&db, filter.as_ref())))
            }
            Statement::ShowRestore(s) => {
                let db = current_db(&s.database)?;
                load(&db)?;
                let filter = sql::read_name_filter(&s.filter, "Label")?;
                self.check_database(&db)?;
                Ok(Outcome::Rows(self.show_restore(&db, filter.as_ref(), s.brief)))
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
                self.drop_snapshot(&s.repository, &s.label, timestamp.as_deref()).map(|()| Outcome::Done)
            }
        }
    }

    fn create_repository(&self, s: &ast::CreateRepository) -> Result<()> {
        let inner = &self.inner;
        if inner.registry.contains(&s.name) {
            return Err(analysis(format!("Repository {} already exists", s.name)));
        }
        let kind = match &s.storage {
            ast::StorageKind::Local => "LOCAL",
            ast::StorageKind::S3 => "S3",
            ast::StorageKind::Hdfs => "HDFS",
            ast::StorageKind::Broker(_) => "BROKER",
        };
        // The password is used now and never kept: not in the state file, not in SHOW REPOSITORIES.
        let mut properties: Vec<(String, String)> =
            s.properties.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        super::repo_properties::check(kind, &properties)?;
        super::repo_properties::compression(&properties)?;
        let password = super::encryption::take_password(&mut properties)?;
        super::retention::policy(&properties, s.read_only)?;
        let meta = RepoMeta {
            id: inner.jobs.next_id()?,
            name: s.name.clone(),
            kind: kind.into(),
            location: s.location.clone(),
            read_only: s.read_only,
            create_ms: pack::now_ms(),
            properties,
        };
        let name = meta.name.clone();
        inner.registry.create(meta.clone(), password)?;
        // Saved in the same transaction that checks the name: another process may have taken it meanwhile.
        let saved = inner.jobs.change_repositories(|list| {
            if list.iter().any(|m| m.name == meta.name) {
                return Err(analysis(format!("Repository {} already exists", meta.name)));
            }
            list.push(meta);
            Ok(())
        });
        if let Err(e) = saved {
            inner.registry.remove(&name);
            return Err(e);
        }
        Ok(())
    }

    fn drop_repository(&self, name: &str) -> Result<()> {
        let inner = &self.inner;
        if !inner.registry.contains(name) {
            return Err(analysis("Repository does not exist"));
        }
        if inner.jobs.any_running_on(name) {
            return Err(analysis("Backup or restore job is running on this repository. Can not drop it"));
        }
        inner.jobs.change_repositories(|list| {
            list.retain(|m| m.name != name);
            Ok(())
        })?;
        inner.registry.remove(name);
        Ok(())
    }

    fn drop_snapshot(&self, repository: &str, name: &ast::LabelName, timestamp: Option<&str>) -> Result<()> {
        let (meta, repo) = self.inner.registry.get(repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {repository} is read only")));
        }
        let label = &name.label;
        let mut doomed = Vec::new();
        for s in pack::list_snapshots(repo.as_ref())? {
            if s.label != *label || timestamp.is_some_and(|t| s.timestamp != t) {
                continue;
            }
            // `db.label` drops only that database's snapshot; the repository keys snapshots by label.
            if let Some(db) = &name.database
                && pack::load_stored_manifest(repo.as_ref(), &s.label, &s.timestamp)?.database() != db
            {
                continue;
            }
            doomed.push(s);
        }
        if doomed.is_empty() {
            let shown = name.database.as_ref().map_or_else(|| label.clone(), |db| format!("{db}.{label}"));
            return Err(analysis(format!("Snapshot {shown} does not exist in repository {repository}")));
        }
        for s in &doomed {
            repo.delete(&crate::format::manifest_key(&s.label, &s.timestamp))?;
        }
        // Frees the space now, under the repository's exclusive lock, unless another job or process uses the
        // repository: then the snapshot is gone at once and a later collection frees its space.
        crate::store::collect_garbage(repo.as_ref(), false)?;
        Ok(())
    }

    fn cancel_running(&self, db: &str, kind: JobKind, filter: Option<&NameFilter>) -> Result<u64> {
        let running = self.jobs_of(db, kind, filter).into_iter().find(|j| !j.state.is_done()).ok_or_else(|| {
            analysis(match kind {
                JobKind::Backup => "No backup job is currently running",
                JobKind::Restore => "No restore is currently running",
            })
        })?;
        self.cancel(running.id);
        // CANCEL returns once the job is CANCELLED (or has ended anyway), as Doris's does.
        let deadline = std::time::Instant::now() + CANCEL_WAIT;
        while std::time::Instant::now() < deadline {
            let now = self.inner.jobs.wait(running.id, std::time::Duration::from_millis(50))?;
            if now.state.is_done() {
                break;
            }
            // A job of another process sharing the state directory ends there; its record is read back here.
            if self.jobs_of(db, kind, None).iter().any(|j| j.id == running.id && j.state.is_done()) {
                break;
            }
        }
        Ok(running.id)
    }

    /// SHOW BACKUP / SHOW RESTORE of a database the host does not know: Doris's "Unknown database".
    fn check_database(&self, db: &str) -> Result<()> {
        match self.inner.host.tables(db) {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(analysis(format!("Unknown database '{db}'"))),
            _ => Ok(()),
        }
    }

    fn start_backup(&self, s: &ast::Backup, db: &str) -> Result<u64> {
        if s.global {
            return Err(analysis("BACKUP GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"));
        }
        let (meta, repo) = self.inner.registry.get(&s.repository)?;
        if meta.read_only {
            return Err(analysis(format!("Repository {} is read only", s.repository)));
        }
        let timeout = sql::timeout_secs(&s.properties)?;
        if pack::list_snapshots(repo.as_ref())?.iter().any(|x| x.label == s.label.label) {
            if s.properties.get("type").is_some_and(|t| t.eq_ignore_ascii_case("incremental")) {
                return Err(analysis("Currently does not support incremental backup"));
            }
            return Err(analysis(format!("Snapshot with name '{}' already exist in repository", s.label.label)));
        }
        let catalog = self
            .inner
            .host
            .tables(db)
            .map_err(|e| if e.kind() == ErrorKind::NotFound { analysis(e.message()) } else { e })?;
        let views = self.inner.host.supports(HostFeature::Views);
        let plan = plan::plan_backup(s, db, catalog, self.inner.ignore_unsupported_tables, views)?;
        let mut job = JobInfo::new(0, JobKind::Backup, db, &s.label.label, &s.repository, timeout);
        job.timestamp = pack::timestamp_utc(job.create_ms);
        job.objects.clone_from(&plan.objects);
        job.tablets = super::backup::count_tablets(self.inner.host.as_ref(), &plan)?;
        job.warnings.clone_from(&plan.skipped);
        let timestamp = job.timestamp.clone();
        let retention = super::retention::policy(&meta.properties, meta.read_only)?;
        // The statement's compression, else the repository's, else the engine's.
        let compression = match s.properties.get(super::repo_properties::COMPRESSION) {
            Some(v) => Some(super::repo_properties::read_compression(v)?),
            None => super::repo_properties::compression(&meta.properties)?,
        };
        let packer = self.inner.packer_for(compression)?;
        let (id, token) = self.inner.jobs.admit_and_save(job)?;
        let inner = self.inner.clone();
        let label = s.label.label.clone();
        let handle = self.inner.jobs.handle(id);
        self.inner.jobs.spawn(id, token.clone(), timeout, move || {
            run_backup(&inner, &handle, plan, &label, BackupTarget { repo, retention, packer }, timestamp, token)
        });
        Ok(id)
    }

    fn start_restore(&self, s: &ast::Restore, db: &str) -> Result<u64> {
        if s.global {
            return Err(analysis("RESTORE GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"));
        }
        let (_, repo) = self.inner.registry.get(&s.repository)?;
        let timeout = sql::timeout_secs(&s.properties)?;
        let settings = properties::restore_settings(&s.properties, self.inner.host.as_ref())?;
        let timestamp = super::restore::backup_timestamp(repo.as_ref(), &s.label.label, &s.properties)?;
        let manifest = pack::load_manifest(repo.as_ref(), &s.label.label, &timestamp).map_err(|e| {
            analysis(format!(
                "Failed to get info of snapshot '{}' because: {}. Maybe specified wrong backup timestamp",
                s.label.label,
                e.message()
            ))
        })?;
        if manifest.files().next().is_none() && manifest.tables.iter().any(|t| !t.partitions.is_empty()) {
            return Err(analysis(format!(
                "Snapshot {} holds metadata only (\"content\" = \"metadata_only\"): it has no data to restore",
                s.label.label
            )));
        }
        let catalog = match self.inner.host.tables(db) {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let metadata = manifest.host_metadata_bytes();
        let host = self.inner.host.as_ref();
        let differs = |target: &str, source: &str| properties::schema_differs(host, db, &metadata, target, source);
        let checks = plan::RestoreChecks {
            commit: settings.commit.clone(),
            force_replace: settings.force_replace,
            clean_tables: settings.clean_tables,
            clean_partitions: settings.clean_partitions,
            views: host.supports(HostFeature::Views),
            schema_differs: &differs,
        };
        let plan = plan::plan_restore(s, db, &manifest, &catalog, &checks)?;
        let mut job = JobInfo::new(0, JobKind::Restore, db, &s.label.label, &s.repository, timeout);
        job.timestamp = timestamp;
        job.objects = plan
            .tables
            .iter()
            .map(|t| (&t.source, &t.target))
            .chain(plan.views.iter().map(|(s, t, _)| (s, t)))
            .map(|(s, t)| if s == t { s.clone() } else { format!("{s} AS {t}") })
            .collect();
        job.restore_objs = restore_objs(&manifest, &plan);
        job.restore_properties = s
            .properties
            .iter()
            .filter(|(k, _)| !matches!(*k, "replication_num" | "replication_allocation"))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        // ReplicationNum and ReplicaAllocation show one allocation, as Doris derives both from it.
        job.restore_properties.push(("replication_num".into(), settings.allocation.total().to_string()));
        job.restore_properties.push(("replication_allocation".into(), settings.allocation.to_string()));
        let (id, token) = self.inner.jobs.admit_and_save(job)?;
        let inner = self.inner.clone();
        let handle = self.inner.jobs.handle(id);
        self.inner
            .jobs
            .spawn(id, token.clone(), timeout, move || run_restore(&inner, &handle, plan, manifest, repo, token));
        Ok(id)
    }
}

/// SHOW RESTORE's RestoreObjs as Doris renders its job info: the snapshot's label, database and backup time,
/// and the tables (with their partitions) and views the job restores.
fn restore_objs(manifest: &crate::format::Manifest, plan: &plan::RestorePlan) -> String {
    serde_json::json!({
        "name": manifest.label,
        "database": manifest.database,
        "backup_time": manifest.created_ms,
        "content": "ALL",
        "olap_table_list": plan.tables.iter().map(|t| serde_json::json!({
            "name": t.source,
            "partition_names": t.partitions,
        })).collect::<Vec<_>>(),
        "view_list": plan.views.iter().map(|(s, _, _)| serde_json::json!({ "name": s })).collect::<Vec<_>>(),
        "odbc_table_list": [],
        "odbc_resource_list": [],
    })
    .to_string()
}
