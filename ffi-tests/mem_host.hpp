// A small C++ host for the test programs: an in-memory repository and an in-memory catalog behind tabsnap's
// callback tables, with counters and switches to make callbacks fail, block or record what tabsnap does.
#ifndef TABSNAP_TEST_MEM_HOST_HPP
#define TABSNAP_TEST_MEM_HOST_HPP
#include "tabsnap.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
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
    std::fflush(stdout);                                                         \
  } while (0)

// RAII for tabsnap handles.
struct ErrorFree { void operator()(tabsnap_error *e) const { tabsnap_error_free(e); } };
struct ResultFree { void operator()(tabsnap_result *r) const { tabsnap_result_free(r); } };
struct EngineFree { void operator()(tabsnap_engine *e) const { tabsnap_engine_free(e); } };
struct OptionsFree { void operator()(tabsnap_options *o) const { tabsnap_options_free(o); } };
using ErrorPtr = std::unique_ptr<tabsnap_error, ErrorFree>;
using ResultPtr = std::unique_ptr<tabsnap_result, ResultFree>;
using EnginePtr = std::unique_ptr<tabsnap_engine, EngineFree>;
using OptionsPtr = std::unique_ptr<tabsnap_options, OptionsFree>;

inline std::string message(tabsnap_error *e) { return e ? tabsnap_error_message(e) : ""; }

// ---- the in-memory repository ---------------------------------------------------------------------------
struct MemRepo {
  std::mutex mu;
  std::map<std::string, std::vector<uint8_t>> objects;
  bool broken = false;               // every pack upload fails
  uint32_t max_concurrency = 0;      // what the table declares
  std::atomic<int> destroyed{0};
  // Concurrency: calls running now and the most seen at once (each call lasts at least `call_ms`).
  std::atomic<int> now{0}, peak{0};
  int call_ms = 0;
  // A gate pack uploads wait at while closed; `arrived` counts uploads that reached it.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gated = false;
  int arrived = 0;

  void open_gate() {
    std::lock_guard<std::mutex> g(gate_mu);
    gated = false;
    gate_cv.notify_all();
  }
  void wait_arrival() {
    std::unique_lock<std::mutex> g(gate_mu);
    gate_cv.wait(g, [&] { return arrived > 0; });
  }
};

// Counts a call as running for its duration.
struct Running {
  MemRepo *r;
  explicit Running(MemRepo *repo) : r(repo) {
    int n = ++r->now;
    int p = r->peak.load();
    while (n > p && !r->peak.compare_exchange_weak(p, n)) {
    }
    if (r->call_ms) std::this_thread::sleep_for(std::chrono::milliseconds(r->call_ms));
  }
  ~Running() { --r->now; }
};

// A sink call that fails fails the callback (shield turns the exception into a status and a message).
inline void must(tabsnap_status st) {
  if (st != TABSNAP_STATUS_OK) throw std::runtime_error(std::string("tabsnap refused: ") + tabsnap_status_str(st));
}

// A status the caller checks by other means (the job's state, the rows read back).
#define IGNORE_STATUS(call) \
  do {                      \
    if ((call) != TABSNAP_STATUS_OK) {} \
  } while (0)

// Every callback catches everything: no C++ exception may cross into tabsnap.
template <typename F>
inline int32_t shield(tabsnap_cb_error *err, F f) {
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

inline int32_t repo_put(void *user_data, const char *key, const uint8_t *data, size_t len, bool if_absent,
                        bool *written, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(user_data);
    Running running(r);
    if (r->broken && std::strncmp(key, "packs/", 6) == 0) throw std::runtime_error("disk quota exceeded on the host's volume");
    if (std::strncmp(key, "packs/", 6) == 0) {
      std::unique_lock<std::mutex> g(r->gate_mu);
      r->arrived++;
      r->gate_cv.notify_all();
      r->gate_cv.wait(g, [&] { return !r->gated; });
    }
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

inline int32_t repo_get(void *user_data, const char *key, uint64_t offset, uint8_t *buf, size_t len,
                        tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(user_data);
    Running running(r);
    std::lock_guard<std::mutex> g(r->mu);
    auto it = r->objects.find(key);
    if (it == r->objects.end()) throw std::runtime_error(std::string("no object ") + key);
    if (offset + len > it->second.size()) throw std::runtime_error("range past the end");
    std::memcpy(buf, it->second.data() + offset, len);
    return 0;
  });
}

