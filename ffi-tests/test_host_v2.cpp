// The version-2 host callback table: every optional callback has an effect a C++ host can see (clean_tables,
// clean_partitions, atomic_restore, force_replace, replica allocation and storage medium, views), a failing one
// fails the job with TABSNAP_STATUS_CALLBACK and the host's message and leaves the host as it was, the feature
// bits and callbacks must agree, and a version-1 table (laid out as an old header has it) keeps working and gets
// refusals for what it cannot honour. Also the engine option ignore_backup_not_support_table_type.
#include "v2_host.hpp"

#include <algorithm>

#include <unistd.h>

struct Ran {
  tabsnap_status st = TABSNAP_STATUS_OK;
  std::string msg, job_err;
  uint64_t job = 0;
  tabsnap_job_info info{};
  bool finished() const { return st == TABSNAP_STATUS_OK && job && info.state == TABSNAP_JOB_STATE_FINISHED; }
  bool callback_failed(const std::string &what) const {
    return job && info.state == TABSNAP_JOB_STATE_CANCELLED && info.status == TABSNAP_STATUS_CALLBACK &&
           job_err.find(what) != std::string::npos;
  }
  std::string why() const {
    return "status " + std::to_string(st) + " " + msg + " | job state " + std::to_string(info.state) + " status " +
           std::to_string(info.status) + " " + job_err;
  }
};

// Runs one statement in database d; a job is waited for.
static Ran run(const tabsnap_engine *e, const std::string &sql) {
  Ran r;
  tabsnap_error *raw_err = nullptr;
  tabsnap_result *raw = nullptr;
  r.st = tabsnap_engine_execute(e, "root", "d", sql.c_str(), &raw, &raw_err);
  ErrorPtr err(raw_err);
  ResultPtr res(raw);
  r.msg = message(err.get());
  if (r.st != TABSNAP_STATUS_OK || tabsnap_result_kind(res.get(), 0) != TABSNAP_OUTCOME_JOB) return r;
  r.job = tabsnap_result_job_id(res.get(), 0);
  r.info.struct_size = sizeof r.info;
  IGNORE_STATUS(tabsnap_engine_wait(e, r.job, 120000, &r.info, nullptr));
  char *m = nullptr;
  IGNORE_STATUS(tabsnap_engine_job_error(e, r.job, &m, nullptr));
  r.job_err = m ? m : "";
  tabsnap_string_free(m);
  return r;
}

// The value of `column` in the last row of a SHOW statement.
static std::string cell(const tabsnap_engine *e, const std::string &sql, const std::string &column) {
  tabsnap_result *raw = nullptr;
  IGNORE_STATUS(tabsnap_engine_execute(e, "root", "d", sql.c_str(), &raw, nullptr));
  ResultPtr rows(raw);
  size_t n = tabsnap_result_row_count(rows.get(), 0);
  for (size_t c = 0; n > 0 && c < tabsnap_result_column_count(rows.get(), 0); c++)
    if (column == tabsnap_result_column_name(rows.get(), 0, c)) return tabsnap_result_value(rows.get(), 0, n - 1, c);
  return "";
}

static EnginePtr engine_over(const tabsnap_host_callbacks *table, bool ignore_unsupported, std::string *why) {
  OptionsPtr opts(tabsnap_options_new());
  IGNORE_STATUS(tabsnap_options_set_ignore_backup_not_support_table_type(opts.get(), ignore_unsupported, nullptr));
  tabsnap_engine *raw = nullptr;
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_engine_new(table, opts.get(), &raw, &raw_err);
  ErrorPtr err(raw_err);
  if (why) *why = std::to_string(st) + " " + message(err.get());
  return EnginePtr(raw);
}

