/*
 * tabsnap.h — the C ABI of tabsnap.
 *
 * Generated from the Rust sources by cbindgen; do not edit. See README.md, "C API conventions".
 */

#ifndef TABSNAP_H
#define TABSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TABSNAP_VERSION "0.1.0"
#define TABSNAP_VERSION_MAJOR 0
#define TABSNAP_VERSION_MINOR 1
#define TABSNAP_VERSION_PATCH 0
/* MAJOR * 1000000 + MINOR * 1000 + PATCH */
#define TABSNAP_VERSION_NUMBER 1000

/* The versions of the callback tables this header describes (tests/header.rs checks them). */
#define TABSNAP_REPO_CALLBACKS_VERSION 1
#define TABSNAP_HOST_CALLBACKS_VERSION 3
#define TABSNAP_CLUSTER_CALLBACKS_VERSION 1

/* TABSNAP_API marks every function of the library; define it before including this header to override. */
#ifndef TABSNAP_API
#  if defined(_WIN32) && !defined(TABSNAP_STATIC)
#    define TABSNAP_API __declspec(dllimport)
#  elif defined(__GNUC__) || defined(__clang__)
#    define TABSNAP_API __attribute__((visibility("default")))
#  else
#    define TABSNAP_API
#  endif
#endif

/* TABSNAP_MUST_USE marks functions whose returned status must be checked. */
#ifndef TABSNAP_MUST_USE
#  if defined(__GNUC__) || defined(__clang__)
#    define TABSNAP_MUST_USE __attribute__((warn_unused_result))
#  elif defined(__cplusplus) && __cplusplus >= 201703L
#    define TABSNAP_MUST_USE [[nodiscard]]
#  else
#    define TABSNAP_MUST_USE
#  endif
#endif


/**
 * What a tabsnap function returns: `TABSNAP_STATUS_OK` (0) or a failure, grouped in stable ranges
 * (1xx arguments, 2xx statements, 3xx lookups, 4xx I/O and repositories, 5xx integrity, 6xx jobs, 7xx callbacks,
 * 9xx internal). Values never change; new ones are added.
 */
enum tabsnap_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Success.
   */
  TABSNAP_STATUS_OK = 0,
  /**
   * A required pointer argument was NULL.
   */
  TABSNAP_STATUS_NULL_ARGUMENT = 100,
  /**
   * A string argument was not valid UTF-8.
   */
  TABSNAP_STATUS_INVALID_UTF8 = 101,
  /**
   * An argument was out of range or unusable.
   */
  TABSNAP_STATUS_INVALID_ARGUMENT = 102,
  /**
   * A statement has a syntax error (the error object has its line and column).
   */
  TABSNAP_STATUS_SYNTAX = 200,
  /**
   * A statement was refused by the analysis (Doris's message).
   */
  TABSNAP_STATUS_ANALYSIS = 201,
  /**
   * Something asked for does not exist.
   */
  TABSNAP_STATUS_NOT_FOUND = 300,
  /**
   * Something that must be new already exists.
   */
  TABSNAP_STATUS_ALREADY_EXISTS = 301,
  /**
   * A local I/O error.
   */
  TABSNAP_STATUS_IO = 400,
  /**
   * A repository error.
   */
  TABSNAP_STATUS_REPOSITORY = 401,
  /**
   * Stored bytes fail their checksum or hash (the error object names the object).
   */
  TABSNAP_STATUS_CORRUPTION = 500,
  /**
   * An object is not in a format this version reads.
   */
  TABSNAP_STATUS_FORMAT = 501,
  /**
   * The job was cancelled.
   */
  TABSNAP_STATUS_CANCELLED = 600,
  /**
   * The job ran past its timeout.
   */
  TABSNAP_STATUS_TIMED_OUT = 601,
  /**
   * A host or repository callback reported a failure (the message is the callback's own).
   */
  TABSNAP_STATUS_CALLBACK = 700,
  /**
   * tabsnap panicked; the engine is now poisoned.
   */
  TABSNAP_STATUS_INTERNAL_PANIC = 900,
  /**
   * The engine was poisoned by an earlier panic and refuses further calls.
   */
  TABSNAP_STATUS_POISONED = 901,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_status tabsnap_status;
#else
typedef int32_t tabsnap_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * What one statement of `tabsnap_engine_execute` produced (`tabsnap_result_kind`).
 */
enum tabsnap_outcome
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Done, nothing to read (CREATE REPOSITORY, CANCEL, …).
   */
  TABSNAP_OUTCOME_DONE = 0,
  /**
   * A job started (BACKUP, RESTORE): read its id with `tabsnap_result_job_id`.
   */
  TABSNAP_OUTCOME_JOB = 1,
  /**
   * Rows (SHOW …): read them with `tabsnap_result_row_count` / `tabsnap_result_value`.
   */
  TABSNAP_OUTCOME_ROWS = 2,
  /**
   * No such statement in the result.
   */
  TABSNAP_OUTCOME_INVALID = -1,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_outcome tabsnap_outcome;
#else
typedef int32_t tabsnap_outcome;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * A job's state, with Doris's names.
 */
enum tabsnap_job_state
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * PENDING
   */
  TABSNAP_JOB_STATE_PENDING = 0,
  /**
   * SNAPSHOTING
   */
  TABSNAP_JOB_STATE_SNAPSHOTING = 1,
  /**
   * UPLOAD_SNAPSHOT
   */
  TABSNAP_JOB_STATE_UPLOAD_SNAPSHOT = 2,
  /**
   * UPLOADING
   */
  TABSNAP_JOB_STATE_UPLOADING = 3,
  /**
   * SAVE_META
   */
  TABSNAP_JOB_STATE_SAVE_META = 4,
  /**
   * UPLOAD_INFO
   */
  TABSNAP_JOB_STATE_UPLOAD_INFO = 5,
  /**
   * DOWNLOAD
   */
  TABSNAP_JOB_STATE_DOWNLOAD = 6,
  /**
   * DOWNLOADING
   */
  TABSNAP_JOB_STATE_DOWNLOADING = 7,
  /**
   * COMMIT
   */
  TABSNAP_JOB_STATE_COMMIT = 8,
  /**
   * COMMITTING
   */
  TABSNAP_JOB_STATE_COMMITTING = 9,
  /**
   * FINISHED
   */
  TABSNAP_JOB_STATE_FINISHED = 10,
  /**
   * CANCELLED
   */
  TABSNAP_JOB_STATE_CANCELLED = 11,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_job_state tabsnap_job_state;
#else
typedef int32_t tabsnap_job_state;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The kind of a table, for `tabsnap_catalog_add_table`.
 */
enum tabsnap_table_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * A table of tablets.
   */
  TABSNAP_TABLE_KIND_OLAP = 0,
  /**
   * A view.
   */
  TABSNAP_TABLE_KIND_VIEW = 1,
  /**
   * An asynchronous materialized view.
   */
  TABSNAP_TABLE_KIND_ASYNC_MV = 2,
  /**
   * Anything else.
   */
  TABSNAP_TABLE_KIND_OTHER = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_table_kind tabsnap_table_kind;
#else
typedef int32_t tabsnap_table_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * An optional part of the host contract, for `tabsnap_host_callbacks.features` (a bitwise OR of these values).
 * A statement whose properties need a feature the host does not declare is refused at analysis
 * (`TABSNAP_STATUS_ANALYSIS`, "Property p is not supported by this host: it needs …").
 */
