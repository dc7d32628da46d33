"""Every function the header declares has a prototype in _bindings.py, and nothing more."""
import re

from conftest import ROOT
from tabsnap import _bindings


def test_every_header_function_has_a_prototype():
    header = (ROOT / "include" / "tabsnap.h").read_text()
    declared = set(re.findall(r"\b(tabsnap_[a-z0-9_]+)\s*\(", header))
    # Names followed by "(" that are not functions: function-pointer fields use "(*name)".
    declared -= set(re.findall(r"\(\*(tabsnap_[a-z0-9_]+)\)", header))
    assert declared, "no functions found in the header"
    missing = declared - set(_bindings.PROTOTYPES)
    extra = set(_bindings.PROTOTYPES) - declared
    assert not missing, f"functions without a prototype in _bindings.py: {sorted(missing)}"
    assert not extra, f"prototypes for functions the header does not declare: {sorted(extra)}"


def test_prototypes_are_all_set():
    for name in _bindings.PROTOTYPES:
        f = getattr(_bindings.lib, name)
        assert f.argtypes is not None, name


def test_callback_table_version_matches_header():
    header = (ROOT / "include" / "tabsnap.h").read_text()
    m = re.search(r"#define TABSNAP_REPO_CALLBACKS_VERSION (\d+)", header)
    assert int(m.group(1)) == _bindings.REPO_CALLBACKS_VERSION
    m = re.search(r"#define TABSNAP_CLUSTER_CALLBACKS_VERSION (\d+)", header)
    assert int(m.group(1)) == _bindings.CLUSTER_CALLBACKS_VERSION


def test_status_codes_and_their_exceptions_match_the_header():
    header = (ROOT / "include" / "tabsnap.h").read_text()
    statuses = {name: int(v) for name, v in re.findall(r"TABSNAP_STATUS_([A-Z0-9_]+) = (\d+)", header)}
    assert statuses["OK"] == 0 and len(statuses) >= 17
    from tabsnap import _errors
    expected = {"SYNTAX": _errors.ParseError, "ANALYSIS": _errors.AnalysisError, "NOT_FOUND": _errors.NotFoundError,
                "ALREADY_EXISTS": _errors.AlreadyExistsError, "CANCELLED": _errors.Cancelled,
                "TIMED_OUT": _errors.TimedOut, "CALLBACK": _errors.CallbackError}
    for name, code in statuses.items():
        if name == "OK":
            continue
        cls = _errors.class_for(code)
        assert cls is not _errors.TabsnapError, f"TABSNAP_STATUS_{name} ({code}) has no exception class"
        if name in expected:
            assert cls is expected[name], f"TABSNAP_STATUS_{name} maps to {cls.__name__}"


def test_job_states_match_the_header():
    header = (ROOT / "include" / "tabsnap.h").read_text()
    states = {int(v): name for name, v in re.findall(r"TABSNAP_JOB_STATE_([A-Z_]+) = (\d+)", header)}
    from tabsnap.engine import JOB_STATES
    assert [states[i] for i in range(len(states))] == JOB_STATES
