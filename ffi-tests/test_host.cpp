// A small C++ host: an in-memory catalog and an in-memory repository behind tabsnap's callback tables.
// Several threads each back up a database, poll SHOW BACKUP until FINISHED, restore under an alias and compare
// every byte; a repository whose callbacks fail shows its message in the job's error.
#include "tabsnap.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

static std::atomic<int> failures{0};
#define CHECK(name, cond, msg)                                                   \
  do {                                                                           \
    if (cond) {                                                                  \
      std::printf("ok %s\n", name);                                              \
    } else {                                                                     \
      std::printf("FAIL %s: %s\n", name, std::string(msg).c_str());              \
      failures++;                                                                \
    }                                                                            \
  } while (0)

// RAII for tabsnap handles.
struct ErrorFree { void operator()(tabsnap_error *e) const { tabsnap_error_free(e); } };
struct ResultFree { void operator()(tabsnap_result *r) const { tabsnap_result_free(r); } };
struct EngineFree { void operator()(tabsnap_engine *e) const { tabsnap_engine_free(e); } };
using ErrorPtr = std::unique_ptr<tabsnap_error, ErrorFree>;
using ResultPtr = std::unique_ptr<tabsnap_result, ResultFree>;
using EnginePtr = std::unique_ptr<tabsnap_engine, EngineFree>;

// ---- the in-memory repository ---------------------------------------------------------------------------
struct MemRepo {
  std::mutex mu;
  std::map<std::string, std::vector<uint8_t>> objects;
  bool broken = false;
  std::atomic<int> destroyed{0};
};

// Every callback catches everything: no C++ exception may cross into tabsnap.
template <typename F>
static int32_t shield(tabsnap_cb_error *err, F f) {
  try {
    return f();
  } catch (const std::exception &e) {
    tabsnap_cb_error_set(err, e.what());
    return 2;
  } catch (...) {
    tabsnap_cb_error_set(err, "unknown C++ exception");
    return 3;
  }
}

static int32_t repo_put(void *ud, const char *key, const uint8_t *data, size_t len, bool if_absent, bool *written,
                        tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(ud);
    if (r->broken && std::strncmp(key, "packs/", 6) == 0) throw std::runtime_error("disk quota exceeded on the host's volume");
    std::lock_guard<std::mutex> g(r->mu);
    if (if_absent && r->objects.count(key)) {
      *written = false;
      return 0;
    }
    r->objects[key] = std::vector<uint8_t>(data, data + len);
    *written = true;
    return 0;
  });
}

static int32_t repo_get(void *ud, const char *key, uint64_t offset, uint8_t *buf, size_t len, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(ud);
    std::lock_guard<std::mutex> g(r->mu);
    auto it = r->objects.find(key);
    if (it == r->objects.end()) throw std::runtime_error(std::string("no object ") + key);
    if (offset + len > it->second.size()) throw std::runtime_error("range past the end");
    std::memcpy(buf, it->second.data() + offset, len);
    return 0;
  });
}

static int32_t repo_size(void *ud, const char *key, bool *exists, uint64_t *size, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(ud);
    std::lock_guard<std::mutex> g(r->mu);
    auto it = r->objects.find(key);
    *exists = it != r->objects.end();
    if (*exists) *size = it->second.size();
    return 0;
  });
}

static int32_t repo_list(void *ud, const char *prefix, tabsnap_list_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(ud);
    std::lock_guard<std::mutex> g(r->mu);
    std::string p(prefix);
    for (auto &kv : r->objects)
      if (kv.first.compare(0, p.size(), p) == 0) tabsnap_list_sink_add(sink, kv.first.c_str(), kv.second.size());
    return 0;
  });
}

static int32_t repo_remove(void *ud, const char *key, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(ud);
    std::lock_guard<std::mutex> g(r->mu);
    r->objects.erase(key);
    return 0;
  });
}

static void repo_destroy(void *ud) { static_cast<MemRepo *>(ud)->destroyed++; }

static tabsnap_repo_callbacks repo_table(MemRepo *r) {
  tabsnap_repo_callbacks t{};
  t.version = TABSNAP_REPO_CALLBACKS_VERSION;
  t.max_concurrency = 0;
  t.user_data = r;
  t.put = repo_put;
  t.get = repo_get;
  t.size = repo_size;
  t.list = repo_list;
  t.remove = repo_remove;
  t.destroy = repo_destroy;
  return t;
}