inline int32_t repo_size(void *user_data, const char *key, bool *exists, uint64_t *size, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(user_data);
    Running running(r);
    std::lock_guard<std::mutex> g(r->mu);
    auto it = r->objects.find(key);
    *exists = it != r->objects.end();
    if (*exists) *size = it->second.size();
    return 0;
  });
}

inline int32_t repo_list(void *user_data, const char *prefix, tabsnap_list_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(user_data);
    Running running(r);
    std::lock_guard<std::mutex> g(r->mu);
    std::string p(prefix);
    for (auto &kv : r->objects)
      if (kv.first.compare(0, p.size(), p) == 0) must(tabsnap_list_sink_add(sink, kv.first.c_str(), kv.second.size()));
    return 0;
  });
}

inline int32_t repo_remove(void *user_data, const char *key, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *r = static_cast<MemRepo *>(user_data);
    Running running(r);
    std::lock_guard<std::mutex> g(r->mu);
    r->objects.erase(key);
    return 0;
  });
}

inline void repo_destroy(void *user_data) { static_cast<MemRepo *>(user_data)->destroyed++; }

inline tabsnap_repo_callbacks repo_table(MemRepo *r) {
  tabsnap_repo_callbacks t{};
  t.version = TABSNAP_REPO_CALLBACKS_VERSION;
  t.max_concurrency = r->max_concurrency;
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
  // Snapshots: successful snapshot_tablet calls, release_tablet calls, and the snapshot_tablet call (1-based,
  // counted from `snapshot_calls`) that fails; 0: none.
  std::atomic<int> snapshot_calls{0}, taken{0}, released{0};
  // The most snapshots held at once (taken, not yet released).
  std::atomic<int> most_held{0};
  int fail_snapshot_at = 0;
  bool fail_release = false, fail_commit = false, fail_abort = false;
  // TABSNAP_HOST_FEATURE_INDEX_TABLETS: list_tables leaves tablets out and list_index_tablets gives them; the
  // calls made, the list_index_tablets call (1-based) that fails (0: none), and whether the sink refused an
  // index added to it.
  bool by_index = false;
  std::atomic<int> index_listings{0};
  int fail_listing_at = 0;
  std::atomic<bool> sink_refused_index{true};
};

inline int32_t host_list_tables(void *user_data, const char *db, tabsnap_catalog_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    std::lock_guard<std::mutex> g(c->mu);
    auto it = c->dbs.find(db);
    if (it == c->dbs.end()) throw std::runtime_error(std::string("Unknown database '") + db + "'");
    for (auto &kv : it->second) {
      must(tabsnap_catalog_add_table(sink, kv.first.c_str(), TABSNAP_TABLE_KIND_OLAP));
      for (auto &p : kv.second.partitions) {
        must(tabsnap_catalog_add_partition(sink, p.name.c_str(), false));
        for (auto &i : p.indexes) {
          must(tabsnap_catalog_add_index(sink, i.name.c_str()));
          if (c->by_index) continue;
          for (auto &t : i.tablets) must(tabsnap_catalog_add_tablet(sink, t.id.c_str()));
        }
      }
    }
    return 0;
  });
}

inline int32_t host_list_index_tablets(void *user_data, const char *db, const char *table, const char *partition,
                                       const char *index, tabsnap_catalog_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    std::lock_guard<std::mutex> g(c->mu);
    int n = ++c->index_listings;
    if (n == c->fail_listing_at) throw std::runtime_error("the index is being rebuilt");
    if (tabsnap_catalog_add_index(sink, "extra") != TABSNAP_STATUS_INVALID_ARGUMENT) c->sink_refused_index = false;
    for (auto &p : c->dbs.at(db).at(table).partitions)
      if (p.name == partition)
        for (auto &i : p.indexes)
          if (i.name == index)
            for (auto &t : i.tablets) must(tabsnap_catalog_add_tablet(sink, t.id.c_str()));
    return 0;
  });
}

