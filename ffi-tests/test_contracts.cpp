// The promises of include/tabsnap.h under failure, concurrency and shutdown, as a host engine relies on them:
// snapshots released on every path, repository max_concurrency honoured, TABSNAP_STATUS_CALLBACK for failing
// callbacks, `destroy` on every failure path, progress callbacks that call the engine back, and failures that
// do not change a job's outcome reported beside it.
#include "mem_host.hpp"

#include <cstdint>
#include <cstdlib>

#include <unistd.h>

// A call whose status the test does not otherwise look at must still succeed.
static void expect_ok(tabsnap_status st, const char *what) {
  if (st != TABSNAP_STATUS_OK) {
    std::printf("FAIL %s: status %d\n", what, int(st));
    failures++;
  }
}

static tabsnap_job_info wait_job(const tabsnap_engine *e, uint64_t job) {
  tabsnap_job_info info{};
  info.struct_size = sizeof info;
  expect_ok(tabsnap_engine_wait(e, job, 120000, &info, nullptr), "tabsnap_engine_wait");
  return info;
}

// Starts one BACKUP/RESTORE statement; 0 (and `why`) when it did not start.
static uint64_t start(const tabsnap_engine *e, const std::string &sql, std::string *why = nullptr) {
  tabsnap_result *raw = nullptr;
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_engine_execute(e, "root", nullptr, sql.c_str(), &raw, &raw_err);
  ResultPtr res(raw);
  ErrorPtr err(raw_err);
  if (why) *why = message(err.get());
  return st == TABSNAP_STATUS_OK ? tabsnap_result_job_id(res.get(), 0) : 0;
}

static std::string job_error(const tabsnap_engine *e, uint64_t job) {
  char *msg = nullptr;
  expect_ok(tabsnap_engine_job_error(e, job, &msg, nullptr), "tabsnap_engine_job_error");
  std::string m = msg ? msg : "";
  tabsnap_string_free(msg);
  return m;
}

static std::string timestamp_of(const tabsnap_engine *e, const std::string &repo, const std::string &label) {
  tabsnap_result *r = nullptr;
  std::string sql = "SHOW SNAPSHOT ON " + repo + " WHERE SNAPSHOT = '" + label + "'";
  expect_ok(tabsnap_engine_execute(e, "root", nullptr, sql.c_str(), &r, nullptr), "tabsnap_engine_execute");
  ResultPtr rows(r);
  return tabsnap_result_row_count(rows.get(), 0) ? tabsnap_result_value(rows.get(), 0, 0, 1) : "";
}

static EnginePtr new_engine(Catalog *cat, tabsnap_options *opts = nullptr) {
  tabsnap_host_callbacks host = host_table(cat);
  host.release_tablet = host_release;
  tabsnap_engine *raw = nullptr;
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_engine_new(&host, opts, &raw, &raw_err);
  ErrorPtr err(raw_err);
  if (st != TABSNAP_STATUS_OK) std::printf("engine_new failed: %s\n", message(err.get()).c_str());
  return EnginePtr(raw);
}

static void attach(const tabsnap_engine *e, const char *name, MemRepo *r) {
  tabsnap_repo_callbacks t = repo_table(r);
  expect_ok(tabsnap_engine_attach_repository(e, name, &t, false, nullptr), "tabsnap_engine_attach_repository");
}

static std::string counts(Catalog *c) {
  return std::to_string(c->taken) + " taken, " + std::to_string(c->released) + " released";
}

static void reset(Catalog *c) {
  c->snapshot_calls = 0;
  c->taken = 0;
  c->released = 0;
  c->fail_snapshot_at = 0;
  c->most_held = 0;
}

