"""Reading what a student wrote (a submission, or files a notebook left in its run folder):
bounded in size, never through a link or from a special file, and any text of it clipped
before it reaches a message, the ledger, grades.csv or feedback."""

import os
import stat
from contextlib import contextmanager
from pathlib import Path

TEXT_CHARACTERS = 300
"""The most of any one text from a student's files that the grader repeats."""


class UnreadableFile(Exception):
    """A student's file that the grader will not read (its message says why)."""


def clip(text, limit: int = TEXT_CHARACTERS) -> str:
    """``text`` (written by a student's code: any length, any characters) cut to ``limit``
    characters, with characters UTF-8 cannot encode (lone surrogates) replaced."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return text.encode("utf-8", "replace").decode("utf-8")


@contextmanager
def open_regular(path: Path, max_bytes: int):
    """``path`` open for reading if it is a regular file (not a link, FIFO or device: opened
    without following links and without blocking) of at most ``max_bytes``; else UnreadableFile."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:  # the caller says what a missing file means
        raise
    except OSError as error:
        raise UnreadableFile(f"{Path(path).name} cannot be opened ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"{Path(path).name} is not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"{Path(path).name} is larger than {_size(max_bytes)}")
        yield stream


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path`` (`open_regular`), never more than ``max_bytes``
    (a file that grows while it is read is cut there, and refused)."""
    with open_regular(path, max_bytes) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnreadableFile(f"{Path(path).name} is larger than {_size(max_bytes)}")
    return data


def _size(count: int) -> str:
    return f"{count // 2**20} MB" if count >= 2**20 else f"{count} bytes"
