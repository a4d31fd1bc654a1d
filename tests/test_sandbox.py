"""What the grader trusts: exported arrays, the ledger, and refusing to grade without limits."""

import os

import numpy as np
import pytest

from autograder import exports, sandbox
from autograder.errors import CourseError
from autograder.ledger import Ledger, fingerprint
from autograder.results import CellScore, SubmissionResult


def test_exported_arrays_come_back_as_plain_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exports.save("test_fit", weights=[1.5, -2.0], count=3)
    arrays = exports.load(tmp_path, "test_fit")
    assert arrays["weights"].tolist() == [1.5, -2.0] and arrays["count"] == 3


def test_an_exported_object_array_is_refused_not_unpickled(tmp_path):
    (tmp_path / "exports").mkdir()
    np.savez(tmp_path / "exports" / "test_fit.npz", weights=np.array([object()], dtype=object))
    with pytest.raises(exports.ExportError, match="is not a NumPy archive of plain arrays"):
        exports.load(tmp_path, "test_fit")


def test_an_export_that_is_a_symlink_to_a_grader_file_is_refused(tmp_path):
    (tmp_path / "secret.npz").write_bytes(b"grader only")
    (tmp_path / "exports").mkdir()
    os.symlink(tmp_path / "secret.npz", tmp_path / "exports" / "test_fit.npz")
    with pytest.raises(exports.ExportError, match="cannot be opened"):
        exports.load(tmp_path, "test_fit")


def test_a_missing_export_names_the_cell(tmp_path):
    with pytest.raises(exports.ExportError, match=r"^the notebook exported nothing for test_fit \(was the test cell changed\?\)$"):
        exports.load(tmp_path, "test_fit")


def test_grading_is_refused_without_limits_unless_the_instructor_allows_it(monkeypatch):
    monkeypatch.setattr(sandbox, "missing_protections", lambda: ["the memory limit (no cgroup)"])
    with pytest.raises(CourseError, match=r"^refusing to grade untrusted notebooks without these limits: "
                                          r"the memory limit \(no cgroup\)\. .*--allow-missing-limits"):
        sandbox.require_protections(allow_missing=False)
    assert sandbox.require_protections(allow_missing=True) == ["the memory limit (no cgroup)"]


def test_the_ledger_survives_a_line_cut_short_and_regrades_a_changed_submission(tmp_path):
    submission = tmp_path / "ann"
    submission.mkdir()
    (submission / "a.ipynb").write_text("{}")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    result = SubmissionResult("ann", "graded", cells=[CellScore("test_fit", 3.0, 3.0)], flags=["x"])
    ledger.record(result, fingerprint(submission))
    with open(tmp_path / "ledger.jsonl", "a") as stream:
        stream.write('{"student": "bob", "fingerp')  # the grader was killed mid-write

    reopened = Ledger(tmp_path / "ledger.jsonl")
    assert reopened.result("ann", fingerprint(submission)) == result
    assert reopened.result("bob", "anything") is None
    (submission / "a.ipynb").write_text('{"changed": 1}')
    assert reopened.result("ann", fingerprint(submission)) is None
