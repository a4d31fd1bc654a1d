"""What the grader trusts: exported arrays and its own judgement of them, the ledger, and refusing
to grade without limits."""

import importlib
import os

import nbformat
import numpy as np
import pytest

from autograder import exports, sandbox
from autograder.course import Course
from autograder.errors import CourseError
from autograder.ledger import Ledger, fingerprint
from autograder.nbgrader_plugins import TrustedRecheck
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


def judge_mean(arrays) -> str:
    if not arrays["mean"] < 1:  # (pytest would add its own explanation to an assert here)
        raise AssertionError(f"mean {float(arrays['mean'])} is not below 1")
    return "mean below 1"


def rechecked(tmp_path, mean: float, registry: str):
    """One graded cell that passed in the kernel and exported ``mean``, after TrustedRecheck."""
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.chdir(folder)
        exports.save("test_mean", mean=mean)
    cell = nbformat.v4.new_code_cell("check(mean)", metadata={"nbgrader": {"grade": True, "grade_id": "test_mean"}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]
    record = {"run_folder": str(folder), "flags": []}
    step = TrustedRecheck(**{registry: {"hw": {"test_mean": f"{__name__}:judge_mean"}}})
    step.preprocess(nbformat.v4.new_notebook(cells=[cell]), {"nbgrader": {"assignment": "hw"}, "autograder": record})
    return cell.outputs, record["flags"]


def test_a_held_out_check_the_grader_fails_costs_the_points_with_its_reason_but_is_no_disagreement(tmp_path):
    outputs, flags = rechecked(tmp_path, 3.0, "held_out_checks")
    assert outputs[0].output_type == "error", "nbgrader scores a cell by its first error or result output"
    assert outputs[0].evalue == "the grader's measurement on held-out data: mean 3.0 is not below 1"
    assert flags == []


def test_a_held_out_check_the_grader_passes_shows_what_it_measured(tmp_path):
    outputs, flags = rechecked(tmp_path, 0.5, "held_out_checks")
    assert [output.get("text") for output in outputs] == ["passed\n", "Grader: mean below 1\n"] and flags == []


def test_a_recomputation_that_disagrees_with_the_kernel_is_flagged(tmp_path):
    outputs, flags = rechecked(tmp_path, 3.0, "rechecks")
    assert outputs[0].ename == "RecheckFailed"
    assert flags == ["test_mean: passed in the notebook, but the grader's own recomputation disagrees: "
                     "mean 3.0 is not below 1"]


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


def test_the_grader_judges_every_graded_cell_of_every_assignment_once_with_a_judge_that_exists():
    course = Course.find(__file__)
    config = course.nbgrader_config().TrustedRecheck
    for assignment in course.assignments():
        rechecks, held_out = config.rechecks.get(assignment, {}), config.held_out_checks.get(assignment, {})
        assert not set(rechecks) & set(held_out), f"{assignment}: a cell is registered as both"
        assert sorted({**rechecks, **held_out}) == sorted(dict(course.grade_cells(assignment))), (
            f"{assignment}: the registered cells are not its graded cells")
        for dotted in {**rechecks, **held_out}.values():
            module, _, name = dotted.partition(":")
            assert callable(getattr(importlib.import_module(module), name)), dotted


def test_a_notebook_sees_only_the_gpus_its_worker_owns(monkeypatch):
    present = ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia-uvm", "/dev/nvidiactl"]
    monkeypatch.setattr(sandbox.glob, "glob", lambda pattern: present)
    assert sandbox.gpu_devices("1") == ["/dev/nvidia-uvm", "/dev/nvidia1", "/dev/nvidiactl"]
    assert sandbox.gpu_devices("") == [], "a CPU worker's notebooks see no GPU"
    assert sandbox.gpu_devices("GPU-5f1c") == sorted(present), "UUIDs cannot be matched to device files"