// With batches of one file, a backup snapshots one tablet, backs it up and releases it before the next: the host
// never holds two snapshots, and a snapshot failing at a later batch leaves every earlier one released.
static void one_batch_of_snapshots_at_a_time(Catalog *cat) {
  OptionsPtr opts(tabsnap_options_new());
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_options_set_batch_files(opts.get(), 0, &raw_err);
  ErrorPtr err(raw_err);
  CHECK("batch_files_zero_refused", st == TABSNAP_STATUS_INVALID_ARGUMENT &&
        message(err.get()).find("batch files") != std::string::npos, message(err.get()));
  expect_ok(tabsnap_options_set_batch_files(opts.get(), 1, nullptr), "tabsnap_options_set_batch_files");
  EnginePtr e = new_engine(cat, opts.get());
  MemRepo mem;
  attach(e.get(), "mem", &mem);
  reset(cat);
  tabsnap_job_info info = wait_job(e.get(), start(e.get(), "BACKUP SNAPSHOT db0.batched TO mem"));
  CHECK("batches_of_one_tablet", info.state == TABSNAP_JOB_STATE_FINISHED && cat->taken == 4 && cat->released == 4 &&
        cat->most_held == 1, counts(cat) + ", most held " + std::to_string(cat->most_held));
  reset(cat);
  cat->fail_snapshot_at = 3;
  info = wait_job(e.get(), start(e.get(), "BACKUP SNAPSHOT db0.batched_fail TO mem"));
  CHECK("batch_failing_releases_earlier_batches", info.state == TABSNAP_JOB_STATE_CANCELLED && cat->taken == 2 &&
        cat->released == 2 && cat->most_held == 1, counts(cat));
  reset(cat);
}

// A host that lists an index's tablets on demand (TABSNAP_HOST_FEATURE_INDEX_TABLETS, table version 3) is asked
// for each index's tablets when the job starts (to count them) and when the backup reaches the index; the
// snapshot restores the same files; a listing that fails fails the statement, or the job, with its message.
static void tablets_listed_an_index_at_a_time(Catalog *cat) {
  cat->by_index = true;
  {
    EnginePtr e = new_engine(cat);
    MemRepo mem;
    attach(e.get(), "mem", &mem);
    reset(cat);
    cat->index_listings = 0;
    tabsnap_job_info info = wait_job(e.get(), start(e.get(), "BACKUP SNAPSHOT db0.listed TO mem"));
    // db0: 2 partitions x 2 indexes, each listed twice; 4 tablets.
    CHECK("index_tablets_listed_on_demand", info.state == TABSNAP_JOB_STATE_FINISHED && cat->index_listings == 8 &&
          cat->taken == 4 && cat->released == 4,
          counts(cat) + ", listings " + std::to_string(cat->index_listings));
    CHECK("index_tablets_sink_takes_tablets_only", cat->sink_refused_index, "");
    CHECK("index_tablets_snapshot_committed", !timestamp_of(e.get(), "mem", "listed").empty(), "");

    // The count's listing fails: the statement is refused; the backup's fails: the job, releasing what it took.
    for (int at : {1, 6}) {
      reset(cat);
      cat->index_listings = 0;
      cat->fail_listing_at = at;
      std::string label = "listing_fails_" + std::to_string(at);
      std::string sql = "BACKUP SNAPSHOT db0." + label + " TO mem";
      std::string why;
      uint64_t job = start(e.get(), sql, &why);
      bool failed;
      if (at == 1) {
        failed = job == 0 && why.find("the index is being rebuilt") != std::string::npos;
      } else {
        info = wait_job(e.get(), job);
        failed = job != 0 && info.state == TABSNAP_JOB_STATE_CANCELLED && info.status == TABSNAP_STATUS_CALLBACK &&
                 job_error(e.get(), job).find("the index is being rebuilt") != std::string::npos;
      }
      CHECK(("index_listing_failing_at_" + std::to_string(at)).c_str(),
            failed && cat->taken == cat->released, why + " " + counts(cat));
      cat->fail_listing_at = 0;
    }
  }
  cat->by_index = false;
  reset(cat);
}

