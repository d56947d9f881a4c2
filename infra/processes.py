"""The platform's child processes, as the launcher and Prometheus beside it run them: private
folders and log files, a process group signalled as one, and the stop signals (SIGINT, SIGTERM,
SIGHUP) turned into `Stopping` in the main thread, held back while a child is being started so
that every started child is recorded for stopping."""
import os
import signal
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_UMASK = 0o077
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def make_private_dir(path):
    """`path` as a folder only its owner can enter, with nothing in it readable or writable
    by group or others (existing entries are tightened; symbolic links are left alone)."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder, dirs, files in os.walk(path):
        for entry in [folder, *(os.path.join(folder, name) for name in dirs + files)]:
            mode = os.lstat(entry).st_mode
            if not Path(entry).is_symlink() and mode & 0o077:
                os.chmod(entry, mode & 0o7700)
    return path


def open_log(path):
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def signal_group(proc, sig):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


class Stopping(Exception):
    """Raised in the main thread by the first SIGINT, SIGTERM or SIGHUP."""


_deferral = {"depth": 0, "pending": None}


@contextmanager
def stop_deferred():
    """Within the block a stop signal is noted, and raised as Stopping when the block ends.
    (Blocking the signals instead would leave them blocked in a child started meanwhile.)"""
    _deferral["depth"] += 1
    try:
        yield
    finally:
        _deferral["depth"] -= 1
    if _deferral["depth"] == 0 and _deferral["pending"] is not None:
        signum, _deferral["pending"] = _deferral["pending"], None
        raise Stopping(signum)


def stop_on_signals():
    def on_signal(signum, frame):
        ignore_signals()
        if _deferral["depth"]:
            _deferral["pending"] = signum
        else:
            raise Stopping(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)


def ignore_signals():
    """While stopping: stop() is bounded, and a second Ctrl-C must not cut it short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
