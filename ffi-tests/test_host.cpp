// A small C++ host: an in-memory catalog and an in-memory repository behind tabsnap's callback tables.
// Several threads each back up a database, poll SHOW BACKUP until FINISHED, restore under an alias and compare
// every byte; a repository whose callbacks fail shows its message in the job's error.
#include "mem_host.hpp"

#include <unistd.h>

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
    IGNORE_STATUS(tabsnap_engine_execute(engine, "root", db.c_str(), "SHOW BACKUP", &r, nullptr));
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
    IGNORE_STATUS(tabsnap_engine_execute(engine, "root", db.c_str(), ("SHOW SNAPSHOT ON mem WHERE SNAPSHOT = 'snap_" + db + "'").c_str(), &r, nullptr));
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
  IGNORE_STATUS(tabsnap_engine_wait(engine, job, 60000, &info, nullptr));
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
  fill_catalog(cat.get(), root);
  tabsnap_host_callbacks host = host_table(cat.get());

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
  IGNORE_STATUS(tabsnap_engine_execute(engine.get(), "root", "db0", "BACKUP SNAPSHOT other TO broken", &raw, nullptr));
  ResultPtr res(raw);
  uint64_t job = tabsnap_result_job_id(res.get(), 0);
  tabsnap_job_info info{};
  info.struct_size = sizeof info;
  IGNORE_STATUS(tabsnap_engine_wait(engine.get(), job, 60000, &info, nullptr));
  char *msg = nullptr;
  IGNORE_STATUS(tabsnap_engine_job_error(engine.get(), job, &msg, nullptr));
  std::string m = msg ? msg : "";
  tabsnap_string_free(msg);
  CHECK("failing_callback", info.state == TABSNAP_JOB_STATE_CANCELLED && info.status == TABSNAP_STATUS_CALLBACK &&
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