static void table_checks(V2Host *h) {
  int destroyed = h->destroyed;
  auto refused = [&](const char *name, tabsnap_host_callbacks t, const std::string &expect) {
    tabsnap_engine *raw = nullptr;
    tabsnap_error *raw_err = nullptr;
    tabsnap_status st = tabsnap_engine_new(&t, nullptr, &raw, &raw_err);
    ErrorPtr err(raw_err);
    destroyed++;
    CHECK(name, st == TABSNAP_STATUS_INVALID_ARGUMENT && !raw && h->destroyed == destroyed &&
                    message(err.get()).find(expect) != std::string::npos,
          std::to_string(st) + " " + message(err.get()));
  };
  tabsnap_host_callbacks t = v2_table(h);
  t.drop_table = nullptr;
  refused("feature_without_callback_refused", t, "declares TABSNAP_HOST_FEATURE_DROP_TABLES but drop_table is NULL");
  t = v2_table(h);
  t.features &= ~uint32_t(TABSNAP_HOST_FEATURE_VIEWS);
  refused("callback_without_feature_refused", t, "view_definition is set but features does not declare");
  t = v2_table(h);
  t.features |= 1u << 20;
  refused("unknown_feature_bits_refused", t, "unknown bits 0x100000");
  t = v2_table(h);
  t.version = TABSNAP_HOST_CALLBACKS_VERSION + 1;
  refused("later_version_refused", t, "version " + std::to_string(TABSNAP_HOST_CALLBACKS_VERSION + 1) + " is not supported");
  t = v2_table(h);
  t.version = TABSNAP_HOST_CALLBACKS_VERSION;
  refused("version_3_reads_list_index_tablets", t, "list_index_tablets is set but features does not declare");
  tabsnap_status st = tabsnap_options_set_ignore_backup_not_support_table_type(nullptr, true, nullptr);
  CHECK("ignore_option_null", st == TABSNAP_STATUS_NULL_ARGUMENT, std::to_string(st));
}

// A callback failing on its next call fails the statement or job with its message; the host is as it was.
static void fails_cleanly(const tabsnap_engine *e, V2Host *h, const char *callback, const std::string &sql) {
  std::string before = shape(h, "d");
  int taken = h->taken, released = h->released;
  {
    std::lock_guard<std::mutex> g(h->mu);
    h->fail_at[callback] = h->calls[callback] + 1;
  }
  Ran r = run(e, sql);
  std::string expect = std::string(callback) + " refused by the test host";
  bool failed = r.callback_failed(expect) ||
                (!r.job && r.st == TABSNAP_STATUS_CALLBACK && r.msg.find(expect) != std::string::npos);
  bool staged_empty = true;
  {
    std::lock_guard<std::mutex> g(h->mu);
    h->fail_at[callback] = 0;
    for (auto &s : h->staged) staged_empty = staged_empty && s.second.empty();
  }
  std::string after = shape(h, "d");
  CHECK((std::string("failing_") + callback).c_str(),
        failed && after == before && staged_empty && h->taken - taken == h->released - released,
        r.why() + " | before " + before + " | after " + after);
}

