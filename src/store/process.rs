//! Who a process is, and whether it still runs: the identity a lock or a job record carries so that another
//! process can tell a live holder from a dead one.
//!
//! On the same host (and the same boot), a process is alive when `/proc/<pid>` exists and started at the same
//! clock tick as recorded (a reused pid has another start time). On another host, liveness is unknowable
//! locally: callers fall back to how recently the holder refreshed what it holds.

use serde::{Deserialize, Serialize};

/// One process, as other processes can recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The host name.
    pub host: String,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), empty where unknown.
    #[serde(default)]
    pub boot_id: String,
    /// The process id.
    pub pid: u32,
    /// When the process started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`); 0 where unknown.
    #[serde(default)]
    pub start_ticks: u64,
}

/// What can be known of a process from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs, on this host.
    Alive,
    /// It no longer runs (this host, and its pid is gone or belongs to a younger process).
    Dead,
    /// It ran on another host (or boot): only its refresh times can tell.
    Unknown,
}

impl ProcessId {
    /// This process (computed once per process id: a forked child is another process).
    pub fn current() -> ProcessId {
        static CURRENT: parking_lot::Mutex<Option<ProcessId>> = parking_lot::Mutex::new(None);
        let pid = std::process::id();
        let mut current = CURRENT.lock();
        match &*current {
            Some(me) if me.pid == pid => me.clone(),
            _ => {
                let me = ProcessId {
                    host: host_name(),
                    boot_id: boot_id(),
                    pid,
                    start_ticks: start_ticks(pid).unwrap_or(0),
                };
                *current = Some(me.clone());
                me
            }
        }
    }

    /// Whether this process still runs, as far as this host can tell.
    pub fn liveness(&self) -> Liveness {
        let me = ProcessId::current();
        if self.host != me.host || self.boot_id.is_empty() {
            return Liveness::Unknown;
        }
        if self.boot_id != me.boot_id {
            // Same host, another boot: every process of that boot is gone.
            return Liveness::Dead;
        }
        match start_ticks(self.pid) {
            Some(t) if self.start_ticks == 0 || t == self.start_ticks => Liveness::Alive,
            _ => Liveness::Dead,
        }
    }

    /// Whether this is the calling process.
    pub fn is_current(&self) -> bool {
        *self == ProcessId::current()
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} on {}", self.pid, self.host)
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| read_trimmed("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

/// Field 22 of `/proc/<pid>/stat`; the command name (field 2) may hold spaces and parentheses, so fields are
/// counted after its last `)`.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_dead() {
        let me = ProcessId::current();
        assert!(me.is_current());
        if me.boot_id.is_empty() {
            return; // no /proc: nothing more to check here
        }
        assert_eq!(me.liveness(), Liveness::Alive);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let ticks = start_ticks(pid).unwrap_or(0);
        child.wait().unwrap();
        let gone = ProcessId { pid, start_ticks: ticks.max(1), ..me.clone() };
        assert_eq!(gone.liveness(), Liveness::Dead);
        let reused = ProcessId { start_ticks: me.start_ticks + 1, ..me.clone() };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let elsewhere = ProcessId { host: format!("{}-other", me.host), ..me };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }
}
