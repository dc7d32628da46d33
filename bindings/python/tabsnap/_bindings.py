"""Raw prototypes of include/tabsnap.h. Every function has argtypes and restype (tests/test_header.py checks that
this file and the header agree). Owned strings are c_void_p so they can be freed with tabsnap_string_free."""
import ctypes
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p

from ._ffi import lib


class tabsnap_error(ctypes.Structure):
    pass


class tabsnap_options(ctypes.Structure):
    pass


class tabsnap_engine(ctypes.Structure):
    pass


class tabsnap_result(ctypes.Structure):
    pass


class tabsnap_cb_error(ctypes.Structure):
    pass


class tabsnap_list_sink(ctypes.Structure):
    pass


class tabsnap_tablet_ref(ctypes.Structure):
    _fields_ = [("table", c_char_p), ("partition", c_char_p), ("index", c_char_p), ("tablet", c_char_p)]


class tabsnap_job_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("state", c_int32),
        ("kind", c_int32),
        ("status", c_int32),
        ("files_total", c_uint64),
        ("files_done", c_uint64),
        ("bytes_total", c_uint64),
        ("bytes_done", c_uint64),
    ]


class tabsnap_verify_report(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("snapshots", c_uint64),
        ("packs", c_uint64),
        ("chunks", c_uint64),
        ("bytes_read", c_uint64),
        ("problems", c_uint64),
    ]


PUT = ctypes.CFUNCTYPE(c_int32, c_void_p, c_char_p, POINTER(c_uint8), c_size_t, c_bool, POINTER(c_bool), POINTER(tabsnap_cb_error))
GET = ctypes.CFUNCTYPE(c_int32, c_void_p, c_char_p, c_uint64, POINTER(c_uint8), c_size_t, POINTER(tabsnap_cb_error))
SIZE = ctypes.CFUNCTYPE(c_int32, c_void_p, c_char_p, POINTER(c_bool), POINTER(c_uint64), POINTER(tabsnap_cb_error))
LIST = ctypes.CFUNCTYPE(c_int32, c_void_p, c_char_p, POINTER(tabsnap_list_sink), POINTER(tabsnap_cb_error))
REMOVE = ctypes.CFUNCTYPE(c_int32, c_void_p, c_char_p, POINTER(tabsnap_cb_error))
DESTROY = ctypes.CFUNCTYPE(None, c_void_p)
PROGRESS = ctypes.CFUNCTYPE(None, c_void_p, c_uint64, POINTER(tabsnap_job_info))


class tabsnap_repo_callbacks(ctypes.Structure):
    _fields_ = [
        ("version", c_uint32),
        ("max_concurrency", c_uint32),
        ("user_data", c_void_p),
        ("put", PUT),
        ("get", GET),
        ("size", SIZE),
        ("list", LIST),
        ("remove", REMOVE),
        ("destroy", DESTROY),
    ]


class tabsnap_node_task(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("attempt", c_uint32),
        ("node", c_char_p),
        ("part", c_char_p),
        ("retry_of", c_char_p),
        ("database", c_char_p),
        ("label", c_char_p),
        ("timestamp", c_char_p),
        ("tablets", POINTER(tabsnap_tablet_ref)),
        ("dirs", POINTER(c_char_p)),
        ("n", c_size_t),
    ]


RUN_NODE = ctypes.CFUNCTYPE(c_int32, c_void_p, POINTER(tabsnap_node_task), POINTER(tabsnap_cb_error))


class tabsnap_cluster_callbacks(ctypes.Structure):
    _fields_ = [
        ("version", c_uint32),
        ("max_concurrency", c_uint32),
        ("user_data", c_void_p),
        ("run_node", RUN_NODE),
    ]


class tabsnap_cluster_summary(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("nodes", c_uint32),
        ("failed_nodes", c_uint32),
        ("tablets", c_uint64),
        ("retries", c_uint64),
        ("files", c_uint64),
        ("bytes", c_uint64),
        ("timestamp", ctypes.c_char * 32),
    ]


E = POINTER(POINTER(tabsnap_error))
status = c_int32