// Snapshots are released on every path: success, a failing snapshot_tablet at any tablet, cancel, timeout,
// engine free.
static void snapshots_released_on_every_path(Catalog *cat) {
  EnginePtr e = new_engine(cat);
  MemRepo mem;
  attach(e.get(), "mem", &mem);

  reset(cat);
  tabsnap_job_info info = wait_job(e.get(), start(e.get(), "BACKUP SNAPSHOT db0.ok1 TO mem"));
  CHECK("release_on_success", info.state == TABSNAP_JOB_STATE_FINISHED && cat->taken == 4 && cat->released == 4,
        counts(cat));

  for (int n = 1; n <= 4; n++) {
    reset(cat);
    cat->fail_snapshot_at = n;
    uint64_t job = start(e.get(), "BACKUP SNAPSHOT db0.fail" + std::to_string(n) + " TO mem");
    info = wait_job(e.get(), job);
    std::string name = "release_when_snapshot_fails_at_" + std::to_string(n);
    CHECK(name.c_str(), info.state == TABSNAP_JOB_STATE_CANCELLED && cat->taken == n - 1 && cat->released == n - 1,
          counts(cat));
    name = "callback_status_when_snapshot_fails_at_" + std::to_string(n);
    CHECK(name.c_str(), info.status == TABSNAP_STATUS_CALLBACK &&
          job_error(e.get(), job).find("the tablet is being compacted") != std::string::npos,
          std::to_string(info.status) + " " + job_error(e.get(), job));
  }
  reset(cat);

  MemRepo gated;
  gated.gated = true;
  attach(e.get(), "gated", &gated);
  uint64_t job = start(e.get(), "BACKUP SNAPSHOT db1.c1 TO gated");
  gated.wait_arrival();
  CHECK("cancel_running", tabsnap_engine_cancel(e.get(), job, nullptr) == TABSNAP_STATUS_OK, "");
  gated.open_gate();
  info = wait_job(e.get(), job);
  CHECK("release_on_cancel", info.status == TABSNAP_STATUS_CANCELLED && cat->taken == 4 && cat->released == 4,
        counts(cat));

  reset(cat);
  OptionsPtr opts(tabsnap_options_new());
  expect_ok(tabsnap_options_set_max_job_timeout_ms(opts.get(), 200, nullptr), "tabsnap_options_set_max_job_timeout_ms");
  EnginePtr timed = new_engine(cat, opts.get());
  MemRepo gated2;
  gated2.gated = true;
  attach(timed.get(), "gated", &gated2);
  job = start(timed.get(), "BACKUP SNAPSHOT db1.t1 TO gated");
  gated2.wait_arrival();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  gated2.open_gate();
  info = wait_job(timed.get(), job);
  CHECK("release_on_timeout", info.status == TABSNAP_STATUS_TIMED_OUT && cat->taken == 4 && cat->released == 4,
        counts(cat));

  reset(cat);
  EnginePtr doomed = new_engine(cat);
  MemRepo gated3;
  gated3.gated = true;
  attach(doomed.get(), "gated", &gated3);
  start(doomed.get(), "BACKUP SNAPSHOT db2.d1 TO gated");
  gated3.wait_arrival();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gated3.open_gate();
  });
  doomed.reset();  // tabsnap_engine_free: cancels, waits, destroys
  opener.join();
  CHECK("release_on_engine_free", cat->taken == 4 && cat->released == 4 && gated3.destroyed == 1, counts(cat));
}

// max_concurrency = n: never more than n repository callbacks at once, two backups and two restores running.
static void max_concurrency_honoured(Catalog *cat) {
  for (uint32_t n = 1; n <= 3; n++) {
    OptionsPtr opts(tabsnap_options_new());
    expect_ok(tabsnap_options_set_threads(opts.get(), 4, nullptr), "tabsnap_options_set_threads");
    expect_ok(tabsnap_options_set_chunk_size(opts.get(), 64 << 10, nullptr), "tabsnap_options_set_chunk_size");
    EnginePtr e = new_engine(cat, opts.get());
    MemRepo r;
    r.max_concurrency = n;
    r.call_ms = 2;
    attach(e.get(), "c", &r);
    std::string a = "a" + std::to_string(n), b = "b" + std::to_string(n);
    uint64_t ja = start(e.get(), "BACKUP SNAPSHOT db0." + a + " TO c");
    uint64_t jb = start(e.get(), "BACKUP SNAPSHOT db1." + b + " TO c");
    std::string why;
    auto finished = [&](uint64_t job) {
      bool done = job != 0 && wait_job(e.get(), job).state == TABSNAP_JOB_STATE_FINISHED;
      if (!done) why += " job " + std::to_string(job) + ": " + job_error(e.get(), job) + ";";
      return done;
    };
    bool ok = finished(ja) && finished(jb);
    auto restore = [&](const std::string &db, const std::string &label) {
      std::string refused;
      uint64_t job = start(e.get(), "RESTORE SNAPSHOT " + db + "." + label + " FROM c ON (t AS t_" + label +
                                        ") PROPERTIES ('backup_timestamp' = '" + timestamp_of(e.get(), "c", label) +
                                        "')",
                           &refused);
      if (!job) why += " restore refused: " + refused + ";";
      return job;
    };
    uint64_t ra = restore("db0", a), rb = restore("db1", b);
    ok = finished(ra) && finished(rb) && ok;
    std::string name = "max_concurrency_" + std::to_string(n);
    CHECK(name.c_str(), ok && r.peak <= int(n),
          "jobs ok: " + std::to_string(ok) + why + " peak " + std::to_string(r.peak) + " calls at once");
  }
}

