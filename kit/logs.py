"""Log lines that hold what clients sent, one line each.

`escape` makes any text safe for a log line: control characters, line separators, lone
surrogates and backslashes are written as escapes, so a client cannot start a line of its
own. `one_line_for_expected_errors()` keeps nameko's report of a worker's expected error
(a refusal) to one escaped line without a traceback; an unexpected error keeps its traceback.
"""
import logging
import re
import traceback

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match):
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value):
    """`value` as text that stays on one line and can always be encoded."""
    return _UNSAFE.sub(_escaped, str(value))


def format_exception(exc):
    """The traceback of `exc` (and of its causes) with every exception message escaped:
    the frames are ours, the messages may hold what a client sent."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = "".join(traceback.format_tb(exc.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}"
                     f"{type(exc).__qualname__}: {escape(exc)}")
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return "\nwhich led to:\n".join(reversed(parts))


# nameko.containers reports a worker's error with these two messages, args (worker_ctx, exc).
_EXPECTED = "(expected) error handling worker %s: %s"
_UNEXPECTED = "error handling worker %s: %s"


class _WorkerErrors(logging.Filter):
    def filter(self, record):
        if record.msg not in (_EXPECTED, _UNEXPECTED) or len(record.args or ()) != 2:
            return True
        worker_ctx, exc = record.args
        if getattr(worker_ctx.entrypoint, "logs_its_answers", False):
            return False  # the entrypoint logs the answer it made of the error itself
        record.args = (worker_ctx, escape(exc))
        if record.msg == _EXPECTED:
            record.exc_info = None
            record.exc_text = None
        return True


_worker_errors = _WorkerErrors()


def one_line_for_expected_errors():
    """From now on in this process, a worker's expected error is one escaped WARNING line
    without a traceback, and an entrypoint with `logs_its_answers = True` is left to log its
    own errors. Calling it again changes nothing."""
    logging.getLogger("nameko.containers").addFilter(_worker_errors)
