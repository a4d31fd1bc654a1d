"""The grading run's record of finished students: one JSON line each, appended and flushed to
disk by the one process that grades, so a run killed mid-batch resumes where it stopped."""

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from .results import CellScore, SubmissionResult


def fingerprint(folder: Path) -> str:
    """sha256 over the submission's files (names and contents): a changed submission is regraded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):  # nothing when the folder is missing
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
