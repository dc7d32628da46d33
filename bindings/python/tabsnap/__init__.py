"""tabsnap: BACKUP SNAPSHOT / RESTORE for OLAP engines, from Python (ctypes over libtabsnap).

    import tabsnap
    with tabsnap.Engine("/data", state_dir="/var/lib/tabsnap") as engine:
        engine.execute("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file:///backups/r'")
        job = engine.query("BACKUP SNAPSHOT db1.snap1 TO r")
        job.wait()
        print(engine.query("SHOW BACKUP", database="db1"))
"""
from ._errors import (AlreadyExistsError, AnalysisError, ArgumentError, CallbackError, Cancelled, CorruptionError,
                      InternalError, NotFoundError, ParseError, RepositoryError, TabsnapError, TimedOut)
from ._ffi import lib as _lib
from .engine import Engine, Job, JobInfo, MemoryRepository, Repository, VerifyReport

__all__ = [
    "Engine", "Job", "JobInfo", "VerifyReport", "Repository", "MemoryRepository", "TabsnapError", "ArgumentError", "ParseError",
    "AnalysisError", "NotFoundError", "AlreadyExistsError", "RepositoryError", "CorruptionError", "Cancelled",
    "TimedOut", "CallbackError", "InternalError", "version",
]


def version():
    """The library's version string."""
    return _lib.tabsnap_version().decode()
