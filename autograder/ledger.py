"""The grading run's record of finished students: one JSON line each, appended and flushed to
disk by the one process that grades, so a run killed mid-batch resumes where it stopped."""

import dataclasses
import hashlib
import json
import os
import stat
from pathlib import Path

from .preflight import MAX_NOTEBOOK_BYTES
from .results import CellScore, SubmissionResult
from .untrusted import UnreadableFile, open_regular

FINGERPRINT_ENTRIES = 10_000
"""Names in a submission's folder that its fingerprint covers (the grader takes a few)."""
FINGERPRINT_BYTES = 4 * MAX_NOTEBOOK_BYTES
"""Contents read for one fingerprint; past them (or past a notebook's size limit, for one file),
a file counts by its name and size."""


def fingerprint(folder: Path) -> str:
    """sha256 over the submission's files (names, and the contents of regular files): a changed
    submission is regraded. Bounded in what it reads, never through a link or from a FIFO or device."""
    digest, budget = hashlib.sha256(), FINGERPRINT_BYTES
    for path in _entries(folder)[:FINGERPRINT_ENTRIES]:  # nothing when the folder is missing
        info = path.lstat()
        digest.update(f"{path.relative_to(folder)}\0{stat.filemode(info.st_mode)}\0{info.st_size}\0".encode("utf-8", "replace"))
        if stat.S_ISLNK(info.st_mode):
            digest.update(os.fsencode(os.readlink(path)))
        elif stat.S_ISREG(info.st_mode) and info.st_size <= min(budget, MAX_NOTEBOOK_BYTES):
            budget -= _hash_contents(path, digest, info.st_size)
    return digest.hexdigest()


def _entries(folder: Path) -> list[Path]:
    """Every name under ``folder``, without entering linked folders."""
    found = []
    for parent, folders, files in os.walk(folder):
        found += [Path(parent) / name for name in folders + files]
        if len(found) > FINGERPRINT_ENTRIES:
            break
    return sorted(found)


def _hash_contents(path: Path, digest, size: int) -> int:
    """Add the regular file's first ``size`` bytes to ``digest``; the bytes read."""
    try:
        with open_regular(path, size) as stream:
            read = 0
            while read < size and (chunk := stream.read(min(2**20, size - read))):
                digest.update(chunk)
                read += len(chunk)
            return read
    except (OSError, UnreadableFile) as error:  # changed since it was listed
        digest.update(f"unreadable: {error}".encode())
        return 0


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self.finished = {}
        """student -> (fingerprint, SubmissionResult) of the last line recorded for them."""
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut short when the grader was killed
                    continue
                self.finished[entry["student"]] = (entry["fingerprint"], _result(entry["result"]))

    def result(self, student: str, submission_fingerprint: str) -> SubmissionResult | None:
        """The recorded result of this exact submission, if it was graded before."""
        recorded = self.finished.get(student)
        return recorded[1] if recorded and recorded[0] == submission_fingerprint else None

    def record(self, result: SubmissionResult, submission_fingerprint: str) -> None:
        entry = dict(student=result.student, fingerprint=submission_fingerprint,
                     result=dataclasses.asdict(result, dict_factory=_jsonable))
        with open(self.path, "a") as stream:
            stream.write(json.dumps(entry) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        self.finished[result.student] = (submission_fingerprint, result)


def _jsonable(items) -> dict:
    return {key: str(value) if isinstance(value, Path) else value for key, value in items}


def _result(fields: dict) -> SubmissionResult:
    fields = dict(fields, cells=[CellScore(**cell) for cell in fields["cells"]],
                  feedback=Path(fields["feedback"]) if fields.get("feedback") else None)
    return SubmissionResult(**fields)