inline const Tablet *find_tablet(Catalog *c, const std::string &db, const tabsnap_tablet_ref *r) {
  auto &t = c->dbs.at(db).at(r->table);
  for (auto &p : t.partitions)
    if (p.name == r->partition)
      for (auto &i : p.indexes)
        if (i.name == r->index)
          for (auto &tb : i.tablets)
            if (tb.id == r->tablet) return &tb;
  return nullptr;
}

inline int32_t host_snapshot(void *user_data, const char *db, const tabsnap_tablet_ref *r, tabsnap_path_sink *out,
                             tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    std::lock_guard<std::mutex> g(c->mu);
    if (++c->snapshot_calls == c->fail_snapshot_at) throw std::runtime_error("the tablet is being compacted");
    const Tablet *t = find_tablet(c, db, r);
    if (!t) throw std::runtime_error("no such tablet");
    must(tabsnap_path_set(out, t->dir.c_str()));
    int held = ++c->taken - c->released;
    if (held > c->most_held) c->most_held = held;
    return 0;
  });
}

inline int32_t host_release(void *user_data, const char *, const tabsnap_tablet_ref *, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    c->released++;
    if (c->fail_release) throw std::runtime_error("the snapshot directory is busy");
    return 0;
  });
}

inline int32_t host_restore_target(void *user_data, const char *db, uint64_t job, const tabsnap_tablet_ref *r,
                                   tabsnap_path_sink *out, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
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
    must(tabsnap_path_set(out, dir.c_str()));
    return 0;
  });
}

inline int32_t host_commit(void *user_data, const char *db, uint64_t job, const char *table, const char *,
                           const uint8_t *, size_t, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    std::lock_guard<std::mutex> g(c->mu);
    if (c->fail_commit) throw std::runtime_error("the catalog refused the new partitions");
    c->dbs[db][table] = c->staged.at(job).at(table);
    return 0;
  });
}

inline int32_t host_abort(void *user_data, const char *, uint64_t job, const char *table, tabsnap_cb_error *err) {
  return shield(err, [&] {
    auto *c = static_cast<Catalog *>(user_data);
    std::lock_guard<std::mutex> g(c->mu);
    if (c->fail_abort) throw std::runtime_error("the staging directory is gone");
    c->staged[job].erase(table);
    return 0;
  });
}

inline bool host_privilege(void *, const char *user, int32_t privilege, const char *) {
  return privilege == 1 || std::strcmp(user, "root") == 0;
}

inline void host_destroy(void *user_data) { static_cast<Catalog *>(user_data)->destroyed++; }

inline tabsnap_host_callbacks host_table(Catalog *c) {
  tabsnap_host_callbacks host{};
  host.version = TABSNAP_HOST_CALLBACKS_VERSION;
  host.user_data = c;
  host.list_tables = host_list_tables;
  if (c->by_index) {
    host.features |= TABSNAP_HOST_FEATURE_INDEX_TABLETS;
    host.list_index_tablets = host_list_index_tablets;
  }
  host.snapshot_tablet = host_snapshot;
  host.release_tablet = nullptr;
  host.restore_target = host_restore_target;
  host.commit_restore = host_commit;
  host.abort_restore = host_abort;
  host.has_privilege = host_privilege;
  host.metadata = nullptr;
  host.destroy = host_destroy;
  return host;
}

// Three databases db0..db2, each one table `t` with 2 partitions x (base + rollup) x 1 tablet x 2 files.
inline void fill_catalog(Catalog *cat, const fs::path &root) {
  cat->root = root;
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
}

inline std::vector<uint8_t> read_all(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
#endif