// ---- the in-memory catalog --------------------------------------------------------------------------------
struct Tablet { std::string id; fs::path dir; };
struct Index { std::string name; std::vector<Tablet> tablets; };
struct Partition { std::string name; std::vector<Index> indexes; };
struct Table { std::string name; std::vector<Partition> partitions; };

struct Catalog {
  std::mutex mu;
  fs::path root;
  std::map<std::string, std::map<std::string, Table>> dbs;
  std::map<uint64_t, std::map<std::string, Table>> staged;  // job -> target table -> what it restores
  std::atomic<int> destroyed{0};
};

static int32_t host_list_tables(void *ud, const char *db, tabsnap_catalog_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    auto it = c->dbs.find(db);
    if (it == c->dbs.end()) throw std::runtime_error(std::string("Unknown database '") + db + "'");
    for (auto &kv : it->second) {
      tabsnap_catalog_add_table(sink, kv.first.c_str(), TABSNAP_TABLE_KIND_OLAP);
      for (auto &p : kv.second.partitions) {
        tabsnap_catalog_add_partition(sink, p.name.c_str(), false);
        for (auto &i : p.indexes) {
          tabsnap_catalog_add_index(sink, i.name.c_str());
          for (auto &t : i.tablets) tabsnap_catalog_add_tablet(sink, t.id.c_str());
        }
      }
    }
    return 0;
  });
}

static const Tablet *find_tablet(Catalog *c, const std::string &db, const tabsnap_tablet_ref *r) {
  auto &t = c->dbs.at(db).at(r->table);
  for (auto &p : t.partitions)
    if (p.name == r->partition)
      for (auto &i : p.indexes)
        if (i.name == r->index)
          for (auto &tb : i.tablets)
            if (tb.id == r->tablet) return &tb;
  return nullptr;
}

static int32_t host_snapshot(void *ud, const char *db, const tabsnap_tablet_ref *r, tabsnap_path_sink *out,
                             tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    const Tablet *t = find_tablet(c, db, r);
    if (!t) throw std::runtime_error("no such tablet");
    tabsnap_path_set(out, t->dir.c_str());
    return 0;
  });
}

static int32_t host_restore_target(void *ud, const char *db, uint64_t job, const tabsnap_tablet_ref *r,
                                   tabsnap_path_sink *out, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    fs::path dir = c->root / "restore" / std::to_string(job) / db / r->table / r->partition / r->index / r->tablet;
    Table &t = c->staged[job][r->table];
    t.name = r->table;
    Partition *p = nullptr;
    for (auto &x : t.partitions) if (x.name == r->partition) p = &x;
    if (!p) { t.partitions.push_back({r->partition, {}}); p = &t.partitions.back(); }
    Index *i = nullptr;
    for (auto &x : p->indexes) if (x.name == r->index) i = &x;
    if (!i) { p->indexes.push_back({r->index, {}}); i = &p->indexes.back(); }
    i->tablets.push_back({r->tablet, dir});
    tabsnap_path_set(out, dir.c_str());
    return 0;
  });
}

static int32_t host_commit(void *ud, const char *db, uint64_t job, const char *table, const char *, const uint8_t *,
                           size_t, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    c->dbs[db][table] = c->staged.at(job).at(table);
    return 0;
  });
}

static int32_t host_abort(void *ud, const char *, uint64_t job, const char *table, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    c->staged[job].erase(table);
    return 0;
  });
}

static bool host_privilege(void *, const char *user, int32_t privilege, const char *) {
  return privilege == 1 || std::strcmp(user, "root") == 0;
}

static void host_destroy(void *ud) { static_cast<Catalog *>(ud)->destroyed++; }

