//! A job's record: the BACKUP and RESTORE state machines, their progress and the rows SHOW prints.

use serde::{Deserialize, Serialize};

use crate::pack::{ProgressInfo, now_ms};

/// BACKUP or RESTORE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// BACKUP SNAPSHOT.
    Backup,
    /// RESTORE SNAPSHOT.
    Restore,
}

/// A job's state, with Doris's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted, not started.
    Pending,
    /// Taking tablet snapshots (BACKUP) or preparing restore targets (RESTORE).
    Snapshoting,
    /// Preparing the upload.
    UploadSnapshot,
    /// Packing and uploading.
    Uploading,
    /// Writing the snapshot's metadata.
    SaveMeta,
    /// Committing the snapshot's manifest.
    UploadInfo,
    /// Preparing the download.
    Download,
    /// Downloading and writing tablet files.
    Downloading,
    /// About to make the restored tables visible.
    Commit,
    /// Making the restored tables visible.
    Committing,
    /// Done.
    Finished,
    /// Cancelled by CANCEL, a timeout or an error.
    Cancelled,
}

impl JobState {
    /// Doris's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Snapshoting => "SNAPSHOTING",
            JobState::UploadSnapshot => "UPLOAD_SNAPSHOT",
            JobState::Uploading => "UPLOADING",
            JobState::SaveMeta => "SAVE_META",
            JobState::UploadInfo => "UPLOAD_INFO",
            JobState::Download => "DOWNLOAD",
            JobState::Downloading => "DOWNLOADING",
            JobState::Commit => "COMMIT",
            JobState::Committing => "COMMITTING",
            JobState::Finished => "FINISHED",
            JobState::Cancelled => "CANCELLED",
        }
    }

    /// Whether the job has ended.
    pub fn is_done(self) -> bool {
        matches!(self, JobState::Finished | JobState::Cancelled)
    }
}