int main() {
  fs::path root = fs::temp_directory_path() / ("tabsnap-v2-" + std::to_string(::getpid()));
  fs::create_directories(root);
  auto h = std::make_unique<V2Host>();
  h->root = root;
  add_table(h.get(), "d", "t", {"p0", "p1"}, "s1");
  add_table(h.get(), "d", "u", {"p0"}, "s1");
  h->views["d.v"] = "SELECT k FROM t";
  h->others.insert("d.ext");
  table_checks(h.get());

  std::string why;
  tabsnap_host_callbacks table = v2_table(h.get());
  EnginePtr engine = engine_over(&table, true, &why);
  CHECK("engine_new_v2", engine != nullptr, why);
  if (!engine) return 1;
  MemRepo mem;
  tabsnap_repo_callbacks repo = repo_table(&mem);
  IGNORE_STATUS(tabsnap_engine_attach_repository(engine.get(), "mem", &repo, false, nullptr));

  // BACKUP of the whole database: the table of another kind is skipped (the engine option), the view taken.
  Ran b = run(engine.get(), "BACKUP SNAPSHOT d.s1 TO mem");
  CHECK("ignore_option_skips_other_tables",
        b.finished() && b.job_err.find("Table 'ext' is not a OLAP table: skipped") != std::string::npos, b.why());
  std::string objs = cell(engine.get(), "SHOW BACKUP", "BackupObjs");
  CHECK("view_definition_backs_up_views", h->calls["view_definition"] == 1 && objs == "[d.t], [d.u], [d.v]", objs);
  std::string ts = cell(engine.get(), "SHOW SNAPSHOT ON mem WHERE SNAPSHOT = 's1'", "Timestamp");
  auto restore = [&](const std::string &objects, const std::string &props) {
    return run(engine.get(), "RESTORE SNAPSHOT d.s1 FROM mem " + objects + " PROPERTIES ('backup_timestamp' = '" +
                                 ts + "'" + props + ")");
  };

  Ran r = restore("ON (v AS v2)", "");
  CHECK("create_view_restores_views", r.finished() && h->views["d.v2"] == "SELECT k FROM t", r.why());

  int plain = h->calls["commit_restore"], with = h->calls["commit_restore_with"];
  r = restore("ON (t AS t_copy)", "");
  CHECK("plain_restore_uses_commit_restore",
        r.finished() && h->calls["commit_restore"] == plain + 1 && h->calls["commit_restore_with"] == with, r.why());

  r = restore("ON (t AS t_r)", ", 'replication_allocation' = 'tag.location.default: 2, tag.location.g1: 1', "
                               "'storage_medium' = 'ssd', 'medium_allocation_mode' = 'adaptive', "
                               "'reserve_dynamic_partition_enable' = 'true', 'is_being_synced' = 'true'");
  CommitSeen c = h->commits["t_r"];
  bool tags = c.tags == std::vector<std::pair<std::string, int>>{{"default", 2}, {"g1", 1}};
  CHECK("replica_allocation_and_medium_reach_commit_restore_with",
        r.finished() && c.struct_size == sizeof(tabsnap_restore_commit) && tags &&
            c.medium == TABSNAP_STORAGE_MEDIUM_SSD && c.mode == "adaptive" && c.reserve_dynamic && c.synced &&
            !c.atomic && !c.reserve_replica,
        r.why() + " mode " + c.mode + " medium " + std::to_string(c.medium));
  r = restore("ON (t AS t_n)", ", 'replication_num' = '1', 'storage_medium' = 'same_with_upstream', "
                               "'is_being_synced' = 'false'");
  c = h->commits["t_n"];
  CHECK("replication_num_is_one_default_tag",
        r.finished() && c.tags == (std::vector<std::pair<std::string, int>>{{"default", 1}}) &&
            c.medium == TABSNAP_STORAGE_MEDIUM_SAME_WITH_UPSTREAM && c.mode == "(null)" && !c.synced,
        r.why());
  r = restore("ON (t AS t_k)", ", 'replication_num' = '1', 'reserve_replica' = 'true'");
  c = h->commits["t_k"];
  CHECK("reserve_replica_passes_no_tags", r.finished() && c.reserve_replica && c.tags.empty(), r.why());

  // Into the existing t: the same schema restores in place (partitions of the same name replaced, others kept).
  add_table(h.get(), "d", "w", {"p0"}, "s1");
  {
    std::lock_guard<std::mutex> g(h->mu);
    auto extra = h->dbs["d"]["w"].partitions[0];
    extra.name = "p9";
    extra.indexes[0].name = "t";
    h->dbs["d"]["t"].partitions.push_back(extra);
  }
  int identities = h->calls["schema_identity"];
  r = restore("ON (t)", "");
  CHECK("same_schema_restores_in_place",
        r.finished() && h->calls["schema_identity"] > identities && partitions_of(h.get(), "d", "t") == "p0,p1,p9",
        r.why() + " " + partitions_of(h.get(), "d", "t"));
  r = restore("ON (t)", ", 'clean_partitions' = 'true'");
  CHECK("clean_partitions_drops_the_extra_partition",
        r.finished() && partitions_of(h.get(), "d", "t") == "p0,p1" && h->dropped == std::vector<std::string>{"t.p9"},
        r.why() + " " + partitions_of(h.get(), "d", "t"));

  // atomic_restore: commit_restore_with swaps the whole table in (a partition the snapshot lacks is gone).
  {
    std::lock_guard<std::mutex> g(h->mu);
    auto extra = h->dbs["d"]["w"].partitions[0];
    extra.name = "p8";
    extra.indexes[0].name = "t";
    h->dbs["d"]["t"].partitions.push_back(extra);
  }
  r = restore("ON (t)", ", 'atomic_restore' = 'true'");
  CHECK("atomic_restore_commits_through_the_swap",
        r.finished() && h->commits["t"].atomic && partitions_of(h.get(), "d", "t") == "p0,p1", r.why());

  // Another schema: refused as Doris refuses it, unless force_replace (with atomic_restore) replaces the table.
  {
    std::lock_guard<std::mutex> g(h->mu);
    h->schema["d.t"] = "s2";
  }
  r = restore("ON (t)", "");
  CHECK("different_schema_refused",
        r.st == TABSNAP_STATUS_ANALYSIS && r.msg == "Table t already exist but with different schema", r.why());
  r = restore("ON (t)", ", 'atomic_restore' = 'true'");
  CHECK("different_schema_refused_atomic", r.st == TABSNAP_STATUS_ANALYSIS, r.why());
  r = restore("ON (t)", ", 'atomic_restore' = 'true', 'force_replace' = 'true'");
  std::string schema_now;
  {
    std::lock_guard<std::mutex> g(h->mu);
    schema_now = h->schema["d.t"];
  }
  CHECK("force_replace_replaces_a_different_schema", r.finished() && h->commits["t"].atomic && schema_now == "s1",
        r.why() + " schema " + schema_now);

  // A failing optional callback: the statement or job fails with its message; the host is as it was.
  fails_cleanly(engine.get(), h.get(), "view_definition", "BACKUP SNAPSHOT d.s2 TO mem ON (t, v)");
  CHECK("failed_backup_left_no_snapshot", cell(engine.get(), "SHOW SNAPSHOT ON mem WHERE SNAPSHOT = 's2'",
                                               "Status").rfind("ERROR", 0) == 0, "");
  fails_cleanly(engine.get(), h.get(), "create_view", "RESTORE SNAPSHOT d.s1 FROM mem ON (v AS v3) PROPERTIES "
                                                      "('backup_timestamp' = '" + ts + "')");
  fails_cleanly(engine.get(), h.get(), "schema_identity", "RESTORE SNAPSHOT d.s1 FROM mem ON (u) PROPERTIES "
                                                          "('backup_timestamp' = '" + ts + "')");
  fails_cleanly(engine.get(), h.get(), "snapshot_schema_identity", "RESTORE SNAPSHOT d.s1 FROM mem ON (u) "
                                                                   "PROPERTIES ('backup_timestamp' = '" + ts + "')");
  fails_cleanly(engine.get(), h.get(), "commit_restore_with", "RESTORE SNAPSHOT d.s1 FROM mem ON (u) PROPERTIES "
                                                              "('backup_timestamp' = '" + ts +
                                                              "', 'atomic_restore' = 'true')");
  {
    std::lock_guard<std::mutex> g(h->mu);
    auto extra = h->dbs["d"]["w"].partitions[0];
    extra.name = "p7";
    extra.indexes[0].name = "u";
    h->dbs["d"]["u"].partitions.push_back(extra);
  }
  fails_cleanly(engine.get(), h.get(), "drop_partitions", "RESTORE SNAPSHOT d.s1 FROM mem ON (u) PROPERTIES "
                                                          "('backup_timestamp' = '" + ts +
                                                          "', 'clean_partitions' = 'true')");

  // clean_tables: the OLAP tables the restore does not write are dropped; views and other kinds stay.
  r = restore("ON (t, u)", ", 'clean_tables' = 'true'");
  std::string left = shape(h.get(), "d");
  bool dropped_all = true;
  for (const char *name : {"w", "t_copy", "t_r", "t_n", "t_k"})
    dropped_all = dropped_all && std::find(h->dropped.begin(), h->dropped.end(), name) != h->dropped.end();
  CHECK("clean_tables_drops_the_other_tables",
        r.finished() && dropped_all && left.find("w[") == std::string::npos && left.find("t[s1]") == 0 &&
            left.find("other d.ext") != std::string::npos && left.find("view d.v2=") != std::string::npos,
        r.why() + " " + left);

  // A version-1 table, laid out as an old header has it (allocated to its own size: reading past it would be
  // caught by AddressSanitizer and valgrind): it works, and what needs version 2 is refused.
  auto v1 = std::make_unique<host_callbacks_v1>();
  v1->version = 1;
  v1->user_data = static_cast<Catalog *>(h.get());
  v1->list_tables = v2_list_tables;
  v1->snapshot_tablet = host_snapshot;
  v1->release_tablet = host_release;
  v1->restore_target = host_restore_target;
  v1->commit_restore = v2_commit;
  v1->abort_restore = host_abort;
  v1->has_privilege = host_privilege;
  v1->metadata = v2_metadata;
  v1->destroy = host_destroy;
  EnginePtr old = engine_over(reinterpret_cast<const tabsnap_host_callbacks *>(v1.get()), false, &why);
  CHECK("v1_engine_new", old != nullptr, why);
  if (!old) return 1;
  tabsnap_repo_callbacks repo2 = repo_table(&mem);
  IGNORE_STATUS(tabsnap_engine_attach_repository(old.get(), "mem", &repo2, false, nullptr));
  std::map<std::string, int> v2_calls_before = h->calls;
  Ran o = run(old.get(), "BACKUP SNAPSHOT d.old TO mem");
  CHECK("v1_other_tables_fail_without_the_option",
        o.st == TABSNAP_STATUS_ANALYSIS && o.msg == "Table 'ext' is not a OLAP table", o.why());
  o = run(old.get(), "BACKUP SNAPSHOT d.old TO mem EXCLUDE (ext)");
  CHECK("v1_backup_skips_views", o.finished() && o.job_err.find("Table 'v' is a view") != std::string::npos, o.why());
  auto old_restore = [&](const std::string &objects, const std::string &props) {
    return run(old.get(), "RESTORE SNAPSHOT d.s1 FROM mem " + objects + " PROPERTIES ('backup_timestamp' = '" + ts +
                              "'" + props + ")");
  };
  bool all_refused = true;
  std::string seen;
  for (const char *prop : {"clean_tables", "clean_partitions", "atomic_restore", "replication_num",
                           "replication_allocation", "reserve_replica", "storage_medium", "medium_allocation_mode",
                           "reserve_dynamic_partition_enable", "is_being_synced"}) {
    std::string value = std::string(prop) == "replication_num"          ? "1"
                        : std::string(prop) == "replication_allocation" ? "tag.location.default: 1"
                        : std::string(prop) == "storage_medium"         ? "ssd"
                        : std::string(prop) == "medium_allocation_mode" ? "strict"
                                                                        : "true";
    o = old_restore("ON (t AS t_old)", ", '" + std::string(prop) + "' = '" + value + "'");
    std::string expect = "Property " + std::string(prop) + " is not supported by this host";
    if (o.st != TABSNAP_STATUS_ANALYSIS || o.msg.rfind(expect, 0) != 0) all_refused = false, seen += o.msg + "; ";
  }
  CHECK("v1_refuses_the_properties_it_cannot_honour", all_refused, seen);
  o = old_restore("", "");
  CHECK("v1_refuses_a_snapshot_with_a_view",
        o.st == TABSNAP_STATUS_ANALYSIS && o.msg == "Snapshot s1 holds view v: this host does not restore views "
                                                    "(EXCLUDE it)",
        o.why());
  o = old_restore("ON (t AS t_old)", ", 'storage_medium' = 'same_with_upstream'");
  CHECK("v1_restore_works", o.finished() && partitions_of(h.get(), "d", "t_old") == "p0,p1", o.why());
  std::map<std::string, int> v2_calls_after = h->calls;
  v2_calls_before["commit_restore"] = v2_calls_after["commit_restore"];
  CHECK("v1_calls_no_optional_callback", v2_calls_before == v2_calls_after, "");

  old.reset();
  engine.reset();
  CHECK("destroy_once_per_engine", h->destroyed == 5 + 2, std::to_string(h->destroyed));
  fs::remove_all(root);
  return failures ? 1 : 0;
}