enum tabsnap_host_feature
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * `schema_identity` and `snapshot_schema_identity`: a restore into an existing table checks that the schemas
   * match (RESTORE `force_replace` needs it).
   */
  TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY = 1,
  /**
   * `drop_table`: RESTORE `clean_tables`.
   */
  TABSNAP_HOST_FEATURE_DROP_TABLES = 2,
  /**
   * `drop_partitions`: RESTORE `clean_partitions`.
   */
  TABSNAP_HOST_FEATURE_DROP_PARTITIONS = 4,
  /**
   * `commit_restore_with` with `atomic_replace`: RESTORE `atomic_restore`.
   */
  TABSNAP_HOST_FEATURE_ATOMIC_REPLACE = 8,
  /**
   * `commit_restore_with` with the table properties of `tabsnap_restore_commit`: RESTORE `replication_num`,
   * `replication_allocation`, `reserve_replica`, `storage_medium`, `medium_allocation_mode`,
   * `reserve_dynamic_partition_enable`, `is_being_synced`.
   */
  TABSNAP_HOST_FEATURE_COMMIT_PROPERTIES = 16,
  /**
   * `view_definition` and `create_view`: views are backed up (their definitions) and restored.
   */
  TABSNAP_HOST_FEATURE_VIEWS = 32,
  /**
   * `list_index_tablets` (version 3): `list_tables` may leave every index's tablets out, and a backup lists
   * them an index at a time, so that it never holds a catalog of a million tablets.
   */
  TABSNAP_HOST_FEATURE_INDEX_TABLETS = 64,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_host_feature tabsnap_host_feature;
#else
typedef uint32_t tabsnap_host_feature;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * RESTORE `storage_medium`, for `tabsnap_restore_commit.storage_medium`.
 */
enum tabsnap_storage_medium
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * `same_with_upstream` (or no `storage_medium`): keep the snapshot's medium.
   */
  TABSNAP_STORAGE_MEDIUM_SAME_WITH_UPSTREAM = 0,
  /**
   * `hdd`.
   */
  TABSNAP_STORAGE_MEDIUM_HDD = 1,
  /**
   * `ssd`.
   */
  TABSNAP_STORAGE_MEDIUM_SSD = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum tabsnap_storage_medium tabsnap_storage_medium;
#else
typedef int32_t tabsnap_storage_medium;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * Receives bytes from `metadata`. Valid only during that call.
 */
typedef struct tabsnap_bytes_sink tabsnap_bytes_sink;

/**
 * Receives a database's catalog from `list_tables`, in order: a table, its partitions, each partition's indexes
 * (base first), each index's tablets; or, from `list_index_tablets`, the tablets of one index (and nothing
 * else). Valid only during that call.
 */
typedef struct tabsnap_catalog_sink tabsnap_catalog_sink;

/**
 * Where a callback puts a message about its failure (`tabsnap_cb_error_set`). Valid only during the call that
 * received it.
 */
typedef struct tabsnap_cb_error tabsnap_cb_error;

/**
 * An engine: runs statements, owns jobs and repositories. Created by `tabsnap_engine_new` /
 * `tabsnap_engine_new_dir`, freed by `tabsnap_engine_free`. Thread-safe: every function taking a
 * `const tabsnap_engine *` may be called from several threads at once, and from inside any tabsnap callback.
 * After an internal panic the engine is poisoned and its functions return `TABSNAP_STATUS_POISONED`.
 */
typedef struct tabsnap_engine tabsnap_engine;

/**
 * Details of a failure. Created by tabsnap (written to a `tabsnap_error **err_out` argument only when a call
 * fails), owned by the caller, freed with `tabsnap_error_free`. Immutable: safe to read from several threads.
 */
typedef struct tabsnap_error tabsnap_error;

/**
 * Receives the objects a `list` callback finds (`tabsnap_list_sink_add`). Valid only during that call.
 */
typedef struct tabsnap_list_sink tabsnap_list_sink;

/**
 * Options for a new engine. Created by `tabsnap_options_new`, freed by `tabsnap_options_free`; not
 * thread-safe (set it up on one thread, then pass it to `tabsnap_engine_new*`, which copies it).
 */
typedef struct tabsnap_options tabsnap_options;

/**
 * Receives a path from `snapshot_tablet` / `restore_target`. Valid only during that call.
 */
typedef struct tabsnap_path_sink tabsnap_path_sink;

/**
 * The outcomes of `tabsnap_engine_execute`, one per statement. Owned by the caller, freed with
 * `tabsnap_result_free`; immutable, so safe to read from several threads. Strings read from it are borrowed
 * and valid until it is freed.
 */
typedef struct tabsnap_result tabsnap_result;

/**
 * Receives text from `schema_identity`, `snapshot_schema_identity` and `view_definition`; a callback that sets
 * nothing answers "none". Valid only during that call.
 */
typedef struct tabsnap_text_sink tabsnap_text_sink;

/**
 * A job's state and progress, filled by `tabsnap_engine_job` / `tabsnap_engine_wait`. Set `struct_size` to
 * `sizeof(tabsnap_job_info)` before the call: later versions append fields and fill only what fits.
 */
typedef struct tabsnap_job_info {
  /**
   * `sizeof(tabsnap_job_info)`, set by the caller.
   */
  uint32_t struct_size;
  /**
   * `tabsnap_job_state`.
   */
  int32_t state;
  /**
   * 0 BACKUP, 1 RESTORE.
   */
  int32_t kind;
  /**
   * The job's status once ended: `TABSNAP_STATUS_OK`, `_CANCELLED`, `_TIMED_OUT`, or the failure's status.
   */
  int32_t status;
  /**
   * Files in the job.
   */
  uint64_t files_total;
  /**
   * Files done.
   */
  uint64_t files_done;
  /**
   * Bytes of file content in the job.
   */
  uint64_t bytes_total;
  /**
   * Bytes done.
   */
  uint64_t bytes_done;
} tabsnap_job_info;

/**
 * Called with a job's id and state/progress (`info`, valid during the call) when the job changes state and,
 * at most every 100 ms, as its progress moves; its last call for a job (FINISHED or CANCELLED) comes before
 * `tabsnap_engine_wait` returns that end. Runs on the job's threads, possibly several jobs at once, with no
 * lock of the engine held: it may call any engine function (`tabsnap_engine_job`, `_wait`, `_execute`,
 * `_cancel`) except `tabsnap_engine_free`. Keep it short, and let no C++ exception or `longjmp` out of it.
 */
typedef void (*tabsnap_progress_fn)(void *user_data,
                                    uint64_t job,
                                    const struct tabsnap_job_info *info);

/**
 * One tablet, as callbacks receive it. Strings are borrowed for the duration of the call.
 */
typedef struct tabsnap_tablet_ref {
  /**
   * The table (the target table, for restore callbacks).
   */
  const char *table;
  /**
   * The partition.
   */
  const char *partition;
  /**
   * The index (the table's own name for the base index).
   */
  const char *index;
  /**
   * The tablet id.
   */
  const char *tablet;
} tabsnap_tablet_ref;

/**
 * One tag of a replica allocation (`tag.location.<tag>: <replicas>`).
 */
typedef struct tabsnap_replica_tag {
  /**
   * The tag (`default` for `replication_num`); borrowed for the call.
   */
  const char *tag;
  /**
   * The replicas on it.
   */
  uint16_t replicas;
} tabsnap_replica_tag;

/**
 * The RESTORE properties a host applies to a table it commits (`commit_restore_with`). tabsnap owns it and
 * every pointer in it; all are valid only during the call. Later versions append fields: `struct_size` is
 * `sizeof(tabsnap_restore_commit)` of the library making the call, and a field is present only when it lies
 * within `struct_size` bytes (`offsetof(tabsnap_restore_commit, field) + sizeof field <= struct_size`).
 */