PROTOTYPES = {
    "tabsnap_version": ([], c_char_p),
    "tabsnap_version_number": ([], c_uint32),
    "tabsnap_status_str": ([c_int32], c_char_p),
    "tabsnap_error_status": ([POINTER(tabsnap_error)], status),
    "tabsnap_error_message": ([POINTER(tabsnap_error)], c_char_p),
    "tabsnap_error_position": ([POINTER(tabsnap_error), POINTER(c_uint32), POINTER(c_uint32)], c_bool),
    "tabsnap_error_object": ([POINTER(tabsnap_error)], c_char_p),
    "tabsnap_error_free": ([POINTER(tabsnap_error)], None),
    "tabsnap_string_free": ([c_void_p], None),
    "tabsnap_options_new": ([], POINTER(tabsnap_options)),
    "tabsnap_options_free": ([POINTER(tabsnap_options)], None),
    "tabsnap_options_set_threads": ([POINTER(tabsnap_options), c_uint32, E], status),
    "tabsnap_options_set_zstd_level": ([POINTER(tabsnap_options), c_int32, E], status),
    "tabsnap_options_set_compression": ([POINTER(tabsnap_options), c_char_p, E], status),
    "tabsnap_options_set_chunk_size": ([POINTER(tabsnap_options), c_uint64, E], status),
    "tabsnap_options_set_pack_size": ([POINTER(tabsnap_options), c_uint64, E], status),
    "tabsnap_options_set_batch_files": ([POINTER(tabsnap_options), c_uint64, E], status),
    "tabsnap_options_set_bytes_in_flight": ([POINTER(tabsnap_options), c_uint64, E], status),
    "tabsnap_options_set_state_dir": ([POINTER(tabsnap_options), c_char_p, E], status),
    "tabsnap_options_set_max_job_timeout_ms": ([POINTER(tabsnap_options), c_uint64, E], status),
    "tabsnap_options_set_progress": ([POINTER(tabsnap_options), PROGRESS, c_void_p, E], status),
    "tabsnap_options_set_ignore_backup_not_support_table_type": ([POINTER(tabsnap_options), c_bool, E], status),
    "tabsnap_engine_new_dir": ([c_char_p, POINTER(tabsnap_options), POINTER(POINTER(tabsnap_engine)), E], status),
    "tabsnap_engine_new": ([c_void_p, POINTER(tabsnap_options), POINTER(POINTER(tabsnap_engine)), E], status),
    "tabsnap_engine_free": ([POINTER(tabsnap_engine)], None),
    "tabsnap_engine_execute": ([POINTER(tabsnap_engine), c_char_p, c_char_p, c_char_p, POINTER(POINTER(tabsnap_result)), E], status),
    "tabsnap_engine_attach_repository": ([POINTER(tabsnap_engine), c_char_p, POINTER(tabsnap_repo_callbacks), c_bool, E], status),
    "tabsnap_engine_attach_repository_with": (
        [POINTER(tabsnap_engine), c_char_p, POINTER(tabsnap_repo_callbacks), c_bool, POINTER(c_char_p),
         POINTER(c_char_p), c_size_t, E],
        status,
    ),
    "tabsnap_engine_job": ([POINTER(tabsnap_engine), c_uint64, POINTER(tabsnap_job_info), E], status),
    "tabsnap_engine_wait": ([POINTER(tabsnap_engine), c_uint64, c_uint64, POINTER(tabsnap_job_info), E], status),
    "tabsnap_engine_cancel": ([POINTER(tabsnap_engine), c_uint64, E], status),
    "tabsnap_engine_job_error": ([POINTER(tabsnap_engine), c_uint64, POINTER(c_void_p), E], status),
    "tabsnap_result_count": ([POINTER(tabsnap_result)], c_size_t),
    "tabsnap_result_kind": ([POINTER(tabsnap_result), c_size_t], c_int32),
    "tabsnap_result_job_id": ([POINTER(tabsnap_result), c_size_t], c_uint64),
    "tabsnap_result_column_count": ([POINTER(tabsnap_result), c_size_t], c_size_t),
    "tabsnap_result_column_name": ([POINTER(tabsnap_result), c_size_t, c_size_t], c_char_p),
    "tabsnap_result_row_count": ([POINTER(tabsnap_result), c_size_t], c_size_t),
    "tabsnap_result_value": ([POINTER(tabsnap_result), c_size_t, c_size_t, c_size_t], c_char_p),
    "tabsnap_result_free": ([POINTER(tabsnap_result)], None),
    "tabsnap_engine_backup_part": ([POINTER(tabsnap_engine), c_char_p, c_char_p, c_char_p, c_char_p, c_char_p, POINTER(tabsnap_tablet_ref), POINTER(c_char_p), c_size_t, E], status),
    "tabsnap_engine_commit_parts": ([POINTER(tabsnap_engine), c_char_p, c_char_p, c_char_p, POINTER(c_char_p), c_size_t, E], status),
    "tabsnap_engine_verify": ([POINTER(tabsnap_engine), c_char_p, c_char_p, c_char_p, c_bool, POINTER(tabsnap_verify_report), POINTER(POINTER(tabsnap_result)), E], status),
    "tabsnap_engine_collect_garbage": ([POINTER(tabsnap_engine), c_char_p, c_bool, POINTER(c_uint64), POINTER(c_uint64), POINTER(c_bool), E], status),
    "tabsnap_cb_error_set": ([POINTER(tabsnap_cb_error), c_char_p], None),
    "tabsnap_list_sink_add": ([POINTER(tabsnap_list_sink), c_char_p, c_uint64], status),
    # Host callback tables are for C/C++ hosts; Python hosts use the directory host or attach repositories.
    "tabsnap_catalog_add_table": ([c_void_p, c_char_p, c_int32], status),
    "tabsnap_catalog_add_partition": ([c_void_p, c_char_p, c_bool], status),
    "tabsnap_catalog_add_index": ([c_void_p, c_char_p], status),
    "tabsnap_catalog_add_tablet": ([c_void_p, c_char_p], status),
    "tabsnap_path_set": ([c_void_p, c_char_p], status),
    "tabsnap_bytes_set": ([c_void_p, POINTER(c_uint8), c_size_t], status),
    "tabsnap_text_set": ([c_void_p, c_char_p], status),
    "tabsnap_engine_cluster_backup": ([POINTER(tabsnap_engine), c_char_p, c_char_p, c_char_p, POINTER(tabsnap_tablet_ref), POINTER(c_char_p), c_size_t, POINTER(c_char_p), c_size_t, c_uint32, POINTER(tabsnap_cluster_callbacks), POINTER(tabsnap_cluster_summary), E], status),
}

# The prototypes are applied when the library is first used (_ffi._Library._load).

REPO_CALLBACKS_VERSION = 1
CLUSTER_CALLBACKS_VERSION = 1

# tabsnap_outcome
OUTCOME_DONE, OUTCOME_JOB, OUTCOME_ROWS = 0, 1, 2
