"""Exceptions mapped from tabsnap statuses."""


class TabsnapError(Exception):
    """A tabsnap call failed. `status` is the tabsnap_status code, `message` says what and where."""

    def __init__(self, status, message, obj=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.object = obj


class ArgumentError(TabsnapError):
    """A NULL, non-UTF-8 or out-of-range argument (1xx)."""


class ParseError(TabsnapError):
    """A syntax error; `line` and `column` are 1-based."""

    def __init__(self, status, message, obj=None, line=None, column=None):
        super().__init__(status, message, obj)
        self.line = line
        self.column = column


class AnalysisError(TabsnapError):
    """A statement refused with Doris's message (201)."""


class NotFoundError(TabsnapError):
    """Something asked for does not exist (300)."""


class AlreadyExistsError(TabsnapError):
    """Something that must be new exists (301)."""


class RepositoryError(TabsnapError):
    """I/O or repository failure (4xx)."""


class CorruptionError(TabsnapError):
    """Stored bytes fail their checks (5xx); `object` names the repository object."""


class Cancelled(TabsnapError):
    """The job was cancelled (600)."""


class TimedOut(TabsnapError):
    """The job ran past its timeout (601)."""


class CallbackError(TabsnapError):
    """A host or repository callback failed (700); the message is the callback's own."""


class InternalError(TabsnapError):
    """tabsnap panicked or the engine is poisoned (9xx)."""


def class_for(status):
    if status == 200:
        return ParseError
    if status == 201:
        return AnalysisError
    if status == 300:
        return NotFoundError
    if status == 301:
        return AlreadyExistsError
    if status == 600:
        return Cancelled
    if status == 601:
        return TimedOut
    if status == 700:
        return CallbackError
    ranges = {1: ArgumentError, 4: RepositoryError, 5: CorruptionError, 9: InternalError}
    return ranges.get(status // 100, TabsnapError)