typedef struct tabsnap_restore_commit {
  /**
   * `sizeof(tabsnap_restore_commit)` as the library knows it.
   */
  uint32_t struct_size;
  /**
   * `atomic_restore` (`TABSNAP_HOST_FEATURE_ATOMIC_REPLACE`): the restored table replaces the existing one
   * whole, in one step.
   */
  bool atomic_replace;
  /**
   * `reserve_replica`: keep the snapshot's replica allocation (`replica_allocation` is then empty).
   */
  bool reserve_replica;
  /**
   * `reserve_dynamic_partition_enable`: keep the snapshot's dynamic partitioning switch; when false, dynamic
   * partitioning is turned off in the restored table, as Doris does.
   */
  bool reserve_dynamic_partition_enable;
  /**
   * `is_being_synced`: mark the restored table as a CCR sync target.
   */
  bool is_being_synced;
  /**
   * `storage_medium`, a `tabsnap_storage_medium` value.
   */
  int32_t storage_medium;
  /**
   * `replication_num` / `replication_allocation`: `replica_allocation_len` tags, in the order given (NULL
   * with 0 when the statement gives none, or gives `reserve_replica`).
   */
  const struct tabsnap_replica_tag *replica_allocation;
  /**
   * The number of tags in `replica_allocation`.
   */
  size_t replica_allocation_len;
  /**
   * `medium_allocation_mode`: `strict` or `adaptive`, lower case; NULL when not given.
   */
  const char *medium_allocation_mode;
} tabsnap_restore_commit;

/**
 * The host engine tabsnap is linked into. Every callback gets `user_data` first and (where it can fail) a
 * `tabsnap_cb_error *` last, returns 0 on success or a nonzero host code (with a message through
 * `tabsnap_cb_error_set`; a job it fails ends with `TABSNAP_STATUS_CALLBACK`) and may be called from tabsnap's
 * job threads, several at once for different databases, with no lock of the engine held: a callback may call
 * the engine's functions, except `tabsnap_engine_free`. Callbacks must not let C++ exceptions or `longjmp` cross into tabsnap. Strings are borrowed for
 * the call. The table is copied by `tabsnap_engine_new`; `user_data` must stay valid until `destroy`.
 *
 * Version 1 ends at `destroy`; a version-1 table is read only that far, so a host built against a version-1
 * header keeps working and declares no optional feature. Version 2 appends `features` and the optional
 * callbacks: a host declares each feature it implements in `features`, and gives exactly the callbacks of the
 * features it declares (`tabsnap_engine_new` refuses a declared feature whose callback is NULL and a callback
 * whose feature is not declared, with `TABSNAP_STATUS_INVALID_ARGUMENT`). Text answers go through a
 * `tabsnap_text_sink` (`tabsnap_text_set`).
 */
