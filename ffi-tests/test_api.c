/* Every function of the C API, success and error paths, against the directory host. */
#include "tabsnap.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char base[256];

static char *path(const char *rel) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", base, rel);
  return buf[k];
}

static int progress_calls = 0;
static int last_state = -1;
static void on_progress(void *user_data, uint64_t job, const tabsnap_job_info *info) {
  (void)job;
  *(int *)user_data += 1;
  last_state = info->state;
}

static tabsnap_status run(const tabsnap_engine *e, const char *sql, tabsnap_result **out, tabsnap_error **err) {
  return tabsnap_engine_execute(e, "root", "db1", sql, out, err);
}

/* Bytes of the packs under repository directory `repo` (-1 if they cannot be counted). */
static long long packs_bytes(const char *repo) {
  char cmd[700];
  long long n = -1;
  snprintf(cmd, sizeof cmd, "du -sb '%s/packs' | cut -f1", repo);
  FILE *p = popen(cmd, "r");
  if (p && fscanf(p, "%lld", &n) != 1) n = -1;
  if (p) pclose(p);
  return n;
}

/* Backs up table t1 (300500 bytes of letters) into a new LOCAL repository `name` at path(name) with the
   statement's `properties`, and returns the bytes of its packs (-1 if the backup did not finish). */
static long long backup_t1(const tabsnap_engine *e, const char *name, const char *properties) {
  char sql[1024];
  tabsnap_result *res = NULL;
  snprintf(sql, sizeof sql, "CREATE REPOSITORY %s WITH LOCAL ON LOCATION 'file://%s'; BACKUP SNAPSHOT %s TO %s ON (t1) %s",
           name, path(name), name, name, properties);
  tabsnap_status st = run(e, sql, &res, NULL);
  uint64_t job = st == TABSNAP_STATUS_OK ? tabsnap_result_job_id(res, 1) : 0;
  tabsnap_result_free(res);
  tabsnap_job_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  st = tabsnap_engine_wait(e, job, 60000, &info, NULL);
  return st == TABSNAP_STATUS_OK && info.state == TABSNAP_JOB_STATE_FINISHED ? packs_bytes(path(name)) : -1;
}