/// Everything SHOW BACKUP / SHOW RESTORE reports about a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job id.
    pub id: u64,
    /// BACKUP or RESTORE.
    pub kind: JobKind,
    /// The database (target database for RESTORE).
    pub database: String,
    /// The snapshot label.
    pub label: String,
    /// The repository.
    pub repository: String,
    /// The backup timestamp (BACKUP: of the snapshot it creates; RESTORE: the one it restores).
    pub timestamp: String,
    /// The state.
    pub state: JobState,
    /// The objects: `db.table` names (BACKUP), or `source AS target` (RESTORE).
    pub objects: Vec<String>,
    /// Times in milliseconds since the epoch.
    pub create_ms: u64,
    /// When tablet snapshots were taken (BACKUP) or targets prepared (RESTORE).
    pub snapshot_finished_ms: Option<u64>,
    /// When the upload (BACKUP) or download (RESTORE) finished.
    pub transfer_finished_ms: Option<u64>,
    /// When the job ended.
    pub finished_ms: Option<u64>,
    /// Progress counters.
    pub files_total: u64,
    /// Files done.
    pub files_done: u64,
    /// Bytes of file content in the job.
    pub bytes_total: u64,
    /// Bytes done.
    pub bytes_done: u64,
    /// Tablets in the job.
    pub tablets: u64,
    /// The error, when the job failed.
    pub error: Option<String>,
    /// `OK`, `CANCELLED`, `TIMEOUT` or `COMMON_ERROR`.
    pub status: String,
    /// The timeout, seconds.
    pub timeout_secs: u64,
    /// RESTORE properties shown by SHOW RESTORE (`AllowLoad`, `ReplicationNum`, …).
    pub restore_properties: Vec<(String, String)>,
    /// RESTORE: SHOW RESTORE's RestoreObjs, the JSON Doris shows (what the snapshot holds that the job
    /// restores); empty for jobs recorded before it existed.
    #[serde(default)]
    pub restore_objs: String,
    /// What kind of error ended the job, when one did (not kept across restarts).
    #[serde(skip)]
    pub error_kind: Option<crate::ErrorKind>,
    /// The process that runs (or ran) the job, where processes share a state directory.
    #[serde(default)]
    pub owner: Option<crate::store::ProcessId>,
    /// Set by CANCEL from another process sharing the state directory; the owner cancels the job when it sees it.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Failures that did not change the job's outcome: a tablet snapshot that could not be released after the
    /// snapshot was committed, a restore that could not be aborted, a job state that could not be saved.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl JobInfo {
    /// A new PENDING job.
    pub fn new(id: u64, kind: JobKind, database: &str, label: &str, repository: &str, timeout_secs: u64) -> JobInfo {
        JobInfo {
            id,
            kind,
            database: database.into(),
            label: label.into(),
            repository: repository.into(),
            timestamp: String::new(),
            state: JobState::Pending,
            objects: Vec::new(),
            create_ms: now_ms(),
            snapshot_finished_ms: None,
            transfer_finished_ms: None,
            finished_ms: None,
            files_total: 0,
            files_done: 0,
            bytes_total: 0,
            bytes_done: 0,
            tablets: 0,
            error: None,
            status: "OK".into(),
            timeout_secs,
            restore_properties: Vec::new(),
            restore_objs: String::new(),
            error_kind: None,
            owner: None,
            cancel_requested: false,
            warnings: Vec::new(),
        }
    }

    /// Doris's TaskErrMsg column: the error that ended the job, then any warnings, `; `-separated.
    pub fn task_err_msg(&self) -> String {
        self.error.iter().chain(&self.warnings).cloned().collect::<Vec<_>>().join("; ")
    }

    /// Copies the packer's counters.
    pub fn set_progress(&mut self, p: &ProgressInfo) {
        self.files_total = p.files_total;
        self.files_done = p.files_done;
        self.bytes_total = p.bytes_total;
        self.bytes_done = p.bytes_done;
    }

    /// Doris's Progress column, `[key: done/total]` entries joined with `, ` (Doris keys them by task):
    /// `[files: 3/10], [bytes: 1048576/4194304]`; empty before the job knows its files.
    pub fn progress_text(&self) -> String {
        if self.files_total == 0 && self.bytes_total == 0 && self.state != JobState::Finished {
            return String::new();
        }
        format!("[files: {}/{}], [bytes: {}/{}]", self.files_done, self.files_total, self.bytes_done, self.bytes_total)
    }

    /// Doris's UnfinishedTasks column, `key=value` entries joined with `, ` (Doris maps task ids to backends):
    /// `files=7` while files are left, empty once none is (or the job ended).
    pub fn unfinished_text(&self) -> String {
        let left = self.files_total.saturating_sub(self.files_done);
        if left == 0 || self.state.is_done() { String::new() } else { format!("files={left}") }
    }

    /// Doris's BackupObjs column: each object in brackets, joined with `, ` (`[db.t1], [db.t2]`).
    pub fn backup_objs_text(&self) -> String {
        self.objects.iter().map(|o| format!("[{o}]")).collect::<Vec<_>>().join(", ")
    }

    /// Doris's Status column: `[OK]` or `[CANCELLED, msg: …]`.
    pub fn status_text(&self) -> String {
        match &self.error {
            None => format!("[{}]", self.status),
            Some(e) => format!("[{}, msg: {e}]", self.status),
        }
    }

    /// The SHOW BACKUP row (columns [`BACKUP_COLUMNS`]).
    pub fn backup_row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.label.clone(),
            self.database.clone(),
            self.state.name().into(),
            self.backup_objs_text(),
            time_text(Some(self.create_ms)),
            time_text(self.snapshot_finished_ms),
            time_text(self.transfer_finished_ms),
            time_text(self.finished_ms),
            self.unfinished_text(),
            self.progress_text(),
            self.task_err_msg(),
            self.status_text(),
            self.timeout_secs.to_string(),
        ]
    }

    /// The SHOW RESTORE row (columns [`RESTORE_COLUMNS`]); `brief` leaves out RestoreObjs, Progress and
    /// TaskErrMsg.
    pub fn restore_row(&self, brief: bool) -> Vec<String> {
        let prop = |k: &str, default: &str| {
            self.restore_properties.iter().find(|(key, _)| key == k).map_or(default.to_owned(), |(_, v)| v.clone())
        };
        let objs = serde_json::json!({
            "name": self.label,
            "database": self.database,
            "backup_time": self.timestamp,
            "olap_table_list": self.objects,
        });
        let mut row = vec![
            self.id.to_string(),
            self.label.clone(),
            self.timestamp.clone(),
            self.database.clone(),
            self.state.name().into(),
            prop("allow_load", "false"),
            prop("replication_num", "3"),
            prop("replication_allocation", "tag.location.default: 3"),
            prop("reserve_replica", "false"),
            prop("reserve_dynamic_partition_enable", "false"),
            if self.restore_objs.is_empty() { objs.to_string() } else { self.restore_objs.clone() },
            time_text(Some(self.create_ms)),
            time_text(self.snapshot_finished_ms),
            time_text(self.snapshot_finished_ms),
            time_text(self.transfer_finished_ms),
            time_text(self.finished_ms),
            self.unfinished_text(),
            self.progress_text(),
            self.task_err_msg(),
            self.status_text(),
            self.timeout_secs.to_string(),
        ];
        if brief {
            // RestoreObjs (10), Progress (17), TaskErrMsg (18).
            row.remove(18);
            row.remove(17);
            row.remove(10);
        }
        row
    }
}