// Ownership: `destroy` runs on every failure path of tabsnap_engine_new and tabsnap_engine_attach_repository.
static void destroy_on_every_failure_path(Catalog *cat, const fs::path &root) {
  MemRepo r;
  tabsnap_repo_callbacks t = repo_table(&r);
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_engine_attach_repository(nullptr, "x", &t, false, &raw_err);
  ErrorPtr err(raw_err);
  CHECK("attach_null_engine_destroys", st == TABSNAP_STATUS_NULL_ARGUMENT && r.destroyed == 1,
        std::to_string(st) + " " + std::to_string(r.destroyed));
  EnginePtr e = new_engine(cat);
  st = tabsnap_engine_attach_repository(e.get(), nullptr, &t, false, nullptr);
  CHECK("attach_null_name_destroys", st == TABSNAP_STATUS_NULL_ARGUMENT && r.destroyed == 2,
        std::to_string(st) + " " + std::to_string(r.destroyed));
  st = tabsnap_engine_attach_repository(e.get(), "x", nullptr, false, nullptr);
  CHECK("attach_null_table", st == TABSNAP_STATUS_NULL_ARGUMENT, std::to_string(st));
  e.reset();

  Catalog c;
  tabsnap_host_callbacks host = host_table(&c);
  st = tabsnap_engine_new(&host, nullptr, nullptr, nullptr);
  CHECK("engine_new_null_out_destroys", st == TABSNAP_STATUS_NULL_ARGUMENT && c.destroyed == 1,
        std::to_string(st) + " " + std::to_string(c.destroyed));
  tabsnap_engine *raw = nullptr;
  tabsnap_host_callbacks bad = host;
  bad.version = 99;
  st = tabsnap_engine_new(&bad, nullptr, &raw, nullptr);
  CHECK("engine_new_bad_version_destroys", st == TABSNAP_STATUS_INVALID_ARGUMENT && c.destroyed == 2 && !raw,
        std::to_string(st) + " " + std::to_string(c.destroyed));
  bad = host;
  bad.snapshot_tablet = nullptr;
  st = tabsnap_engine_new(&bad, nullptr, &raw, nullptr);
  CHECK("engine_new_missing_callback_destroys", st == TABSNAP_STATUS_INVALID_ARGUMENT && c.destroyed == 3 && !raw,
        std::to_string(st) + " " + std::to_string(c.destroyed));
  fs::path state = root / "bad-state";
  fs::create_directories(state);
  std::ofstream(state / "state.json") << "not json";
  OptionsPtr opts(tabsnap_options_new());
  expect_ok(tabsnap_options_set_state_dir(opts.get(), state.c_str(), nullptr), "tabsnap_options_set_state_dir");
  st = tabsnap_engine_new(&host, opts.get(), &raw, nullptr);
  CHECK("engine_new_failed_build_destroys", st == TABSNAP_STATUS_FORMAT && c.destroyed == 4 && !raw,
        std::to_string(st) + " " + std::to_string(c.destroyed));
  st = tabsnap_engine_new(nullptr, nullptr, &raw, nullptr);
  CHECK("engine_new_null_host", st == TABSNAP_STATUS_NULL_ARGUMENT && !raw, std::to_string(st));
  st = tabsnap_engine_new(&host, nullptr, &raw, nullptr);
  tabsnap_engine_free(raw);
  CHECK("engine_free_destroys_once", st == TABSNAP_STATUS_OK && c.destroyed == 5, std::to_string(c.destroyed));
}

// A progress callback may call the engine back; its last call for a job comes before tabsnap_engine_wait returns.
struct Watch {
  std::atomic<const tabsnap_engine *> engine{nullptr};
  std::atomic<int> calls{0}, refused{0};
  std::atomic<bool> seen_end{false};
};