int main(void) {
  snprintf(base, sizeof base, "/tmp/tabsnap-c-%d", (int)getpid());
  mkdir(base, 0755);
  mkdir(path("data"), 0755);
  mkdir(path("data/db1"), 0755);
  mkdir(path("data/db1/t1"), 0755);
  mkdir(path("data/db1/t1/p1"), 0755);
  mkdir(path("data/db1/t1/p1/1001"), 0755);
  write_file(path("data/db1/t1/p1/1001/0_0.dat"), 300000, 1);
  write_file(path("data/db1/t1/p1/1001/0.idx"), 500, 2);

  /* version and status strings */
  CHECK("version_number", tabsnap_version_number() == TABSNAP_VERSION_NUMBER, "%u", tabsnap_version_number());
  CHECK("version_string", strcmp(tabsnap_version(), TABSNAP_VERSION) == 0, "%s", tabsnap_version());
  CHECK("status_str", strcmp(tabsnap_status_str(TABSNAP_STATUS_CORRUPTION), "corruption detected") == 0, "%s",
        tabsnap_status_str(TABSNAP_STATUS_CORRUPTION));
  CHECK("status_str_unknown", strcmp(tabsnap_status_str(12345), "unknown status") == 0, "%s", tabsnap_status_str(12345));

  /* frees of NULL are no-ops; accessors take NULL */
  tabsnap_error_free(NULL);
  tabsnap_result_free(NULL);
  tabsnap_engine_free(NULL);
  tabsnap_options_free(NULL);
  tabsnap_string_free(NULL);
  CHECK("null_accessors", tabsnap_error_status(NULL) == TABSNAP_STATUS_NULL_ARGUMENT &&
        strcmp(tabsnap_error_message(NULL), "") == 0 && tabsnap_error_object(NULL) == NULL &&
        tabsnap_result_count(NULL) == 0 && tabsnap_result_kind(NULL, 0) == TABSNAP_OUTCOME_INVALID, "-");

  /* options */
  tabsnap_options *opts = tabsnap_options_new();
  tabsnap_error *err = NULL;
  tabsnap_status st = tabsnap_options_set_zstd_level(opts, 40, &err);
  CHECK("options_range", st == TABSNAP_STATUS_INVALID_ARGUMENT && err && strstr(tabsnap_error_message(err), "zstd level 40"),
        "%d %s", st, tabsnap_error_message(err));
  tabsnap_error_free(err);
  err = NULL;
  CHECK("options_null", tabsnap_options_set_threads(NULL, 2, NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");
  st = tabsnap_options_set_compression(opts, "zstd:5", &err);
  CHECK("compression_invalid", st == TABSNAP_STATUS_INVALID_ARGUMENT && err &&
        strstr(tabsnap_error_message(err), "Invalid compression value: zstd:5. Must be 'auto', 'none', 'zstd' or 'zstd-N'"),
        "%d %s", st, tabsnap_error_message(err));
  tabsnap_error_free(err);
  err = NULL;
  CHECK("compression_null", tabsnap_options_set_compression(opts, NULL, NULL) == TABSNAP_STATUS_NULL_ARGUMENT &&
        tabsnap_options_set_compression(NULL, "auto", NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");
  CHECK("options_set", tabsnap_options_set_threads(opts, 2, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_zstd_level(opts, 3, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_compression(opts, "auto", NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_chunk_size(opts, 1 << 20, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_pack_size(opts, 4 << 20, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_bytes_in_flight(opts, 16 << 20, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_batch_files(opts, 2, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_state_dir(opts, path("state"), NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_max_job_timeout_ms(opts, 0, NULL) == TABSNAP_STATUS_OK &&
        tabsnap_options_set_progress(opts, on_progress, &progress_calls, NULL) == TABSNAP_STATUS_OK, "-");

  /* engine creation errors, then success */
  tabsnap_engine *engine = NULL;
  st = tabsnap_engine_new_dir(path("missing"), opts, &engine, &err);
  CHECK("engine_missing_dir", st == TABSNAP_STATUS_NOT_FOUND && engine == NULL, "%d", st);
  tabsnap_error_free(err);
  err = NULL;
  CHECK("engine_null_out", tabsnap_engine_new_dir(path("data"), opts, NULL, NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");
  const char bad_utf8[] = {'/', (char)0xff, (char)0xfe, 0};
  CHECK("engine_bad_utf8", tabsnap_engine_new_dir(bad_utf8, opts, &engine, NULL) == TABSNAP_STATUS_INVALID_UTF8, "-");
  st = tabsnap_engine_new_dir(path("data"), opts, &engine, &err);
  CHECK("engine_new_dir", st == TABSNAP_STATUS_OK && engine != NULL, "%s", tabsnap_error_message(err));
  tabsnap_options_free(opts);

  /* syntax and analysis errors */
  tabsnap_result *res = NULL;
  st = run(engine, "SHOW REPOSITORIES;\nBACKUP SNAPSHOT db1.l1 TO r ON (t1 PARTITON (p1))", &res, &err);
  unsigned line = 0, col = 0;
  CHECK("syntax_error", st == TABSNAP_STATUS_SYNTAX && res == NULL && tabsnap_error_position(err, &line, &col) &&
        line == 2 && col == 36 && strstr(tabsnap_error_message(err), "PARTITON"),
        "%d %u:%u %s", st, line, col, tabsnap_error_message(err));
  tabsnap_error_free(err);
  err = NULL;
  st = run(engine, "RESTORE SNAPSHOT db1.l1 FROM r", &res, &err);
  CHECK("analysis_error", st == TABSNAP_STATUS_ANALYSIS && !tabsnap_error_position(err, NULL, NULL) &&
        strcmp(tabsnap_error_message(err), "Missing backup_timestamp property") == 0, "%s", tabsnap_error_message(err));
  tabsnap_error_free(err);
  err = NULL;
  st = tabsnap_engine_execute(engine, "bob", "db1", "SHOW REPOSITORIES", &res, &err);
  CHECK("privilege_error", st == TABSNAP_STATUS_ANALYSIS && strstr(tabsnap_error_message(err), "ADMIN"), "%s", tabsnap_error_message(err));
  tabsnap_error_free(err);
  err = NULL;
  CHECK("execute_null_sql", tabsnap_engine_execute(engine, "root", NULL, NULL, &res, NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");
  CHECK("execute_null_engine", tabsnap_engine_execute(NULL, "root", NULL, "SHOW BACKUP", &res, NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");

  /* CREATE REPOSITORY, BACKUP (returns at once), wait, SHOW BACKUP */
  char sql[1024];
  snprintf(sql, sizeof sql, "CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://%s'; BACKUP SNAPSHOT l1 TO r", path("repo"));
  st = run(engine, sql, &res, &err);
  CHECK("backup_starts", st == TABSNAP_STATUS_OK && tabsnap_result_count(res) == 2 &&
        tabsnap_result_kind(res, 0) == TABSNAP_OUTCOME_DONE && tabsnap_result_kind(res, 1) == TABSNAP_OUTCOME_JOB,
        "%d %s", st, tabsnap_error_message(err));
  uint64_t job = tabsnap_result_job_id(res, 1);
  CHECK("job_id_only_for_jobs", tabsnap_result_job_id(res, 0) == 0 && tabsnap_result_job_id(res, 9) == 0, "-");
  tabsnap_result_free(res);
  res = NULL;
  tabsnap_job_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  st = tabsnap_engine_wait(engine, job, 60000, &info, &err);
  CHECK("backup_finishes", st == TABSNAP_STATUS_OK && info.state == TABSNAP_JOB_STATE_FINISHED && info.files_total == 2 &&
        info.files_done == 2 && info.bytes_done == 300500 && info.status == TABSNAP_STATUS_OK,
        "%d state %d files %llu/%llu", st, info.state, (unsigned long long)info.files_done, (unsigned long long)info.files_total);
  for (int i = 0; i < 100 && last_state != TABSNAP_JOB_STATE_FINISHED; i++) {
    struct timespec ten_ms = {0, 10000000};
    nanosleep(&ten_ms, NULL);
  }
  CHECK("progress_callback", progress_calls >= 3 && last_state == TABSNAP_JOB_STATE_FINISHED, "%d calls, last state %d",
        progress_calls, last_state);
  tabsnap_job_info small;
  small.struct_size = 4;
  CHECK("job_info_too_small", tabsnap_engine_job(engine, job, &small, NULL) == TABSNAP_STATUS_INVALID_ARGUMENT, "-");
  CHECK("job_unknown", tabsnap_engine_job(engine, 999999, &info, NULL) == TABSNAP_STATUS_NOT_FOUND, "-");
  CHECK("cancel_not_running", tabsnap_engine_cancel(engine, job, NULL) == TABSNAP_STATUS_NOT_FOUND, "-");
  char *msg = (char *)1;
  CHECK("job_error_none", tabsnap_engine_job_error(engine, job, &msg, NULL) == TABSNAP_STATUS_OK && msg == NULL, "-");

  st = run(engine, "SHOW BACKUP FROM db1", &res, &err);
  size_t cols = tabsnap_result_column_count(res, 0);
  int state_col = -1, ts_col = -1;
  for (size_t c = 0; c < cols; c++) {
    if (strcmp(tabsnap_result_column_name(res, 0, c), "State") == 0) state_col = (int)c;
  }
  CHECK("show_backup", st == TABSNAP_STATUS_OK && tabsnap_result_kind(res, 0) == TABSNAP_OUTCOME_ROWS && cols == 14 &&
        tabsnap_result_row_count(res, 0) == 1 && state_col >= 0 &&
        strcmp(tabsnap_result_value(res, 0, 0, (size_t)state_col), "FINISHED") == 0 &&
        tabsnap_result_value(res, 0, 5, 0) == NULL && tabsnap_result_column_name(res, 0, 99) == NULL, "%zu", cols);
  tabsnap_result_free(res);
  res = NULL;

  /* SHOW SNAPSHOT gives the timestamp; RESTORE under another name; compare bytes */
  st = run(engine, "SHOW SNAPSHOT ON r", &res, &err);
  for (size_t c = 0; c < tabsnap_result_column_count(res, 0); c++) {
    if (strcmp(tabsnap_result_column_name(res, 0, c), "Timestamp") == 0) ts_col = (int)c;
  }
  char ts[64] = "";
  if (ts_col >= 0 && tabsnap_result_row_count(res, 0) == 1) snprintf(ts, sizeof ts, "%s", tabsnap_result_value(res, 0, 0, (size_t)ts_col));
  tabsnap_result_free(res);
  res = NULL;
  snprintf(sql, sizeof sql, "RESTORE SNAPSHOT l1 FROM r ON (t1 AS t2) PROPERTIES ('backup_timestamp' = '%s')", ts);
  st = run(engine, sql, &res, &err);
  job = tabsnap_result_job_id(res, 0);
  tabsnap_result_free(res);
  res = NULL;
  st = tabsnap_engine_wait(engine, job, 60000, &info, &err);
  CHECK("restore_finishes", st == TABSNAP_STATUS_OK && info.state == TABSNAP_JOB_STATE_FINISHED && info.kind == 1, "%d", info.state);
  CHECK("restore_bytes", same_file(path("data/db1/t1/p1/1001/0_0.dat"), path("data/db1/t2/p1/1001/0_0.dat")) &&
        same_file(path("data/db1/t1/p1/1001/0.idx"), path("data/db1/t2/p1/1001/0.idx")), "restored files differ");

  /* a failed restore: the error reaches the job and names what */
  snprintf(sql, sizeof sql, "RESTORE SNAPSHOT l1 FROM r ON (t1 AS t2) PROPERTIES ('backup_timestamp' = '%s')", ts);
  st = run(engine, sql, &res, &err);
  job = tabsnap_result_job_id(res, 0);
  tabsnap_result_free(res);
  res = NULL;
  /* t2 exists now with the same schema: the restore replaces it, and finishes */
  st = tabsnap_engine_wait(engine, job, 60000, &info, &err);
  CHECK("restore_replaces", info.state == TABSNAP_JOB_STATE_FINISHED, "%d", info.state);

  /* a backup run by two nodes: each stores its tablets, then the coordinator commits */
  {
    tabsnap_tablet_ref t1 = {"t1", "p1", "t1", "1001"};
    const char *d1 = path("data/db1/t1/p1/1001");
    tabsnap_tablet_ref t2 = {"t2", "p1", "t2", "1001"};
    const char *d2 = path("data/db1/t2/p1/1001");
    st = tabsnap_engine_backup_part(engine, "r", "db1", "multi", "2024-01-01-10-00-00", "node-a", &t1, &d1, 1, &err);
    CHECK("backup_part_a", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    const char *two[] = {"node-a", "node-b"};
    st = tabsnap_engine_commit_parts(engine, "r", "multi", "2024-01-01-10-00-00", two, 2, &err);
    CHECK("commit_missing_part", st == TABSNAP_STATUS_NOT_FOUND && strstr(tabsnap_error_message(err), "node-b"), "%d %s", st,
          tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    st = tabsnap_engine_backup_part(engine, "r", "db1", "multi", "2024-01-01-10-00-00", "node-b", &t2, &d2, 1, &err);
    CHECK("backup_part_b", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    st = tabsnap_engine_commit_parts(engine, "r", "multi", "2024-01-01-10-00-00", two, 2, &err);
    CHECK("commit_parts", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    st = run(engine, "SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'multi' AND TIMESTAMP = '2024-01-01-10-00-00'", &res, &err);
    CHECK("multi_node_snapshot", st == TABSNAP_STATUS_OK && tabsnap_result_row_count(res, 0) == 1 &&
          strstr(tabsnap_result_value(res, 0, 0, 3), "\"t1\"") && strstr(tabsnap_result_value(res, 0, 0, 3), "\"t2\""),
          "%s", res ? tabsnap_result_value(res, 0, 0, 3) : "-");
    tabsnap_result_free(res);
    res = NULL;
    CHECK("backup_part_null", tabsnap_engine_backup_part(engine, "r", "db1", "x", "t", "n", NULL, NULL, 1, NULL) ==
          TABSNAP_STATUS_NULL_ARGUMENT, "-");
  }

  /* garbage collection: after the parts' pages, nothing is left behind; a dry run and a collection of what a
     dead backup left (an unreferenced pack written by hand) */
  {
    uint64_t objects = 99, bytes = 99;
    bool busy = true;
    /* The committed parts' manifest pages are garbage once the snapshot names its own: node-b's; node-a's holds
       the same tablet as snapshot l1's page, so it is that object, which l1 keeps. */
    st = tabsnap_engine_collect_garbage(engine, "r", false, &objects, &bytes, &busy, &err);
    CHECK("gc_parts_pages", st == TABSNAP_STATUS_OK && objects == 1 && !busy, "%d %llu %s", st,
          (unsigned long long)objects, tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    st = tabsnap_engine_collect_garbage(engine, "r", true, &objects, &bytes, &busy, &err);
    CHECK("gc_dry_run_clean", st == TABSNAP_STATUS_OK && objects == 0 && bytes == 0 && !busy, "%d %llu %s", st,
          (unsigned long long)objects, tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    mkdir(path("repo/packs/ab"), 0755);
    write_file(path("repo/packs/ab/ab00000000000000000000000000000000000000000000000000000000000000"), 1000, 9);
    st = tabsnap_engine_collect_garbage(engine, "r", true, &objects, &bytes, &busy, &err);
    CHECK("gc_dry_run", st == TABSNAP_STATUS_OK && objects == 1 && bytes == 1000 && !busy, "%d %llu", st,
          (unsigned long long)objects);
    st = tabsnap_engine_collect_garbage(engine, "r", false, &objects, &bytes, NULL, &err);
    CHECK("gc_collects", st == TABSNAP_STATUS_OK && objects == 1 && bytes == 1000, "%d %llu", st, (unsigned long long)objects);
    st = tabsnap_engine_collect_garbage(engine, "nope", false, NULL, NULL, NULL, &err);
    CHECK("gc_unknown_repo", st == TABSNAP_STATUS_ANALYSIS && strstr(tabsnap_error_message(err), "nope"), "%d", st);
    tabsnap_error_free(err);
    err = NULL;
    CHECK("gc_null", tabsnap_engine_collect_garbage(engine, NULL, false, NULL, NULL, NULL, NULL) ==
          TABSNAP_STATUS_NULL_ARGUMENT, "-");
  }

  /* verify: sound snapshots, "latest", bad arguments, then a flipped byte in a pack named by the report */
  {
    tabsnap_verify_report rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    tabsnap_result *problems = NULL;
    st = tabsnap_engine_verify(engine, "r", NULL, NULL, false, &rep, &problems, &err);
    CHECK("verify_ok", st == TABSNAP_STATUS_OK && rep.snapshots >= 2 && rep.chunks > 0 && rep.problems == 0 &&
          tabsnap_result_row_count(problems, 0) == 0 && tabsnap_result_column_count(problems, 0) == 4,
          "%d %s", st, tabsnap_error_message(err));
    tabsnap_result_free(problems);
    problems = NULL;
    st = tabsnap_engine_verify(engine, "r", "multi", "latest", true, &rep, NULL, &err);
    CHECK("verify_latest_quick", st == TABSNAP_STATUS_OK && rep.snapshots == 1, "%d %s", st, tabsnap_error_message(err));
    st = tabsnap_engine_verify(engine, "r", NULL, "latest", true, NULL, NULL, &err);
    CHECK("verify_timestamp_without_label", st == TABSNAP_STATUS_INVALID_ARGUMENT, "%d", st);
    tabsnap_error_free(err);
    err = NULL;
    rep.struct_size = 2;
    st = tabsnap_engine_verify(engine, "r", NULL, NULL, true, &rep, NULL, &err);
    CHECK("verify_report_too_small", st == TABSNAP_STATUS_INVALID_ARGUMENT, "%d", st);
    tabsnap_error_free(err);
    err = NULL;
    rep.struct_size = sizeof rep;
    st = tabsnap_engine_verify(engine, "r", "nothing", NULL, true, &rep, NULL, &err);
    CHECK("verify_not_found", st == TABSNAP_STATUS_NOT_FOUND, "%d", st);
    tabsnap_error_free(err);
    err = NULL;

    char cmd[700], pack[512] = "";
    snprintf(cmd, sizeof cmd, "find '%s' -type f -size +1k | head -n 1", path("repo/packs"));
    FILE *found = popen(cmd, "r");
    if (found && fgets(pack, sizeof pack, found)) pack[strcspn(pack, "\n")] = 0;
    if (found) pclose(found);
    FILE *f = fopen(pack, "r+b");
    if (f) {
      fseek(f, 0, SEEK_END);
      long mid = ftell(f) / 3;
      fseek(f, mid, SEEK_SET);
      int c = fgetc(f);
      fseek(f, mid, SEEK_SET);
      fputc(c ^ 0x40, f);
      fclose(f);
    }
    st = tabsnap_engine_verify(engine, "r", NULL, NULL, false, &rep, &problems, &err);
    const char *object = err ? tabsnap_error_object(err) : NULL;
    const char *name = strrchr(pack, '/');
    CHECK("verify_damaged_pack", f && st == TABSNAP_STATUS_CORRUPTION && rep.problems >= 1 &&
          tabsnap_result_row_count(problems, 0) == rep.problems && object && name && strstr(object, name + 1) &&
          strstr(tabsnap_result_value(problems, 0, 0, 0), name + 1),
          "%d %s %s", st, object ? object : "-", pack);
    tabsnap_result_free(problems);
    problems = NULL;
    tabsnap_error_free(err);
    err = NULL;
  }

  /* an encrypted repository with a retention policy: the backups finish, the policy keeps the newest, a wrong
     password is one clear error */
  {
    uint64_t ids[2] = {0, 0};
    const char *labels[2] = {"e1", "e2"};
    for (int i = 0; i < 2; i++) {
      snprintf(sql, sizeof sql, "BACKUP SNAPSHOT %s TO enc", labels[i]);
      if (i == 0) {
        char create[1024];
        snprintf(create, sizeof create,
                 "CREATE REPOSITORY enc WITH LOCAL ON LOCATION 'file://%s' PROPERTIES ('encryption' = 'on', "
                 "'encryption.password' = 'c-secret', 'encryption.kdf' = 'm=64,t=1,p=1', 'retention' = 'keep_last=1')",
                 path("enc"));
        st = run(engine, create, &res, &err);
        CHECK("encrypted_create", st == TABSNAP_STATUS_OK, "%d %s", st, tabsnap_error_message(err));
        tabsnap_result_free(res);
        res = NULL;
      }
      st = run(engine, sql, &res, &err);
      ids[i] = st == TABSNAP_STATUS_OK ? tabsnap_result_job_id(res, 0) : 0;
      tabsnap_result_free(res);
      res = NULL;
      memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      st = tabsnap_engine_wait(engine, ids[i], 60000, &info, &err);
      CHECK(i == 0 ? "encrypted_backup_e1" : "encrypted_backup_e2", st == TABSNAP_STATUS_OK &&
            info.state == TABSNAP_JOB_STATE_FINISHED, "%d state %d", st, info.state);
    }
    st = run(engine, "SHOW SNAPSHOT ON enc", &res, &err);
    CHECK("retention_keeps_newest", st == TABSNAP_STATUS_OK && tabsnap_result_row_count(res, 0) == 1 &&
          strcmp(tabsnap_result_value(res, 0, 0, 0), "e2") == 0, "%d %zu", st, tabsnap_result_row_count(res, 0));
    tabsnap_result_free(res);
    res = NULL;
    snprintf(sql, sizeof sql,
             "CREATE REPOSITORY enc2 WITH LOCAL ON LOCATION 'file://%s' PROPERTIES ('encryption' = 'on', "
             "'encryption.password' = 'nope')", path("enc"));
    st = run(engine, sql, &res, &err);
    CHECK("encrypted_wrong_password", st == TABSNAP_STATUS_INVALID_ARGUMENT &&
          strstr(tabsnap_error_message(err), "wrong password") && !strstr(tabsnap_error_message(err), "nope"),
          "%d %s", st, tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    CHECK("attach_with_null", tabsnap_engine_attach_repository_with(engine, "x", NULL, false, NULL, NULL, 0, NULL) ==
          TABSNAP_STATUS_NULL_ARGUMENT, "-");
  }

  /* compression: "none" from the options stores every byte raw; a BACKUP's own "compression" overrides it */
  {
    tabsnap_options *raw = tabsnap_options_new();
    tabsnap_engine *plain = NULL;
    st = tabsnap_options_set_compression(raw, "none", &err);
    if (st == TABSNAP_STATUS_OK) st = tabsnap_engine_new_dir(path("data"), raw, &plain, &err);
    tabsnap_options_free(raw);
    CHECK("compression_engine", st == TABSNAP_STATUS_OK, "%d %s", st, tabsnap_error_message(err));
    tabsnap_error_free(err);
    err = NULL;
    long long none = backup_t1(plain, "cnone", "");
    long long zstd = backup_t1(plain, "czstd", "PROPERTIES ('compression' = 'zstd-1')");
    CHECK("compression_none_stores_raw", none >= 300500, "%lld bytes of packs", none);
    CHECK("compression_property_overrides", zstd > 0 && zstd < 300500 / 4, "%lld bytes of packs", zstd);
    tabsnap_engine_free(plain);
  }

  tabsnap_engine_free(engine);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  if (system(cmd) != 0) printf("warning: could not remove %s\n", base);
  return failures ? 1 : 0;
}