/// SHOW BACKUP's columns.
pub const BACKUP_COLUMNS: &[&str] = &[
    "JobId",
    "SnapshotName",
    "DbName",
    "State",
    "BackupObjs",
    "CreateTime",
    "SnapshotFinishedTime",
    "UploadFinishedTime",
    "FinishedTime",
    "UnfinishedTasks",
    "Progress",
    "TaskErrMsg",
    "Status",
    "Timeout",
];

/// SHOW RESTORE's columns.
pub const RESTORE_COLUMNS: &[&str] = &[
    "JobId",
    "Label",
    "Timestamp",
    "DbName",
    "State",
    "AllowLoad",
    "ReplicationNum",
    "ReplicaAllocation",
    "ReserveReplica",
    "ReserveDynamicPartitionEnable",
    "RestoreObjs",
    "CreateTime",
    "MetaPreparedTime",
    "SnapshotFinishedTime",
    "DownloadFinishedTime",
    "FinishedTime",
    "UnfinishedTasks",
    "Progress",
    "TaskErrMsg",
    "Status",
    "Timeout",
];

/// SHOW BRIEF RESTORE's columns.
pub fn brief_restore_columns() -> Vec<&'static str> {
    RESTORE_COLUMNS.iter().copied().filter(|c| !matches!(*c, "RestoreObjs" | "Progress" | "TaskErrMsg")).collect()
}

/// `yyyy-MM-dd HH:mm:ss` (UTC), or `NULL`.
pub fn time_text(ms: Option<u64>) -> String {
    match ms {
        None => "NULL".into(),
        Some(ms) => {
            let t = crate::pack::timestamp_utc(ms);
            // yyyy-MM-dd-HH-mm-ss → yyyy-MM-dd HH:mm:ss
            format!("{} {}:{}:{}", &t[..10], &t[11..13], &t[14..16], &t[17..19])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_their_columns() {
        let j = JobInfo::new(7, JobKind::Restore, "db", "l", "r", 86400);
        assert_eq!(j.backup_row().len(), BACKUP_COLUMNS.len());
        assert_eq!(j.restore_row(false).len(), RESTORE_COLUMNS.len());
        assert_eq!(j.restore_row(true).len(), brief_restore_columns().len());
        assert_eq!(time_text(Some(1_704_103_200_000)), "2024-01-01 10:00:00");
        assert_eq!(j.status_text(), "[OK]");
    }
}
