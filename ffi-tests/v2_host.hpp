// A version-2 host for test_host_v2.cpp: mem_host.hpp's catalog plus schema fingerprints, views, a table of another
// kind, and every optional callback of tabsnap_host_callbacks version 2. Each callback counts its calls and fails
// on the call `fail_at[name]` (1-based) with the message "<name> refused by the test host".
#ifndef TABSNAP_TEST_V2_HOST_HPP
#define TABSNAP_TEST_V2_HOST_HPP
#include "mem_host.hpp"

#include <cstddef>
#include <set>
#include <sstream>
#include <utility>

struct CommitSeen {
  uint32_t struct_size = 0;
  bool atomic = false, reserve_replica = false, reserve_dynamic = false, synced = false;
  int32_t medium = -1;
  std::string mode;  // "(null)" when not given
  std::vector<std::pair<std::string, int>> tags;
};

// user_data is the Catalog base, so that mem_host.hpp's callbacks work on it unchanged.
struct V2Host : Catalog {
  std::map<std::string, std::string> schema;  // "db.table" -> fingerprint
  std::map<std::string, std::string> views;   // "db.view" -> definition
  std::set<std::string> others;               // "db.table" of kind OTHER
  std::map<std::string, int> calls, fail_at;
  std::vector<std::string> dropped;           // "table" or "table.partition"
  std::map<std::string, CommitSeen> commits;  // target table -> what commit_restore_with received
  int next_id = 5000;
};

inline V2Host *v2(void *user_data) { return static_cast<V2Host *>(static_cast<Catalog *>(user_data)); }

// Counts a call of `name` (the host's mutex held) and fails the one fail_at names.
inline void step(V2Host *h, const char *name) {
  if (++h->calls[name] == h->fail_at[name]) throw std::runtime_error(std::string(name) + " refused by the test host");
}

inline void add_table(V2Host *h, const std::string &db, const std::string &name,
                      const std::vector<std::string> &parts, const std::string &schema) {
  Table t{name, {}};
  for (auto &p : parts) {
    std::string id = std::to_string(h->next_id++);
    fs::path dir = h->root / "data" / db / id;
    fs::create_directories(dir);
    std::ofstream(dir / "0_0.dat", std::ios::binary) << name << "/" << p << " " << std::string(5000, 'x');
    t.partitions.push_back(Partition{p, {Index{name, {Tablet{id, dir}}}}});
  }
  h->dbs[db][name] = t;
  h->schema[db + "." + name] = schema;
}

// What the host holds for `db`, by name: tables with their kinds, partitions and schemas, then views.
inline std::string shape(V2Host *h, const std::string &db) {
  std::lock_guard<std::mutex> g(h->mu);
  std::ostringstream out;
  for (auto &kv : h->dbs[db]) {
    out << kv.first << "[" << h->schema[db + "." + kv.first] << "]:";
    for (auto &p : kv.second.partitions) out << p.name << ",";
    out << " ";
  }
  for (auto &o : h->others) out << "other " << o << " ";
  for (auto &v : h->views) out << "view " << v.first << "=" << v.second << " ";
  return out.str();
}

inline std::string partitions_of(V2Host *h, const std::string &db, const std::string &table) {
  std::lock_guard<std::mutex> g(h->mu);
  std::string out;
  for (auto &p : h->dbs[db][table].partitions) out += (out.empty() ? "" : ",") + p.name;
  return out;
}

inline int32_t v2_list_tables(void *ud, const char *db, tabsnap_catalog_sink *sink, tabsnap_cb_error *err) {
  int32_t rc = host_list_tables(ud, db, sink, err);
  if (rc != 0) return rc;
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    std::string prefix = std::string(db) + ".";
    for (auto &v : h->views)
      if (v.first.compare(0, prefix.size(), prefix) == 0)
        must(tabsnap_catalog_add_table(sink, v.first.substr(prefix.size()).c_str(), TABSNAP_TABLE_KIND_VIEW));
    for (auto &o : h->others)
      if (o.compare(0, prefix.size(), prefix) == 0)
        must(tabsnap_catalog_add_table(sink, o.substr(prefix.size()).c_str(), TABSNAP_TABLE_KIND_OTHER));
    return 0;
  });
}

