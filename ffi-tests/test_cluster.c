/* Coordinated backups through tabsnap_engine_cluster_backup: every node's share run in-process by the run_node
   callback (tabsnap_engine_backup_part), a node that fails on its first call retried on another, every node
   failing (nothing committed), and the argument checks. */
#include "tabsnap.h"
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TABLETS 5

static char base[256];

static char *path(const char *rel) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", base, rel);
  return buf[k];
}

/* What the node callback needs: the engine to run the share in-process, which node fails and how often, and
   what it saw (run_node may be called from several threads at once). */
typedef struct {
  const tabsnap_engine *engine;
  const char *failing_node; /* NULL: none */
  int fail_times;           /* how many of its calls fail; -1: all of every node */
  pthread_mutex_t lock;
  int calls;
  int retries_seen;
  char retry_part[64];
  char retry_of[64];
} nodes_ctx;

static int32_t run_node(void *user_data, const tabsnap_node_task *task, tabsnap_cb_error *err) {
  nodes_ctx *c = (nodes_ctx *)user_data;
  int fail = 0;
  pthread_mutex_lock(&c->lock);
  c->calls++;
  if (task->retry_of != NULL) {
    c->retries_seen++;
    snprintf(c->retry_part, sizeof c->retry_part, "%s", task->part);
    snprintf(c->retry_of, sizeof c->retry_of, "%s", task->retry_of);
  }
  if (c->fail_times < 0) {
    fail = 1;
  } else if (c->failing_node != NULL && strcmp(task->node, c->failing_node) == 0 && c->fail_times > 0) {
    c->fail_times--;
    fail = 1;
  }
  pthread_mutex_unlock(&c->lock);
  if (fail) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is down", task->node);
    tabsnap_cb_error_set(err, msg);
    return 7;
  }
  /* The node's share, in-process: pack its tablets into the repository and store its part. */
  tabsnap_error *e = NULL;
  tabsnap_status st = tabsnap_engine_backup_part(c->engine, "r", task->database, task->label, task->timestamp,
                                                 task->part, task->tablets, task->dirs, task->n, &e);
  if (st != TABSNAP_STATUS_OK) {
    tabsnap_cb_error_set(err, tabsnap_error_message(e));
    tabsnap_error_free(e);
    return 1;
  }
  return 0;
}

static int snapshot_rows(const tabsnap_engine *engine, const char *label) {
  char sql[256];
  tabsnap_result *res = NULL;
  snprintf(sql, sizeof sql, "SHOW SNAPSHOT ON r WHERE SNAPSHOT = '%s'", label);
  if (tabsnap_engine_execute(engine, "root", "db1", sql, &res, NULL) != TABSNAP_STATUS_OK) return -1;
  int n = (int)tabsnap_result_row_count(res, 0);
  /* A missing label answers Doris's one error row. */
  if (n == 1 && strstr(tabsnap_result_value(res, 0, 0, 2), "ERROR")) n = 0;
  tabsnap_result_free(res);
  return n;
}

