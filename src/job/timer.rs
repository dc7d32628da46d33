//! One timer for the timeouts of every job of an engine: a thread (started with the first job) that sleeps until
//! the nearest deadline and times that job out through its cancel token.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::pack::CancelToken;

#[derive(Default)]
struct State {
    /// Armed deadlines, nearest first; the job id makes each key unique.
    deadlines: BTreeMap<(Instant, u64), CancelToken>,
    /// The deadline of each armed job.
    armed: HashMap<u64, Instant>,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// The timeouts of an engine's jobs.
#[derive(Default)]
pub(crate) struct Timer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timer {
    /// Times job `id` out through `token` at `deadline`, unless [`Timer::disarm`] comes first.
    pub(crate) fn arm(&self, id: u64, deadline: Instant, token: CancelToken) {
        {
            let mut s = self.shared.state.lock();
            if let Some(old) = s.armed.insert(id, deadline) {
                s.deadlines.remove(&(old, id));
            }
            s.deadlines.insert((deadline, id), token);
        }
        self.shared.changed.notify_all();
        let mut thread = self.thread.lock();
        if thread.is_none() {
            let shared = self.shared.clone();
            // Without the thread no job times out; the jobs themselves still run.
            *thread = std::thread::Builder::new().name("tabsnap-timeouts".into()).spawn(move || run(&shared)).ok();
        }
    }

    /// Forgets job `id`'s deadline (it ended).
    pub(crate) fn disarm(&self, id: u64) {
        let mut s = self.shared.state.lock();
        if let Some(deadline) = s.armed.remove(&id) {
            s.deadlines.remove(&(deadline, id));
        }
    }
}

fn run(shared: &Shared) {
    let mut s = shared.state.lock();
    while !s.stop {
        let now = Instant::now();
        while let Some(entry) = s.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), token) = entry.remove_entry();
            s.armed.remove(&id);
            token.time_out();
        }
        match s.deadlines.keys().next() {
            Some(&(deadline, _)) => {
                shared.changed.wait_until(&mut s, deadline);
            }
            None => shared.changed.wait(&mut s),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.shared.state.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_nearest_deadline_fires_first_and_a_disarmed_one_never() {
        let timer = Timer::default();
        let (slow, fast, gone) = (CancelToken::new(), CancelToken::new(), CancelToken::new());
        let now = Instant::now();
        timer.arm(1, now + Duration::from_millis(300), slow.clone());
        timer.arm(2, now + Duration::from_millis(50), fast.clone());
        timer.arm(3, now + Duration::from_millis(100), gone.clone());
        timer.disarm(3);
        std::thread::sleep(Duration::from_millis(150));
        assert!(fast.is_cancelled() && !slow.is_cancelled());
        std::thread::sleep(Duration::from_millis(300));
        assert!(slow.is_cancelled() && !gone.is_cancelled());
    }
}
