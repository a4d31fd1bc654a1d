"""Where the libraries' own noise goes: the terminal shows the kit's lines, and the log file
(``$AUTOGRADER_LOG``, default ``~/.cache/autograder/autograder.log``) takes the libraries' Python
warnings (nbgrader's SQLAlchemy ``SAWarning``s, ...) and what TensorFlow's C++ core writes to
stderr as it starts (its oneDNN line shows even with ``TF_CPP_MIN_LOG_LEVEL=3``)."""

import contextlib
import os
import sys
import warnings
from pathlib import Path


def log_file() -> Path:
    """The log file, its folder made if missing."""
    path = Path(os.environ.get("AUTOGRADER_LOG") or Path.home() / ".cache" / "autograder" / "autograder.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def stderr_to_log():
    """While the block runs, whatever writes to file descriptor 2 (C++ libraries too) writes to the log file."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_file(), "ab") as log:
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def warnings_to_log() -> None:
    """From now on, Python warnings are appended to the log file instead of shown."""
    path = log_file()

    def show(message, category, filename, lineno, file=None, line=None):
        with open(path, "a", encoding="utf-8") as log:
            log.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