static void on_progress(void *user_data, uint64_t job, const tabsnap_job_info *info) {
  auto *w = static_cast<Watch *>(user_data);
  const tabsnap_engine *e = w->engine.load();
  if (!e) return;
  w->calls++;
  tabsnap_job_info now{};
  now.struct_size = sizeof now;
  if (tabsnap_engine_job(e, job, &now, nullptr) != TABSNAP_STATUS_OK) w->refused++;
  if (tabsnap_engine_wait(e, job, 0, &now, nullptr) != TABSNAP_STATUS_OK) w->refused++;
  tabsnap_result *r = nullptr;
  if (tabsnap_engine_execute(e, "root", "db0", "SHOW BACKUP", &r, nullptr) != TABSNAP_STATUS_OK) w->refused++;
  tabsnap_result_free(r);
  if (info->state == TABSNAP_JOB_STATE_FINISHED || info->state == TABSNAP_JOB_STATE_CANCELLED) {
    // Waiting without a limit for the job whose end is being reported returns at once.
    if (tabsnap_engine_wait(e, job, UINT64_MAX, &now, nullptr) != TABSNAP_STATUS_OK || now.state != info->state)
      w->refused++;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    w->seen_end = true;
  }
}

static void progress_callback_may_call_the_engine(Catalog *cat) {
  Watch w;
  OptionsPtr opts(tabsnap_options_new());
  expect_ok(tabsnap_options_set_progress(opts.get(), on_progress, &w, nullptr), "tabsnap_options_set_progress");
  EnginePtr e = new_engine(cat, opts.get());
  w.engine = e.get();
  MemRepo mem;
  attach(e.get(), "mem", &mem);
  tabsnap_job_info info = wait_job(e.get(), start(e.get(), "BACKUP SNAPSHOT db0.watched TO mem"));
  bool seen = w.seen_end;
  CHECK("progress_callback_calls_the_engine", info.state == TABSNAP_JOB_STATE_FINISHED && w.calls >= 2 &&
        w.refused == 0, std::to_string(w.calls) + " calls, " + std::to_string(w.refused) + " refused");
  CHECK("last_progress_before_wait_returns", seen, "wait returned before the FINISHED callback ran");
}

// A release failure after commit leaves the backup FINISHED with the failure beside it; an abort failure is
// reported beside the restore's error.
static void failures_beside_the_outcome(Catalog *cat) {
  reset(cat);
  EnginePtr e = new_engine(cat);
  MemRepo mem;
  attach(e.get(), "mem", &mem);
  cat->fail_release = true;
  uint64_t job = start(e.get(), "BACKUP SNAPSHOT db0.rel TO mem");
  tabsnap_job_info info = wait_job(e.get(), job);
  cat->fail_release = false;
  std::string m = job_error(e.get(), job);
  CHECK("release_failure_keeps_finished", info.state == TABSNAP_JOB_STATE_FINISHED &&
        info.status == TABSNAP_STATUS_OK && m.find("the snapshot directory is busy") != std::string::npos,
        std::to_string(info.state) + " " + std::to_string(info.status) + " " + m);
  CHECK("release_failure_snapshot_committed", !timestamp_of(e.get(), "mem", "rel").empty(), "");

  cat->fail_commit = true;
  cat->fail_abort = true;
  job = start(e.get(), "RESTORE SNAPSHOT db0.rel FROM mem ON (t AS t_x) PROPERTIES ('backup_timestamp' = '" +
                           timestamp_of(e.get(), "mem", "rel") + "')");
  info = wait_job(e.get(), job);
  cat->fail_commit = false;
  cat->fail_abort = false;
  m = job_error(e.get(), job);
  CHECK("abort_failure_reported", info.state == TABSNAP_JOB_STATE_CANCELLED && info.status == TABSNAP_STATUS_CALLBACK &&
        m.find("the catalog refused") != std::string::npos && m.find("the staging directory is gone") != std::string::npos,
        std::to_string(info.status) + " " + m);
}

int main() {
  // A deadlock fails the program instead of hanging the suite.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(300));
    std::printf("FAIL watchdog: still running after 300 s (a deadlock?)\n");
    std::fflush(stdout);
    std::_Exit(1);
  }).detach();
  fs::path root = fs::temp_directory_path() / ("tabsnap-contracts-" + std::to_string(::getpid()));
  fs::create_directories(root);
  auto cat = std::make_unique<Catalog>();
  fill_catalog(cat.get(), root);

  snapshots_released_on_every_path(cat.get());
  one_batch_of_snapshots_at_a_time(cat.get());
  tablets_listed_an_index_at_a_time(cat.get());
  max_concurrency_honoured(cat.get());
  destroy_on_every_failure_path(cat.get(), root);
  progress_callback_may_call_the_engine(cat.get());
  failures_beside_the_outcome(cat.get());

  fs::remove_all(root);
  return failures ? 1 : 0;
}