static std::vector<uint8_t> read_all(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

static std::string message(tabsnap_error *e) { return e ? tabsnap_error_message(e) : ""; }

// One thread: BACKUP db, poll SHOW BACKUP until FINISHED, RESTORE under an alias, compare every byte.
static void round_trip(const tabsnap_engine *engine, Catalog *cat, const std::string &db) {
  tabsnap_error *raw_err = nullptr;
  tabsnap_result *raw = nullptr;
  std::string sql = "BACKUP SNAPSHOT " + db + ".snap_" + db + " TO mem PROPERTIES ('timeout' = '3600')";
  tabsnap_status st = tabsnap_engine_execute(engine, "root", nullptr, sql.c_str(), &raw, &raw_err);
  ErrorPtr err(raw_err);
  ResultPtr res(raw);
  CHECK(("backup_" + db).c_str(), st == TABSNAP_STATUS_OK && tabsnap_result_kind(res.get(), 0) == TABSNAP_OUTCOME_JOB,
        message(err.get()));
  std::string state, timestamp;
  for (int i = 0; i < 600 && state != "FINISHED" && state != "CANCELLED"; i++) {
    tabsnap_result *r = nullptr;
    tabsnap_engine_execute(engine, "root", db.c_str(), "SHOW BACKUP", &r, nullptr);
    ResultPtr rows(r);
    size_t n = tabsnap_result_row_count(rows.get(), 0);
    for (size_t c = 0; n > 0 && c < tabsnap_result_column_count(rows.get(), 0); c++) {
      std::string name = tabsnap_result_column_name(rows.get(), 0, c);
      if (name == "State") state = tabsnap_result_value(rows.get(), 0, n - 1, c);
    }
    if (state != "FINISHED") std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(("show_backup_finished_" + db).c_str(), state == "FINISHED", state);
  {
    tabsnap_result *r = nullptr;
    tabsnap_engine_execute(engine, "root", db.c_str(), ("SHOW SNAPSHOT ON mem WHERE SNAPSHOT = 'snap_" + db + "'").c_str(), &r, nullptr);
    ResultPtr rows(r);
    timestamp = tabsnap_result_row_count(rows.get(), 0) ? tabsnap_result_value(rows.get(), 0, 0, 1) : "";
  }
  sql = "RESTORE SNAPSHOT " + db + ".snap_" + db + " FROM mem ON (t AS t_copy) PROPERTIES ('backup_timestamp' = '" + timestamp + "')";
  raw = nullptr;
  raw_err = nullptr;
  st = tabsnap_engine_execute(engine, "root", nullptr, sql.c_str(), &raw, &raw_err);
  ErrorPtr err2(raw_err);
  ResultPtr res2(raw);
  uint64_t job = tabsnap_result_job_id(res2.get(), 0);
  tabsnap_job_info info{};
  info.struct_size = sizeof info;
  tabsnap_engine_wait(engine, job, 60000, &info, nullptr);
  CHECK(("restore_" + db).c_str(), st == TABSNAP_STATUS_OK && info.state == TABSNAP_JOB_STATE_FINISHED,
        message(err2.get()) + " state " + std::to_string(info.state));
  // Compare every byte of every tablet file.
  std::lock_guard<std::mutex> g(cat->mu);
  auto &orig = cat->dbs.at(db).at("t");
  auto &copy = cat->dbs.at(db).at("t_copy");
  bool same = orig.partitions.size() == copy.partitions.size();
  size_t files = 0;
  for (size_t p = 0; same && p < orig.partitions.size(); p++)
    for (size_t i = 0; same && i < orig.partitions[p].indexes.size(); i++)
      for (size_t t = 0; same && t < orig.partitions[p].indexes[i].tablets.size(); t++) {
        const auto &a = orig.partitions[p].indexes[i].tablets[t].dir;
        const auto &b = copy.partitions[p].indexes[i].tablets[t].dir;
        for (auto &e : fs::recursive_directory_iterator(a)) {
          if (!e.is_regular_file()) continue;
          same = same && read_all(e.path()) == read_all(b / fs::relative(e.path(), a));
          files++;
        }
      }
  CHECK(("bytes_identical_" + db).c_str(), same && files == 8, std::to_string(files) + " files");
}

int main() {
  fs::path root = fs::temp_directory_path() / ("tabsnap-cpp-" + std::to_string(::getpid()));
  fs::create_directories(root);
  auto cat = std::make_unique<Catalog>();
  cat->root = root;
  // Three databases, each one table with 2 partitions x (base + rollup) x 1 tablet x 2 files.
  for (int d = 0; d < 3; d++) {
    std::string db = "db" + std::to_string(d);
    Table t{"t", {}};
    for (int p = 0; p < 2; p++) {
      Partition part{"p" + std::to_string(p), {}};
      for (std::string idx : {std::string("t"), std::string("r1")}) {
        std::string id = std::to_string(1000 * (d + 1) + 10 * p + (idx == "t" ? 0 : 1));
        fs::path dir = root / "data" / db / id;
        fs::create_directories(dir / "0");
        std::ofstream(dir / "0" / "0_0.dat", std::ios::binary) << std::string(100000 + 1000 * d, char('a' + d + p));
        std::ofstream(dir / "meta", std::ios::binary) << "tablet " << id;
        part.indexes.push_back({idx, {{id, dir}}});
      }
      t.partitions.push_back(part);
    }
    cat->dbs[db]["t"] = t;
  }

  tabsnap_host_callbacks host{};
  host.version = TABSNAP_HOST_CALLBACKS_VERSION;
  host.user_data = cat.get();
  host.list_tables = host_list_tables;
  host.snapshot_tablet = host_snapshot;
  host.release_tablet = nullptr;
  host.restore_target = host_restore_target;
  host.commit_restore = host_commit;
  host.abort_restore = host_abort;
  host.has_privilege = host_privilege;
  host.metadata = nullptr;
  host.destroy = host_destroy;

  tabsnap_engine *raw_engine = nullptr;
  tabsnap_error *raw_err = nullptr;
  tabsnap_status st = tabsnap_engine_new(&host, nullptr, &raw_engine, &raw_err);
  ErrorPtr err(raw_err);
  EnginePtr engine(raw_engine);
  CHECK("engine_new", st == TABSNAP_STATUS_OK, message(err.get()));

  MemRepo mem, broken;
  broken.broken = true;
  tabsnap_repo_callbacks t1 = repo_table(&mem), t2 = repo_table(&broken);
  CHECK("attach_repository", tabsnap_engine_attach_repository(engine.get(), "mem", &t1, false, nullptr) == TABSNAP_STATUS_OK, "");
  CHECK("attach_duplicate",
        tabsnap_engine_attach_repository(engine.get(), "mem", &t1, false, nullptr) == TABSNAP_STATUS_ANALYSIS, "");
  // The duplicate's destroy ran (ownership of user_data passed on the failed call).
  CHECK("destroy_on_failed_attach", mem.destroyed == 1, std::to_string(mem.destroyed));
  tabsnap_repo_callbacks bad = t1;
  bad.version = 99;
  CHECK("attach_bad_version", tabsnap_engine_attach_repository(engine.get(), "x", &bad, false, nullptr) == TABSNAP_STATUS_INVALID_ARGUMENT, "");
  CHECK("attach_broken", tabsnap_engine_attach_repository(engine.get(), "broken", &t2, false, nullptr) == TABSNAP_STATUS_OK, "");

  std::vector<std::thread> threads;
  for (int d = 0; d < 3; d++) threads.emplace_back(round_trip, engine.get(), cat.get(), "db" + std::to_string(d));
  for (auto &t : threads) t.join();

  // A failing callback: its message reaches the job's error.
  tabsnap_result *raw = nullptr;
  tabsnap_engine_execute(engine.get(), "root", "db0", "BACKUP SNAPSHOT other TO broken", &raw, nullptr);
  ResultPtr res(raw);
  uint64_t job = tabsnap_result_job_id(res.get(), 0);
  tabsnap_job_info info{};
  info.struct_size = sizeof info;
  tabsnap_engine_wait(engine.get(), job, 60000, &info, nullptr);
  char *msg = nullptr;
  tabsnap_engine_job_error(engine.get(), job, &msg, nullptr);
  std::string m = msg ? msg : "";
  tabsnap_string_free(msg);
  CHECK("failing_callback", info.state == TABSNAP_JOB_STATE_CANCELLED && info.status == TABSNAP_STATUS_REPOSITORY &&
        m.find("disk quota exceeded on the host's volume") != std::string::npos, m);
  // Unknown database, in the host's own words.
  raw_err = nullptr;
  raw = nullptr;
  st = tabsnap_engine_execute(engine.get(), "root", nullptr, "BACKUP SNAPSHOT nodb.s TO mem", &raw, &raw_err);
  ErrorPtr err3(raw_err);
  tabsnap_result_free(raw);
  CHECK("unknown_database", st == TABSNAP_STATUS_ANALYSIS && message(err3.get()) == "Unknown database 'nodb'", message(err3.get()));

  engine.reset();
  // mem: once for the refused duplicate, once for the refused version, once at engine free.
  CHECK("destroy_called_once", cat->destroyed == 1 && mem.destroyed == 3 && broken.destroyed == 1,
        std::to_string(cat->destroyed) + " " + std::to_string(mem.destroyed) + " " + std::to_string(broken.destroyed));
  fs::remove_all(root);
  return failures ? 1 : 0;
}