typedef struct tabsnap_host_callbacks {
  /**
   * `TABSNAP_HOST_CALLBACKS_VERSION` at compile time (3); 2 for a table that ends at `create_view`, 1 for one
   * that ends at `destroy`.
   */
  uint32_t version;
  /**
   * Passed to every callback.
   */
  void *user_data;
  /**
   * Describes `database` into `sink` (`tabsnap_catalog_add_*`). A database that does not exist: return
   * nonzero with a message such as "Unknown database 'x'".
   */
  int32_t (*list_tables)(void *user_data,
                         const char *database,
                         struct tabsnap_catalog_sink *sink,
                         struct tabsnap_cb_error *err);
  /**
   * Takes a consistent snapshot of a tablet and answers (`tabsnap_path_set`) with a local directory holding
   * its files, unchanged until `release_tablet`. Every call that returns 0 is matched by exactly one
   * `release_tablet` call for that tablet, whatever happens next (success, a failure at any later tablet,
   * cancel, timeout, `tabsnap_engine_free`); a call that fails is not. A failure ends the job with
   * `TABSNAP_STATUS_CALLBACK` and the callback's message. A backup takes its tablets a batch at a time (about
   * 16,384 files; `tabsnap_options_set_batch_files`), in plan order, and
   * releases a batch's tablets once their files are read, before it snapshots the next batch.
   */
  int32_t (*snapshot_tablet)(void *user_data,
                             const char *database,
                             const struct tabsnap_tablet_ref *tablet,
                             struct tabsnap_path_sink *sink,
                             struct tabsnap_cb_error *err);
  /**
   * Releases a snapshot taken by `snapshot_tablet` (may be NULL). A failure does not change the job's outcome:
   * a backup already committed stays FINISHED, and the message is reported beside it
   * (`tabsnap_engine_job_error`).
   */
  int32_t (*release_tablet)(void *user_data,
                            const char *database,
                            const struct tabsnap_tablet_ref *tablet,
                            struct tabsnap_cb_error *err);
  /**
   * Answers (`tabsnap_path_set`) with an empty directory where restore job `job` writes a tablet's files.
   */
  int32_t (*restore_target)(void *user_data,
                            const char *database,
                            uint64_t job,
                            const struct tabsnap_tablet_ref *tablet,
                            struct tabsnap_path_sink *sink,
                            struct tabsnap_cb_error *err);
  /**
   * Makes the restored partitions of `table` (snapshot table `source_table`) visible; `metadata` is the
   * snapshot's host metadata blob.
   */
  int32_t (*commit_restore)(void *user_data,
                            const char *database,
                            uint64_t job,
                            const char *table,
                            const char *source_table,
                            const uint8_t *metadata,
                            size_t metadata_len,
                            struct tabsnap_cb_error *err);
  /**
   * Drops what restore job `job` wrote for `table` (may be NULL). Called for every table not committed when a
   * restore fails; a failure is reported beside the job's error (`tabsnap_engine_job_error`).
   */
  int32_t (*abort_restore)(void *user_data,
                           const char *database,
                           uint64_t job,
                           const char *table,
                           struct tabsnap_cb_error *err);
  /**
   * Whether `user` holds a privilege: 0 ADMIN, 1 LOAD on `database` (NULL for ADMIN). NULL callback: every
   * user holds every privilege.
   */
  bool (*has_privilege)(void *user_data, const char *user, int32_t privilege, const char *database);
  /**
   * Answers (`tabsnap_bytes_set`) with the metadata stored with a snapshot of `database` (may be NULL).
   */
  int32_t (*metadata)(void *user_data,
                      const char *database,
                      struct tabsnap_bytes_sink *sink,
                      struct tabsnap_cb_error *err);
  /**
   * Called once with `user_data` when the engine is freed, or before `tabsnap_engine_new` returns a failure
   * (may be NULL).
   */
  void (*destroy)(void *user_data);
  /**
   * Version 2: the features this host implements, a bitwise OR of `tabsnap_host_feature` values (0: none).
   */
  uint32_t features;
  /**
   * `TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY`: answers (`tabsnap_text_set`) with a fingerprint of the live
   * `table`'s schema (columns, keys, indexes); equal fingerprints mean a restore may write into the table.
   * Answering nothing means the host knows none for it. Called while a RESTORE into an existing table is
   * analysed; a failure fails the statement with `TABSNAP_STATUS_CALLBACK`.
   */
  int32_t (*schema_identity)(void *user_data,
                             const char *database,
                             const char *table,
                             struct tabsnap_text_sink *sink,
                             struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY`: answers (`tabsnap_text_set`) with the fingerprint of `table`'s
   * schema as recorded in a snapshot's host `metadata` (what the `metadata` callback produced), or nothing
   * when the snapshot records none.
   */
  int32_t (*snapshot_schema_identity)(void *user_data,
                                      const uint8_t *metadata,
                                      size_t metadata_len,
                                      const char *table,
                                      struct tabsnap_text_sink *sink,
                                      struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_DROP_TABLES`: drops `table` (RESTORE `clean_tables`). Called by restore job `job`
   * after every restored table and view is committed; a failure fails the job with `TABSNAP_STATUS_CALLBACK`
   * (the tables committed stay committed).
   */
  int32_t (*drop_table)(void *user_data,
                        const char *database,
                        uint64_t job,
                        const char *table,
                        struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_DROP_PARTITIONS`: drops the `partitions_len` partitions `partitions` of `table`
   * (RESTORE `clean_partitions`). Called by restore job `job` after every restored table is committed.
   */
  int32_t (*drop_partitions)(void *user_data,
                             const char *database,
                             uint64_t job,
                             const char *table,
                             const char *const *partitions,
                             size_t partitions_len,
                             struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_ATOMIC_REPLACE` / `_COMMIT_PROPERTIES`: `commit_restore` with the RESTORE
   * properties the host applies to the committed table (`options`, borrowed for the call). Called instead of
   * `commit_restore` when the statement asks for `atomic_restore` or a table property (a plain RESTORE calls
   * `commit_restore`), and only with what the declared features cover. With `options->atomic_replace` the
   * restored table replaces `table` whole, in one step (partitions the snapshot lacks are gone).
   */
  int32_t (*commit_restore_with)(void *user_data,
                                 const char *database,
                                 uint64_t job,
                                 const char *table,
                                 const char *source_table,
                                 const uint8_t *metadata,
                                 size_t metadata_len,
                                 const struct tabsnap_restore_commit *options,
                                 struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_VIEWS`: answers (`tabsnap_text_set`) with the definition of view `view` (the host's
   * text; stored with the snapshot as it is). Called by a BACKUP job for every view it takes; answering
   * nothing is a failure.
   */
  int32_t (*view_definition)(void *user_data,
                             const char *database,
                             const char *view,
                             struct tabsnap_text_sink *sink,
                             struct tabsnap_cb_error *err);
  /**
   * `TABSNAP_HOST_FEATURE_VIEWS`: creates view `view` with `definition`, replacing a view of that name. Called
   * by restore job `job` after its tables are committed.
   */
  int32_t (*create_view)(void *user_data,
                         const char *database,
                         uint64_t job,
                         const char *view,
                         const char *definition,
                         struct tabsnap_cb_error *err);
  /**
   * Version 3, `TABSNAP_HOST_FEATURE_INDEX_TABLETS`: answers with the tablets of index `index` of
   * partition `partition` of `table`, in order, one `tabsnap_catalog_add_tablet` each (the sink takes
   * tablets only). A BACKUP job asks for those of each index whose tablets `list_tables` left out: once when
   * it starts, to count them, and again when its batches reach the index; it holds one index's list at a
   * time.
   */
  int32_t (*list_index_tablets)(void *user_data,
                                const char *database,
                                const char *table,
                                const char *partition,
                                const char *index,
                                struct tabsnap_catalog_sink *sink,
                                struct tabsnap_cb_error *err);
} tabsnap_host_callbacks;

/**
 * A repository the host stores itself. Every callback gets `user_data` first and a `tabsnap_cb_error *` last,
 * returns 0 on success or a nonzero host code on failure (with a message set through `tabsnap_cb_error_set`; a
 * job it fails ends with `TABSNAP_STATUS_CALLBACK`), and may be called from tabsnap's worker threads, at most
 * `max_concurrency` at once (0: any number). Callbacks
 * must not let C++ exceptions or `longjmp` cross into tabsnap. Keys are `/`-separated UTF-8 strings, valid only
 * during the call.
 *
 * The table is copied when registered; `user_data` must stay valid until `destroy` is called.
 */
typedef struct tabsnap_repo_callbacks {
  /**
   * `TABSNAP_REPO_CALLBACKS_VERSION` at compile time (1).
   */
  uint32_t version;
  /**
   * 0: no limit; n: at most n callbacks run at once, across every job and thread of the engine.
   */
  uint32_t max_concurrency;
  /**
   * Passed to every callback.
   */
  void *user_data;
  /**
   * Stores `len` bytes under `key`, durably before returning 0. With `if_absent`, an existing object is
   * left alone and `*written` set false; otherwise `*written` is set true. A half-written object must never
   * be visible under `key`.
   */
  int32_t (*put)(void *user_data,
                 const char *key,
                 const uint8_t *data,
                 size_t len,
                 bool if_absent,
                 bool *written,
                 struct tabsnap_cb_error *err);
  /**
   * Reads exactly `len` bytes of `key` at `offset` into `buf`; anything less is a failure (never a short
   * read). Must be idempotent. For a missing object return nonzero: tabsnap then asks `size`, and a missing
   * object is "not found" rather than a callback failure.
   */
  int32_t (*get)(void *user_data,
                 const char *key,
                 uint64_t offset,
                 uint8_t *buf,
                 size_t len,
                 struct tabsnap_cb_error *err);
  /**
   * Sets `*exists` and, when it exists, `*size` of `key`.
   */
  int32_t (*size)(void *user_data,
                  const char *key,
                  bool *exists,
                  uint64_t *size,
                  struct tabsnap_cb_error *err);
  /**
   * Adds every object whose key starts with `prefix` to `sink` (`tabsnap_list_sink_add`), each once.
   */
  int32_t (*list)(void *user_data,
                  const char *prefix,
                  struct tabsnap_list_sink *sink,
                  struct tabsnap_cb_error *err);
  /**
   * Deletes `key`; deleting a missing key succeeds.
   */
  int32_t (*remove)(void *user_data, const char *key, struct tabsnap_cb_error *err);
  /**
   * Called once with `user_data` when tabsnap no longer needs the repository: when the engine is freed, or
   * before `tabsnap_engine_attach_repository` returns a failure (may be NULL).
   */
  void (*destroy)(void *user_data);
} tabsnap_repo_callbacks;

/**
 * One node's share of a coordinated backup, as `run_node` receives it. Every pointer is borrowed for the
 * duration of the call. To run the share in-process, pass its fields to `tabsnap_engine_backup_part`
 * (`database`, `label`, `timestamp`, `part` as the node, `tablets`, `dirs`, `n`).
 */
typedef struct tabsnap_node_task {
  /**
   * `sizeof(tabsnap_node_task)` of this library: later versions append fields.
   */
  uint32_t struct_size;
  /**
   * 0 for the first run of these tablets, then 1, 2, … for each retry.
   */
  uint32_t attempt;
  /**
   * The node that runs the share (one of the `nodes` given).
   */
  const char *node;
  /**
   * The name the node stores its part under: the node's own name, or `<node>-for-<failed node>` for a retry.
   */
  const char *part;
  /**
   * For a retry: the node these tablets were first given to; NULL otherwise.
   */
  const char *retry_of;
  /**
   * The database recorded in the snapshot.
   */
  const char *database;
  /**
   * The snapshot's label.
   */
  const char *label;
  /**
   * The snapshot's timestamp (`yyyy-MM-dd-HH-mm-ss`), the same for every node.
   */
  const char *timestamp;
  /**
   * The share's tablets (`n` entries).
   */
  const struct tabsnap_tablet_ref *tablets;
  /**
   * Where the node finds each tablet's files, as given to `tabsnap_engine_cluster_backup` (`n` entries).
   */
  const char *const *dirs;
  /**
   * The number of tablets.
   */
  size_t n;
} tabsnap_node_task;

/**
 * How a coordinated backup reaches the host's nodes. Used only during `tabsnap_engine_cluster_backup` (not
 * kept): `user_data` must stay valid until it returns; there is no `destroy`.
 */
typedef struct tabsnap_cluster_callbacks {
  /**
   * `TABSNAP_CLUSTER_CALLBACKS_VERSION` at compile time (1).
   */
  uint32_t version;
  /**
   * 0: every node runs at once, each on a thread of its own; n: at most n nodes at once (1: one after the
   * other, on the calling thread).
   */
  uint32_t max_concurrency;
  /**
   * Passed to `run_node`.
   */
  void *user_data;
  /**
   * Runs one node's share: backs up `task->tablets` and stores the part under `task->part` (on another
   * machine, or in-process with `tabsnap_engine_backup_part`), returning 0 once it is stored, or a nonzero
   * host code with a message through `tabsnap_cb_error_set`. Called for several nodes at once from
   * tabsnap's threads (see `max_concurrency`), never twice at once for the same node, with no lock of the
   * engine held: it may call any engine function but `tabsnap_engine_free`. It must not let C++ exceptions or
   * `longjmp` cross into tabsnap.
   */
  int32_t (*run_node)(void *user_data,
                      const struct tabsnap_node_task *task,
                      struct tabsnap_cb_error *err);
} tabsnap_cluster_callbacks;

/**
 * What a coordinated backup did, filled by `tabsnap_engine_cluster_backup`. Set `struct_size` to
 * `sizeof(tabsnap_cluster_summary)` before the call: later versions append fields and fill only what fits.
 */
typedef struct tabsnap_cluster_summary {
  /**
   * `sizeof(tabsnap_cluster_summary)`, set by the caller.
   */
  uint32_t struct_size;
  /**
   * Nodes that were given tablets.
   */
  uint32_t nodes;
  /**
   * Nodes whose run failed (their tablets were run again elsewhere).
   */
  uint32_t failed_nodes;
  /**
   * Tablets backed up.
   */
  uint64_t tablets;
  /**
   * Runs of a failed node's tablets on another node.
   */
  uint64_t retries;
  /**
   * Files in the snapshot.
   */
  uint64_t files;
  /**
   * Bytes of file content in the snapshot.
   */
  uint64_t bytes;
  /**
   * The snapshot's timestamp (for RESTORE's `backup_timestamp`), NUL-terminated.
   */
  char timestamp[32];
} tabsnap_cluster_summary;

/**
 * What `tabsnap_engine_verify` checked. Set `struct_size` to `sizeof(tabsnap_verify_report)` before the call:
 * later versions append fields and fill only what fits.
 */
typedef struct tabsnap_verify_report {
  /**
   * `sizeof(tabsnap_verify_report)`, set by the caller.
   */
  uint32_t struct_size;
  /**
   * Snapshots checked.
   */
  uint64_t snapshots;
  /**
   * Packs checked.
   */
  uint64_t packs;
  /**
   * Chunks checked (read, decompressed and hashed unless quick).
   */
  uint64_t chunks;
  /**
   * Bytes read from packs.
   */
  uint64_t bytes_read;
  /**
   * Problems found (0: the snapshots are sound).
   */
  uint64_t problems;
} tabsnap_verify_report;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The library's version as a static NUL-terminated string, e.g. `"0.1.0"`.
 *
 * Compare with the `TABSNAP_VERSION` macro to detect a header/library mismatch.
 *
 * Ownership: the string is static; never free it. Thread safety: any thread. Since: 0.1.
 */
TABSNAP_API const char *tabsnap_version(void);

/**
 * The library's version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`.
 *
 * Equal to `TABSNAP_VERSION_NUMBER` when the header and the library match. Thread safety: any thread.
 * Since: 0.1.
 */
TABSNAP_API
uint32_t tabsnap_version_number(void);

/**
 * A static, NUL-terminated description of a status code; `"unknown status"` for a value that is not one.
 *
 * Ownership: static; never free it. Thread safety: any thread. Since: 0.1.
 */
TABSNAP_API
const char *tabsnap_status_str(int32_t code);

/**
 * The status of the failed call `err` describes.
 *
 * Returns `TABSNAP_STATUS_NULL_ARGUMENT` when `err` is NULL.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or an error object from tabsnap not yet freed.
 */
TABSNAP_API TABSNAP_MUST_USE tabsnap_status tabsnap_error_status(const struct tabsnap_error *err);

/**
 * The message of `err`: what failed and where. Borrowed from `err`, valid until `tabsnap_error_free(err)`;
 * never NULL (an empty string when `err` is NULL).
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or an error object from tabsnap not yet freed.
 */
TABSNAP_API
const char *tabsnap_error_message(const struct tabsnap_error *err);

/**
 * For a syntax error, writes its 1-based line and column and returns true; otherwise returns false and writes
 * nothing. `line` and `column` may be NULL.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or a live error object; `line` and `column` are NULL or writable.
 */
TABSNAP_API
bool tabsnap_error_position(const struct tabsnap_error *err,
                            uint32_t *line,
                            uint32_t *column);

/**
 * The repository object (or file) the error is about, or NULL when there is none. Borrowed from `err`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or a live error object.
 */
TABSNAP_API
const char *tabsnap_error_object(const struct tabsnap_error *err);

/**
 * Frees an error object. NULL is a no-op.
 *
 * Thread safety: no other call may use `err` at the same time or after. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or an error object from tabsnap, freed only once.
 */
TABSNAP_API void tabsnap_error_free(struct tabsnap_error *err);

/**
 * Frees a string tabsnap handed out as owned (`char *`). NULL is a no-op. Never use the host's `free()` on it.
 *
 * Thread safety: no other call may use `s` at the same time or after. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `s` is NULL or an owned string from tabsnap, freed only once.
 */
TABSNAP_API
void tabsnap_string_free(char *s);

/**
 * New options with the defaults (threads: one per core, compression `auto` at zstd level 3, 4 MiB chunks,
 * 16 MiB packs, 64 MiB in flight, no state directory, tables that are not OLAP tables fail a BACKUP). Free
 * with `tabsnap_options_free`. NULL only if allocation failed.
 *
 * Thread safety: any thread. Since: 0.1.
 */
TABSNAP_API
struct tabsnap_options *tabsnap_options_new(void);

/**
 * Frees options. NULL is a no-op.
 *
 * Thread safety: no other call may use `opts` at the same time or after. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `opts` is NULL or from `tabsnap_options_new`, freed once.
 */
TABSNAP_API void tabsnap_options_free(struct tabsnap_options *opts);

/**
 * Worker threads (0: one per core; at most 1024).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL); `_INVALID_ARGUMENT` (out of range).
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `opts` is NULL or live and not used concurrently; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_threads(struct tabsnap_options *opts,
                                           uint32_t threads,
                                           struct tabsnap_error **err_out);

/**
 * The zstd level of compression `auto`, 1 to 19 (default 3).
 *
 * Returns as `tabsnap_options_set_threads`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_zstd_level(struct tabsnap_options *opts,
                                              int32_t level,
                                              struct tabsnap_error **err_out);

/**
 * How backups compress chunks when neither the BACKUP nor its repository has a `compression` property:
 * `"auto"` (the default: zstd at the level of `tabsnap_options_set_zstd_level` where samples of the chunk
 * shrink, raw otherwise), `"zstd-N"` (every chunk at level N, 1 to 19; `"zstd"` is `"zstd-3"`) or `"none"`
 * (every chunk raw).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` or `mode` NULL); `_INVALID_UTF8`; `_INVALID_ARGUMENT`
 * (another value: the message lists the valid ones).
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`; `mode` is NULL or a NUL-terminated string.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_compression(struct tabsnap_options *opts,
                                               const char *mode,
                                               struct tabsnap_error **err_out);

/**
 * Chunk size for large files, 64 KiB to 64 MiB (default 4 MiB).
 *
 * Returns as `tabsnap_options_set_threads`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_chunk_size(struct tabsnap_options *opts,
                                              uint64_t bytes,
                                              struct tabsnap_error **err_out);

/**
 * Target pack size, 1 MiB to 1 GiB (default 16 MiB).
 *
 * Returns as `tabsnap_options_set_threads`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_pack_size(struct tabsnap_options *opts,
                                             uint64_t bytes,
                                             struct tabsnap_error **err_out);

/**
 * Memory budget for packs being filled and uploaded, at least the pack size (default 64 MiB).
 *
 * Returns as `tabsnap_options_set_threads`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_bytes_in_flight(struct tabsnap_options *opts,
                                                   uint64_t bytes,
                                                   struct tabsnap_error **err_out);

/**
 * The files a backup takes per batch of tablets (default 16,384; 1 to 2^24): each batch is snapshotted
 * (`snapshot_tablet`), backed up and released (`release_tablet`) before the next, so a host holds at most one
 * batch of snapshots at a time.
 *
 * Returns as `tabsnap_options_set_threads`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.2.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_batch_files(struct tabsnap_options *opts,
                                               uint64_t files,
                                               struct tabsnap_error **err_out);

/**
 * A directory where the engine keeps repositories and job history between runs (NULL: keep nothing).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL); `_INVALID_UTF8`.
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`; `dir` is NULL or a NUL-terminated string.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_state_dir(struct tabsnap_options *opts,
                                             const char *dir,
                                             struct tabsnap_error **err_out);

/**
 * Caps every job's timeout at `ms` milliseconds (0: no cap; the statements' `timeout` applies).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_max_job_timeout_ms(struct tabsnap_options *opts,
                                                      uint64_t ms,
                                                      struct tabsnap_error **err_out);

/**
 * Watches every job of engines made with these options: `callback(user_data, job, info)` runs when a job changes
 * state and, at most every 100 ms, as its progress moves (see `tabsnap_progress_fn`). NULL `callback` removes
 * it. `user_data` must stay valid while an engine made with these options lives.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`; `callback` is NULL or a function callable from any thread.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_progress(struct tabsnap_options *opts,
                                            tabsnap_progress_fn callback,
                                            void *user_data,
                                            struct tabsnap_error **err_out);

/**
 * Doris's `ignore_backup_not_support_table_type`: with `ignore` true, a BACKUP skips the tables that are not
 * OLAP tables (and names them in its TaskErrMsg) instead of failing with "Table 't' is not a OLAP table".
 * Off by default.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
 *
 * Thread safety: one thread at a time per `opts`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_options_set_threads`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_options_set_ignore_backup_not_support_table_type(struct tabsnap_options *opts,
                                                                        bool ignore,
                                                                        struct tabsnap_error **err_out);

/**
 * Creates an engine over a data directory laid out like a BE's (see the README: the directory host).
 * `opts` may be NULL (defaults) and is copied. On success writes the engine to `*engine_out`; free it with
 * `tabsnap_engine_free`.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`data_dir` or `engine_out` NULL); `_INVALID_UTF8`;
 * `_INVALID_ARGUMENT` (options out of range); `_NOT_FOUND` / `_IO` (the data or state directory cannot be
 * read); `_FORMAT` (a damaged state file); the statuses of a saved repository that cannot be opened;
 * `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `data_dir` is NULL or a NUL-terminated string; `opts` is NULL or live; `engine_out` is NULL or writable;
 * `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_new_dir(const char *data_dir,
                                      const struct tabsnap_options *opts,
                                      struct tabsnap_engine **engine_out,
                                      struct tabsnap_error **err_out);

/**
 * Creates an engine over the host described by `host` (copied; its `user_data` must stay valid until its
 * `destroy` is called, when the engine is freed). `opts` may be NULL and is copied. If this call fails for any
 * reason (a NULL `engine_out`, an unsupported table, options or a state directory that cannot be used),
 * `destroy` has been called already, unless `host` itself is NULL.
 *
 * `host->version` may be 1 (a table that ends at `destroy`; the host has no optional feature) or 2.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`host` or `engine_out` NULL); `_INVALID_ARGUMENT` (an
 * unsupported `version`, a required callback missing, `features` and the optional callbacks disagreeing,
 * options out of range); `_NOT_FOUND` / `_IO` / `_FORMAT`
 * (the state directory); `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `host` is NULL or points to an initialised `tabsnap_host_callbacks` of the version it states; `opts` is NULL or live; `engine_out` is
 * NULL or writable; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_new(const struct tabsnap_host_callbacks *host,
                                  const struct tabsnap_options *opts,
                                  struct tabsnap_engine **engine_out,
                                  struct tabsnap_error **err_out);

/**
 * Frees an engine: cancels running jobs, waits until their threads have ended (every tablet snapshot taken
 * is released by then), then calls the host's and the repositories' `destroy` callbacks; no callback runs
 * after this returns. Results and errors already handed out stay valid. NULL is a no-op.
 *
 * Thread safety: no other call may use `engine` at the same time or after; never from inside a tabsnap
 * callback. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or from `tabsnap_engine_new*`, freed once, with no call on it running or to come.
 */
TABSNAP_API
void tabsnap_engine_free(struct tabsnap_engine *engine);

/**
 * Runs the statements of `sql` (separated by `;`) as `user` with current database `database` (NULL: none).
 * BACKUP and RESTORE return at once with a job id. On success writes a result to `*result_out` (free it with
 * `tabsnap_result_free`). The first failing statement stops the rest; those before it have run.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `user`, `sql` or `result_out` NULL);
 * `_INVALID_UTF8`; `_SYNTAX` (the error object has the line and column); `_ANALYSIS` (Doris's message);
 * `_NOT_FOUND`; `_IO` / `_REPOSITORY` / `_FORMAT` / `_CALLBACK` (a repository or the host failed while the
 * statement ran); `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: may be called from several threads at once, and from a progress callback. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `user`, `sql` and `database` are NULL or NUL-terminated; `result_out` is NULL or
 * writable; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_execute(const struct tabsnap_engine *engine,
                                      const char *user,
                                      const char *database,
                                      const char *sql,
                                      struct tabsnap_result **result_out,
                                      struct tabsnap_error **err_out);

/**
 * Registers a repository the host stores itself, under `name`, as CREATE REPOSITORY would (its snapshots, if
 * any, show up). The table is copied; its `user_data` must stay valid until its `destroy` is called (when the
 * engine is freed). If this call fails for any reason (a NULL or poisoned `engine` included), `destroy` has
 * been called already, unless `repo` itself is NULL.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `name` or `repo` NULL); `_INVALID_UTF8`;
 * `_INVALID_ARGUMENT` (an unsupported `version`, a required callback missing, a location holding something
 * else); `_ANALYSIS` (the name is taken); `_FORMAT` (an unsupported repository version); `_CALLBACK` (a
 * callback failed while initialising); `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `name` is NULL or NUL-terminated; `repo` is NULL or points to an initialised
 * `tabsnap_repo_callbacks`; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_attach_repository(const struct tabsnap_engine *engine,
                                                const char *name,
                                                const struct tabsnap_repo_callbacks *repo,
                                                bool read_only,
                                                struct tabsnap_error **err_out);

/**
 * `tabsnap_engine_attach_repository` with repository properties: the `n` pairs `keys[i]` = `values[i]`, from
 * `encryption` ("on"), `encryption.password`, `encryption.key_file`, `encryption.kdf` (an encrypted
 * repository, made when the store is empty; docs/ENCRYPTION.md) and `retention` (applied after each BACKUP
 * into it). The strings are copied; the password is kept only as the key it opens. `destroy` is called on
 * failure as for `tabsnap_engine_attach_repository`.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `name` or `repo` NULL, or `keys` / `values` NULL with
 * `n` > 0); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (as `tabsnap_engine_attach_repository`, a property that does
 * not apply, a bad value, a wrong password); `_ANALYSIS`; `_FORMAT`; `_CALLBACK`; `_POISONED`;
 * `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_engine_attach_repository`; `keys` and `values` point to `n` NUL-terminated strings each (NULL
 * when `n` is 0).
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_attach_repository_with(const struct tabsnap_engine *engine,
                                                     const char *name,
                                                     const struct tabsnap_repo_callbacks *repo,
                                                     bool read_only,
                                                     const char *const *keys,
                                                     const char *const *values,
                                                     size_t n,
                                                     struct tabsnap_error **err_out);

/**
 * One node's share of a backup several nodes run: packs the `n` tablets (`tablets[i]` names one, `dirs[i]` is
 * the local directory holding its files) into repository `repository` and leaves this node's part; a
 * coordinator then calls `tabsnap_engine_commit_parts` with every node's name. All nodes of one backup use the
 * same `label` and `timestamp` (`yyyy-MM-dd-HH-mm-ss`). Runs on the calling thread (and the engine's pool) and
 * returns when the part is stored. Running a node again replaces its part and uploads only what is missing.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, or `tablets` / `dirs` with `n` > 0);
 * `_INVALID_UTF8`; `_ANALYSIS` (an unknown or read-only repository); `_NOT_FOUND` / `_IO` (a tablet file);
 * `_REPOSITORY` / `_CALLBACK` (the repository); `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; the strings are NULL or NUL-terminated; `tablets` and `dirs` point to `n` entries
 * each (NULL when `n` is 0); `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_backup_part(const struct tabsnap_engine *engine,
                                          const char *repository,
                                          const char *database,
                                          const char *label,
                                          const char *timestamp,
                                          const char *node,
                                          const struct tabsnap_tablet_ref *tablets,
                                          const char *const *dirs,
                                          size_t n,
                                          struct tabsnap_error **err_out);

/**
 * Commits a backup several nodes ran with `tabsnap_engine_backup_part`: every one of the `n` `nodes` must have
 * left its part; the parts are merged and the snapshot's manifest written, after which the snapshot exists.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, or `nodes` with `n` > 0);
 * `_INVALID_UTF8`; `_ANALYSIS` (an unknown repository); `_NOT_FOUND` (names the nodes whose part is
 * missing); `_ALREADY_EXISTS` (the snapshot exists); `_REPOSITORY` / `_CALLBACK`; `_POISONED`;
 * `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; the strings are NULL or NUL-terminated; `nodes` points to `n` strings; `err_out` is
 * NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_commit_parts(const struct tabsnap_engine *engine,
                                           const char *repository,
                                           const char *label,
                                           const char *timestamp,
                                           const char *const *nodes,
                                           size_t n,
                                           struct tabsnap_error **err_out);

/**
 * Collects garbage in repository `repository`: removes the index objects and packs that no snapshot needs,
 * under the repository's exclusive lock (docs/FORMAT.md, "Concurrency"). When another job or process uses the
 * repository nothing is removed and `*busy_out` is set to true (a later collection frees the space). With
 * `dry_run`, nothing is removed and the counts say what would be.
 *
 * On `TABSNAP_STATUS_OK`, each non-NULL out-parameter is set: `*objects_out` the objects removed (or that would
 * be), `*bytes_out` their bytes, `*busy_out` whether the repository was in use; on failure they are untouched.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `repository`); `_INVALID_UTF8`; `_ANALYSIS` (an
 * unknown repository, or a READ ONLY one without `dry_run`); `_FORMAT` / `_CORRUPTION` (a manifest or index
 * that cannot be read: nothing is removed); `_REPOSITORY` / `_CALLBACK`; `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `repository` is NULL or NUL-terminated; each out-parameter is NULL or writable;
 * `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_collect_garbage(const struct tabsnap_engine *engine,
                                              const char *repository,
                                              bool dry_run,
                                              uint64_t *objects_out,
                                              uint64_t *bytes_out,
                                              bool *busy_out,
                                              struct tabsnap_error **err_out);

/**
 * The number of statements in `result` (0 for NULL).
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API size_t tabsnap_result_count(const struct tabsnap_result *result);

/**
 * What statement `i` produced (`TABSNAP_OUTCOME_INVALID` when `i` is out of range or `result` is NULL).
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API
tabsnap_outcome tabsnap_result_kind(const struct tabsnap_result *result,
                                    size_t i);

/**
 * The job id of statement `i`, or 0 when it did not start a job.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API uint64_t tabsnap_result_job_id(const struct tabsnap_result *result, size_t i);

/**
 * The number of columns of statement `i`'s rows (0 when it has none).
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API size_t tabsnap_result_column_count(const struct tabsnap_result *result, size_t i);

/**
 * The name of column `col` of statement `i` (Doris's column names), or NULL when out of range. Borrowed from
 * `result`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API
const char *tabsnap_result_column_name(const struct tabsnap_result *result,
                                       size_t i,
                                       size_t col);

/**
 * The number of rows of statement `i` (0 when it has none).
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API size_t tabsnap_result_row_count(const struct tabsnap_result *result, size_t i);

/**
 * The value at `row`, `col` of statement `i`, or NULL when out of range. Borrowed from `result`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or live.
 */
TABSNAP_API
const char *tabsnap_result_value(const struct tabsnap_result *result,
                                 size_t i,
                                 size_t row,
                                 size_t col);

/**
 * Frees a result. NULL is a no-op.
 *
 * Thread safety: no other call may use `result` at the same time or after. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `result` is NULL or from `tabsnap_engine_execute`, freed once, not read afterwards.
 */
TABSNAP_API void tabsnap_result_free(struct tabsnap_result *result);

/**
 * Reads job `job`'s state and progress into `*info_out` (set `info_out->struct_size` first).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `info_out` NULL); `_INVALID_ARGUMENT`
 * (`struct_size` too small); `_NOT_FOUND` (no such job, or it left the history); `_POISONED`;
 * `_INTERNAL_PANIC`.
 *
 * Thread safety: may be called from any thread, a progress callback included. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `info_out` is NULL or points to a `tabsnap_job_info` with `struct_size` set;
 * `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_job(const struct tabsnap_engine *engine,
                                  uint64_t job,
                                  struct tabsnap_job_info *info_out,
                                  struct tabsnap_error **err_out);

/**
 * Waits until job `job` ends or `timeout_ms` passes (`UINT64_MAX`: no limit), then reads it as
 * `tabsnap_engine_job` does: check `info_out->state`. A job's end is returned once it is saved and the
 * progress callback has seen it; called from the progress callback reporting that end, it returns at once.
 * Blocks the calling thread only.
 *
 * Returns `TABSNAP_STATUS_OK` (whether or not the job ended); otherwise as `tabsnap_engine_job`.
 *
 * Thread safety: as `tabsnap_engine_job`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_engine_job`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_wait(const struct tabsnap_engine *engine,
                                   uint64_t job,
                                   uint64_t timeout_ms,
                                   struct tabsnap_job_info *info_out,
                                   struct tabsnap_error **err_out);

/**
 * Asks job `job` to stop; it ends CANCELLED, leaving no snapshot (BACKUP) or nothing restored (RESTORE).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NOT_FOUND` (the job is not running); `_NULL_ARGUMENT` (`engine` NULL);
 * `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: may be called from any thread, a progress callback included. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_cancel(const struct tabsnap_engine *engine,
                                     uint64_t job,
                                     struct tabsnap_error **err_out);

/**
 * The job's TaskErrMsg: the error that ended it, then the failures that did not change its outcome (a
 * `release_tablet` failure after a backup committed, an `abort_restore` failure, a state file that could not be
 * written), `; `-separated; NULL in `*message_out` when there are none (a FINISHED job may have some). The
 * string is owned: free it with `tabsnap_string_free`.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `message_out` NULL); `_NOT_FOUND` (no such job);
 * `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: may be called from any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `message_out` is NULL or writable; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_job_error(const struct tabsnap_engine *engine,
                                        uint64_t job,
                                        char **message_out,
                                        struct tabsnap_error **err_out);

/**
 * Attaches `message` to a failing callback's result: it reaches the job's error (TaskErrMsg) and the
 * `tabsnap_error` the host reads. Calling it again replaces the message. NULL arguments are ignored; invalid
 * UTF-8 is replaced, never refused.
 *
 * Thread safety: the thread of the callback that received `err`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `err` is NULL or the `tabsnap_cb_error *` the callback received; `message` is NULL or NUL-terminated.
 */
TABSNAP_API
void tabsnap_cb_error_set(struct tabsnap_cb_error *err,
                          const char *message);

/**
 * Adds one object to a listing.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `key` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the `list` callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `sink` is NULL or the `tabsnap_list_sink *` the callback received; `key` is NULL or NUL-terminated.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_list_sink_add(struct tabsnap_list_sink *sink,
                                     const char *key,
                                     uint64_t size);

/**
 * Adds a table (`kind`: a `tabsnap_table_kind` value).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `name` NULL); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (an unknown `kind`); `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `sink` is the sink the callback received; `name` is NUL-terminated UTF-8.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_catalog_add_table(struct tabsnap_catalog_sink *sink,
                                         const char *name,
                                         int32_t kind);

/**
 * Adds a partition to the last table added.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no table added yet); `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_catalog_add_table`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_catalog_add_partition(struct tabsnap_catalog_sink *sink,
                                             const char *name,
                                             bool temporary);

/**
 * Adds an index to the last partition added (the first index of a partition is its base index).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no partition added yet); `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_catalog_add_table`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_catalog_add_index(struct tabsnap_catalog_sink *sink,
                                         const char *name);

/**
 * Adds a tablet to the last index added.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no index added yet); `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * As `tabsnap_catalog_add_table`.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_catalog_add_tablet(struct tabsnap_catalog_sink *sink,
                                          const char *id);

/**
 * Sets the directory a callback answers with.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `path` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `sink` is the sink the callback received; `path` is NUL-terminated UTF-8.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_path_set(struct tabsnap_path_sink *sink,
                                const char *path);

/**
 * Sets the bytes a callback answers with (copied).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` NULL, or `data` NULL with `len` > 0); `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `sink` is the sink the callback received; `data` is NULL with `len` 0, or points to `len` readable bytes.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_bytes_set(struct tabsnap_bytes_sink *sink,
                                 const uint8_t *data,
                                 size_t len);

/**
 * Sets the text a callback answers with (copied; setting it again replaces it).
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `text` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
 *
 * Thread safety: the thread of the callback that received `sink`. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `sink` is the sink the callback received; `text` is NUL-terminated UTF-8.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_text_set(struct tabsnap_text_sink *sink,
                                const char *text);

/**
 * Backs up `n` tablets into repository `repository` with several nodes, coordinated: deals the tablets to the
 * `n_nodes` `nodes` round-robin (nodes left without a tablet are not run), calls `callbacks->run_node` for each
 * node's share, runs a failed share again on a node that succeeded (at most `retries` times), and commits the
 * snapshot once every tablet is stored. `tablets[i]` names a tablet and `dirs[i]` where the node that holds it
 * finds its files (handed to `run_node` as given). Returns when the snapshot is committed or the backup failed;
 * on failure nothing is committed and the parts this call stored are removed.
 *
 * `callbacks` is copied and used only during the call. On success, if `summary_out` is not NULL, fills it as
 * far as its `struct_size` allows.
 *
 * Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, `callbacks`, its `run_node`, `nodes` with
 * `n_nodes` > 0, or `tablets` / `dirs` with `n` > 0); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (an unknown
 * `callbacks->version`, `summary_out->struct_size` too small, no tablet, no node, a node named twice or unfit
 * to name a part, a label that cannot name a snapshot); `_ANALYSIS` (an unknown or read-only repository);
 * `_CALLBACK` (every node failed, or a share failed more than `retries` times: the message names each failed
 * node and its callback's message); `_ALREADY_EXISTS`, `_REPOSITORY` (the commit); `_POISONED`;
 * `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; the strings are NULL or NUL-terminated; `tablets` and `dirs` point to `n` entries
 * each and `nodes` to `n_nodes` strings (NULL when the count is 0); `callbacks` is NULL or initialised;
 * `summary_out` is NULL or writable with its `struct_size` set; `err_out` is NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_cluster_backup(const struct tabsnap_engine *engine,
                                             const char *repository,
                                             const char *database,
                                             const char *label,
                                             const struct tabsnap_tablet_ref *tablets,
                                             const char *const *dirs,
                                             size_t n,
                                             const char *const *nodes,
                                             size_t n_nodes,
                                             uint32_t retries,
                                             const struct tabsnap_cluster_callbacks *callbacks,
                                             struct tabsnap_cluster_summary *summary_out,
                                             struct tabsnap_error **err_out);

/**
 * Verifies the snapshots of repository `repository` that `label` and `timestamp` select (NULL: every snapshot;
 * NULL `timestamp`: every backup of `label`; `"latest"`: its newest), under a shared lock of the repository.
 * With `quick`, checks that everything each snapshot needs is there and consistent without reading the data;
 * otherwise reads every chunk and checks its crc32c and content hash, and every file's crc32c.
 *
 * `report_out` (NULL: not wanted; else its `struct_size` set by the caller) receives the counts, and
 * `*problems_out` (NULL: not wanted) a result with one row set (`tabsnap_result_value(r, 0, row, col)`; columns
 * Object, Chunk, Files, Message), owned by the caller and freed with `tabsnap_result_free`. Both are set when
 * the call returns `TABSNAP_STATUS_OK` (the snapshots are sound) or `_CORRUPTION` (problems were found: the
 * error object names the first problem's object, the rows list every one); on any other status neither is
 * touched.
 *
 * Returns `TABSNAP_STATUS_OK`; `_CORRUPTION` (problems found); `_NULL_ARGUMENT` (`engine` or `repository`);
 * `_INVALID_UTF8`; `_INVALID_ARGUMENT` (a `timestamp` without `label`, or `report_out->struct_size` too small);
 * `_ANALYSIS` (an unknown repository); `_NOT_FOUND` (no snapshot matches); `_REPOSITORY` / `_CALLBACK` (listing
 * the snapshots or taking the lock failed); `_POISONED`; `_INTERNAL_PANIC`.
 *
 * Thread safety: any thread. Since: 0.1.
 *
 * Preconditions (undefined behaviour otherwise):
 * `engine` is NULL or live; `repository`, `label` and `timestamp` are NULL or NUL-terminated; `report_out` is
 * NULL or points to a writable `tabsnap_verify_report` whose `struct_size` is set; `problems_out` and `err_out`
 * are NULL or writable.
 */
TABSNAP_API
TABSNAP_MUST_USE
tabsnap_status tabsnap_engine_verify(const struct tabsnap_engine *engine,
                                     const char *repository,
                                     const char *label,
                                     const char *timestamp,
                                     bool quick,
                                     struct tabsnap_verify_report *report_out,
                                     struct tabsnap_result **problems_out,
                                     struct tabsnap_error **err_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* TABSNAP_H */
