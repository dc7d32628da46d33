/* The README's C example: back up a data directory and wait for the job. */
#include "tabsnap.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  char dir[128], sql[1024];
  snprintf(dir, sizeof dir, "/tmp/tabsnap-example-%d", (int)getpid());
  snprintf(sql, sizeof sql, "mkdir -p %s/data/db1/t1/p1/1001 && echo segment > %s/data/db1/t1/p1/1001/0_0.dat", dir, dir);
  if (system(sql) != 0) return 1;

  tabsnap_error *err = NULL;
  tabsnap_engine *engine = NULL;
  snprintf(sql, sizeof sql, "%s/data", dir);
  if (tabsnap_engine_new_dir(sql, NULL, &engine, &err) != TABSNAP_STATUS_OK) {
    fprintf(stderr, "tabsnap: %s\n", tabsnap_error_message(err));
    tabsnap_error_free(err);
    return 1;
  }
  snprintf(sql, sizeof sql,
           "CREATE REPOSITORY repo WITH LOCAL ON LOCATION 'file://%s/repo'; BACKUP SNAPSHOT db1.snap1 TO repo", dir);
  tabsnap_result *result = NULL;
  if (tabsnap_engine_execute(engine, "root", NULL, sql, &result, &err) != TABSNAP_STATUS_OK) {
    fprintf(stderr, "tabsnap: %s\n", tabsnap_error_message(err));
    tabsnap_error_free(err);
    tabsnap_engine_free(engine);
    return 1;
  }
  uint64_t job = tabsnap_result_job_id(result, 1);
  tabsnap_result_free(result);

  tabsnap_job_info info = {sizeof(tabsnap_job_info), 0, 0, 0, 0, 0, 0, 0};
  if (tabsnap_engine_wait(engine, job, 60000, &info, NULL) != TABSNAP_STATUS_OK) {
    tabsnap_engine_free(engine);
    return 1;
  }
  printf("ok example: job %llu state %d, %llu files\n", (unsigned long long)job, info.state,
         (unsigned long long)info.files_total);
  tabsnap_engine_free(engine);
  snprintf(sql, sizeof sql, "rm -rf %s", dir);
  return system(sql) == 0 && info.state == TABSNAP_JOB_STATE_FINISHED ? 0 : 1;
}