int main(void) {
  snprintf(base, sizeof base, "/tmp/tabsnap-cluster-%d", (int)getpid());
  mkdir(base, 0755);
  mkdir(path("data"), 0755);
  mkdir(path("data/db1"), 0755);
  mkdir(path("data/db1/t1"), 0755);
  mkdir(path("data/db1/t1/p1"), 0755);
  tabsnap_tablet_ref refs[TABLETS];
  char ids[TABLETS][16], dirs_buf[TABLETS][512];
  const char *dirs[TABLETS];
  for (int i = 0; i < TABLETS; i++) {
    snprintf(ids[i], sizeof ids[i], "%d", 2001 + i);
    snprintf(dirs_buf[i], sizeof dirs_buf[i], "%s/data/db1/t1/p1/%s", base, ids[i]);
    mkdir(dirs_buf[i], 0755);
    char file[600];
    snprintf(file, sizeof file, "%s/0_0.dat", dirs_buf[i]);
    write_file(file, 20000 + (size_t)i * 3000, (unsigned)i);
    refs[i].table = "t1";
    refs[i].partition = "p1";
    refs[i].index = "t1";
    refs[i].tablet = ids[i];
    dirs[i] = dirs_buf[i];
  }

  tabsnap_error *err = NULL;
  tabsnap_engine *engine = NULL;
  tabsnap_status st = tabsnap_engine_new_dir(path("data"), NULL, &engine, &err);
  CHECK("engine_new", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
  if (st != TABSNAP_STATUS_OK) return 1;
  char sql[1024];
  snprintf(sql, sizeof sql, "CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://%s/repo'", base);
  tabsnap_result *res = NULL;
  st = tabsnap_engine_execute(engine, "root", "db1", sql, &res, &err);
  CHECK("create_repository", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
  tabsnap_result_free(res);
  res = NULL;

  const char *nodes[] = {"be1", "be2", "be3"};
  nodes_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  pthread_mutex_init(&ctx.lock, NULL);
  ctx.engine = engine;
  tabsnap_cluster_callbacks cb = {TABSNAP_CLUSTER_CALLBACKS_VERSION, 0, &ctx, run_node};

  /* 1. Every node runs its share in-process, at once; the snapshot restores byte for byte. */
  tabsnap_cluster_summary sum;
  memset(&sum, 0, sizeof sum);
  sum.struct_size = sizeof sum;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c1", refs, dirs, TABLETS, nodes, 3, 2, &cb, &sum, &err);
  CHECK("cluster_backup", st == TABSNAP_STATUS_OK, "%d %s", st, tabsnap_error_message(err));
  CHECK("cluster_summary", sum.tablets == TABLETS && sum.nodes == 3 && sum.retries == 0 && sum.failed_nodes == 0 &&
        sum.files == TABLETS && sum.bytes > 0 && strlen(sum.timestamp) == 19 && ctx.calls == 3,
        "tablets %llu nodes %u retries %llu files %llu calls %d ts %s", (unsigned long long)sum.tablets, sum.nodes,
        (unsigned long long)sum.retries, (unsigned long long)sum.files, ctx.calls, sum.timestamp);
  snprintf(sql, sizeof sql,
           "RESTORE SNAPSHOT db1.c1 FROM r ON (t1 AS t1c) PROPERTIES ('backup_timestamp' = '%s')", sum.timestamp);
  st = tabsnap_engine_execute(engine, "root", "db1", sql, &res, &err);
  CHECK("restore_starts", st == TABSNAP_STATUS_OK, "%s", tabsnap_error_message(err));
  if (st == TABSNAP_STATUS_OK) {
    tabsnap_job_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    st = tabsnap_engine_wait(engine, tabsnap_result_job_id(res, 0), 600000, &info, NULL);
    tabsnap_result_free(res);
    res = NULL;
    int same = 1;
    for (int i = 0; i < TABLETS; i++) {
      char a[600], b[600];
      snprintf(a, sizeof a, "%s/data/db1/t1/p1/%s/0_0.dat", base, ids[i]);
      snprintf(b, sizeof b, "%s/data/db1/t1c/p1/%s/0_0.dat", base, ids[i]);
      same = same && same_file(a, b);
    }
    CHECK("cluster_restore", st == TABSNAP_STATUS_OK && info.state == TABSNAP_JOB_STATE_FINISHED && same, "state %d",
          info.state);
  }

  /* 2. Node be2 fails on its first call (one node at a time): its tablets are retried on a node that succeeded. */
  ctx.failing_node = "be2";
  ctx.fail_times = 1;
  ctx.calls = 0;
  cb.max_concurrency = 1;
  memset(&sum, 0, sizeof sum);
  sum.struct_size = sizeof sum;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c2", refs, dirs, TABLETS, nodes, 3, 2, &cb, &sum, &err);
  CHECK("retry_backup", st == TABSNAP_STATUS_OK, "%d %s", st, tabsnap_error_message(err));
  CHECK("retry_summary", sum.retries == 1 && sum.failed_nodes == 1 && sum.files == TABLETS && ctx.calls == 4 &&
        ctx.retries_seen == 1 && strcmp(ctx.retry_of, "be2") == 0 && strcmp(ctx.retry_part, "be1-for-be2") == 0,
        "retries %llu failed %u calls %d part %s of %s", (unsigned long long)sum.retries, sum.failed_nodes, ctx.calls,
        ctx.retry_part, ctx.retry_of);
  CHECK("retry_snapshot", snapshot_rows(engine, "c2") == 1, "-");

  /* 3. Every node fails: the callback's message and the nodes are named; nothing is committed. */
  ctx.fail_times = -1;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c3", refs, dirs, TABLETS, nodes, 3, 2, &cb, NULL, &err);
  CHECK("all_fail_status", st == TABSNAP_STATUS_CALLBACK, "%d", st);
  CHECK("all_fail_message", err && strstr(tabsnap_error_message(err), "every node failed") &&
        strstr(tabsnap_error_message(err), "be1 is down") && strstr(tabsnap_error_message(err), "be3 is down"),
        "%s", err ? tabsnap_error_message(err) : "-");
  tabsnap_error_free(err);
  err = NULL;
  CHECK("all_fail_nothing_committed", snapshot_rows(engine, "c3") == 0, "-");

  /* 4. Arguments: NULL callbacks, an unknown table version, no node, a node named twice. */
  ctx.fail_times = 0;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c4", refs, dirs, TABLETS, nodes, 3, 2, NULL, NULL, NULL);
  CHECK("null_callbacks", st == TABSNAP_STATUS_NULL_ARGUMENT, "%d", st);
  tabsnap_cluster_callbacks bad = cb;
  bad.version = 99;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c4", refs, dirs, TABLETS, nodes, 3, 2, &bad, NULL, &err);
  CHECK("bad_version", st == TABSNAP_STATUS_INVALID_ARGUMENT && strstr(tabsnap_error_message(err), "version 99"), "%d",
        st);
  tabsnap_error_free(err);
  err = NULL;
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c4", refs, dirs, TABLETS, nodes, 0, 2, &cb, NULL, NULL);
  CHECK("no_node", st == TABSNAP_STATUS_INVALID_ARGUMENT, "%d", st);
  const char *twice[] = {"be1", "be1"};
  st = tabsnap_engine_cluster_backup(engine, "r", "db1", "c4", refs, dirs, TABLETS, twice, 2, 2, &cb, NULL, &err);
  CHECK("node_twice", st == TABSNAP_STATUS_INVALID_ARGUMENT && strstr(tabsnap_error_message(err), "named twice"), "%d",
        st);
  tabsnap_error_free(err);
  err = NULL;
  CHECK("null_tablets", tabsnap_engine_cluster_backup(engine, "r", "db1", "c4", NULL, NULL, 1, nodes, 3, 2, &cb, NULL,
                                                      NULL) == TABSNAP_STATUS_NULL_ARGUMENT, "-");

  tabsnap_engine_free(engine);
  pthread_mutex_destroy(&ctx.lock);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  if (system(cmd) != 0) printf("note: could not remove %s\n", base);
  return failures ? 1 : 0;
}