// The snapshot's metadata: "table=fingerprint\n" for every table of the database.
inline int32_t v2_metadata(void *ud, const char *db, tabsnap_bytes_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    std::string blob, prefix = std::string(db) + ".";
    for (auto &s : h->schema)
      if (s.first.compare(0, prefix.size(), prefix) == 0) blob += s.first.substr(prefix.size()) + "=" + s.second + "\n";
    must(tabsnap_bytes_set(sink, reinterpret_cast<const uint8_t *>(blob.data()), blob.size()));
    return 0;
  });
}

inline std::string schema_in(const uint8_t *metadata, size_t len, const std::string &table) {
  std::istringstream in(std::string(reinterpret_cast<const char *>(metadata), len));
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, table.size() + 1, table + "=") == 0) return line.substr(table.size() + 1);
  return "";
}

// Puts the staged partitions of `table` into the live table: replacing partitions of the same name, or (atomic)
// replacing the whole table. The schema becomes the snapshot's.
inline void commit_staged(V2Host *h, const char *db, uint64_t job, const char *table, const char *source,
                          const uint8_t *metadata, size_t len, bool atomic) {
  Table staged = h->staged.at(job).at(table);
  h->staged[job].erase(table);
  auto &tables = h->dbs[db];
  if (atomic || !tables.count(table)) {
    tables[table] = staged;
  } else {
    auto &live = tables[table];
    for (auto &p : staged.partitions) {
      bool replaced = false;
      for (auto &q : live.partitions)
        if (q.name == p.name) q = p, replaced = true;
      if (!replaced) live.partitions.push_back(p);
    }
  }
  std::string s = schema_in(metadata, len, source);
  if (!s.empty()) h->schema[std::string(db) + "." + table] = s;
}

inline int32_t v2_commit(void *ud, const char *db, uint64_t job, const char *table, const char *source,
                         const uint8_t *metadata, size_t len, tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "commit_restore");
    commit_staged(h, db, job, table, source, metadata, len, false);
    return 0;
  });
}

inline int32_t v2_schema_identity(void *ud, const char *db, const char *table, tabsnap_text_sink *sink,
                                  tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "schema_identity");
    auto it = h->schema.find(std::string(db) + "." + table);
    if (it != h->schema.end() && !it->second.empty()) must(tabsnap_text_set(sink, it->second.c_str()));
    return 0;
  });
}

inline int32_t v2_snapshot_schema_identity(void *ud, const uint8_t *metadata, size_t len, const char *table,
                                           tabsnap_text_sink *sink, tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "snapshot_schema_identity");
    std::string s = schema_in(metadata, len, table);
    if (!s.empty()) must(tabsnap_text_set(sink, s.c_str()));
    return 0;
  });
}

inline int32_t v2_drop_table(void *ud, const char *db, uint64_t, const char *table, tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "drop_table");
    h->dbs[db].erase(table);
    h->schema.erase(std::string(db) + "." + table);
    h->dropped.push_back(table);
    return 0;
  });
}

inline int32_t v2_drop_partitions(void *ud, const char *db, uint64_t, const char *table,
                                  const char *const *partitions, size_t n, tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "drop_partitions");
    auto &parts = h->dbs[db].at(table).partitions;
    for (size_t i = 0; i < n; i++) {
      for (auto it = parts.begin(); it != parts.end(); ++it)
        if (it->name == partitions[i]) {
          parts.erase(it);
          break;
        }
      h->dropped.push_back(std::string(table) + "." + partitions[i]);
    }
    return 0;
  });
}

inline int32_t v2_commit_with(void *ud, const char *db, uint64_t job, const char *table, const char *source,
                              const uint8_t *metadata, size_t len, const tabsnap_restore_commit *o,
                              tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "commit_restore_with");
    CommitSeen seen;
    seen.struct_size = o->struct_size;
    // Fields are read only within the struct_size the library states.
    if (o->struct_size >= offsetof(tabsnap_restore_commit, medium_allocation_mode) + sizeof(const char *)) {
      seen.atomic = o->atomic_replace;
      seen.reserve_replica = o->reserve_replica;
      seen.reserve_dynamic = o->reserve_dynamic_partition_enable;
      seen.synced = o->is_being_synced;
      seen.medium = o->storage_medium;
      seen.mode = o->medium_allocation_mode ? o->medium_allocation_mode : "(null)";
      for (size_t i = 0; i < o->replica_allocation_len; i++)
        seen.tags.emplace_back(o->replica_allocation[i].tag, o->replica_allocation[i].replicas);
    }
    h->commits[table] = seen;
    commit_staged(h, db, job, table, source, metadata, len, seen.atomic);
    return 0;
  });
}

inline int32_t v2_view_definition(void *ud, const char *db, const char *view, tabsnap_text_sink *sink,
                                  tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "view_definition");
    must(tabsnap_text_set(sink, h->views.at(std::string(db) + "." + view).c_str()));
    return 0;
  });
}

inline int32_t v2_create_view(void *ud, const char *db, uint64_t, const char *view, const char *definition,
                              tabsnap_cb_error *err) {
  return shield(err, [&] {
    V2Host *h = v2(ud);
    std::lock_guard<std::mutex> g(h->mu);
    step(h, "create_view");
    h->views[std::string(db) + "." + view] = definition;
    return 0;
  });
}

// The version-2 table with every feature. It states version 2, so the library reads it only as far as
// `create_view`, as a host built against the version-2 header lays it out: the version-3 field after it holds
// garbage the library must not read.
inline tabsnap_host_callbacks v2_table(V2Host *h) {
  tabsnap_host_callbacks t = host_table(h);
  t.version = 2;
  t.list_index_tablets = reinterpret_cast<decltype(t.list_index_tablets)>(uintptr_t(1));
  t.list_tables = v2_list_tables;
  t.release_tablet = host_release;
  t.commit_restore = v2_commit;
  t.metadata = v2_metadata;
  t.features = TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY | TABSNAP_HOST_FEATURE_DROP_TABLES |
               TABSNAP_HOST_FEATURE_DROP_PARTITIONS | TABSNAP_HOST_FEATURE_ATOMIC_REPLACE |
               TABSNAP_HOST_FEATURE_COMMIT_PROPERTIES | TABSNAP_HOST_FEATURE_VIEWS;
  t.schema_identity = v2_schema_identity;
  t.snapshot_schema_identity = v2_snapshot_schema_identity;
  t.drop_table = v2_drop_table;
  t.drop_partitions = v2_drop_partitions;
  t.commit_restore_with = v2_commit_with;
  t.view_definition = v2_view_definition;
  t.create_view = v2_create_view;
  return t;
}

// The table as a host built against the version-1 header lays it out: it ends at `destroy`.
struct host_callbacks_v1 {
  uint32_t version;
  void *user_data;
  decltype(tabsnap_host_callbacks::list_tables) list_tables;
  decltype(tabsnap_host_callbacks::snapshot_tablet) snapshot_tablet;
  decltype(tabsnap_host_callbacks::release_tablet) release_tablet;
  decltype(tabsnap_host_callbacks::restore_target) restore_target;
  decltype(tabsnap_host_callbacks::commit_restore) commit_restore;
  decltype(tabsnap_host_callbacks::abort_restore) abort_restore;
  decltype(tabsnap_host_callbacks::has_privilege) has_privilege;
  decltype(tabsnap_host_callbacks::metadata) metadata;
  decltype(tabsnap_host_callbacks::destroy) destroy;
};
static_assert(sizeof(host_callbacks_v1) == offsetof(tabsnap_host_callbacks, features),
              "version 1 is the prefix of version 2");
#endif
