"""What the grader trusts: exported arrays and its own judges' verdicts on them, the ledger, and
the limits: which this machine enforces, and refusing to grade without them."""

import os
import sys

import nbformat
import numpy as np
import pytest

from autograder import exports, runner, sandbox
from autograder.cli import main
from autograder.course import Course
from autograder.errors import CourseError
from autograder.judges import judge, judges_of
from autograder.judges.registry import write_inputs
from autograder import ledger
from autograder.ledger import Ledger, fingerprint
from autograder.nbgrader_plugins import TrustedRecheck, hidden_inputs_path, mark_imitations
from autograder.pipeline import course_limits
from autograder.untrusted import clip
from autograder.results import CellScore, SubmissionResult
from autograder.sandbox import Limits
from coursekit import evidence

ASSIGNMENT = "hw"
"""The assignment of this module's judge (a judges module names its assignment)."""


def test_exported_arrays_come_back_as_plain_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evidence.save("hand_in_fit", {"weights": [1.5, -2.0], "count": 3})
    arrays = exports.load(tmp_path, "hand_in_fit")
    assert arrays["weights"].tolist() == [1.5, -2.0] and arrays["count"] == 3


def test_an_exported_object_array_is_refused_not_unpickled(tmp_path):
    (tmp_path / "exports").mkdir()
    np.savez(tmp_path / "exports" / "hand_in_fit.npz", weights=np.array([object()], dtype=object))
    with pytest.raises(exports.ExportError, match="holds object, not numbers or strings"):
        exports.load(tmp_path, "hand_in_fit")


def _export(folder, **arrays):
    (folder / "exports").mkdir(exist_ok=True)
    np.savez_compressed(folder / "exports" / "hand_in_fit.npz", **arrays)


def test_an_export_that_unpacks_past_its_cap_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    _export(tmp_path, zeros=np.zeros(2**20))  # 8 MB of zeros, stored in a few kilobytes
    assert (tmp_path / "exports" / "hand_in_fit.npz").stat().st_size < 100_000
    monkeypatch.setattr(exports, "MAX_BYTES", 2**20)
    with pytest.raises(exports.ExportError, match="^the export for hand_in_fit unpacks to 8 MB, more than 1 MB$"):
        exports.load(tmp_path, "hand_in_fit")


def test_an_export_whose_array_header_claims_more_than_its_data_is_refused(tmp_path):
    _export(tmp_path, values=np.arange(4.0))
    path = tmp_path / "exports" / "hand_in_fit.npz"
    path.write_bytes(_forged_shape(path))
    with pytest.raises(exports.ExportError, match="header does not match its data|not a NumPy archive"):
        exports.load(tmp_path, "hand_in_fit")


def _forged_shape(path):
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(buffer, "w") as forged:
        forged.writestr("values.npy", original.read("values.npy").replace(b"(4,)", b"(9,)"))
    return buffer.getvalue()


def test_an_export_with_an_enormous_string_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "MAX_STRING_CHARACTERS", 1000)
    _export(tmp_path, text=np.array(["x" * 1001]))
    with pytest.raises(exports.ExportError, match="holds strings of 1001 characters, more than 1000"):
        exports.load(tmp_path, "hand_in_fit")


def test_a_model_config_may_be_longer_than_other_strings_but_is_capped_too(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "MAX_STRING_CHARACTERS", 1000)
    monkeypatch.setattr(exports, "MAX_MODEL_CONFIG_CHARACTERS", 5000)
    _export(tmp_path, model_config=np.array("x" * 5000))
    assert exports.load(tmp_path, "hand_in_fit")["model_config"].item() == "x" * 5000
    _export(tmp_path, model_config=np.array("x" * 5001))
    with pytest.raises(exports.ExportError, match="holds strings of 5001 characters, more than 5000"):
        exports.load(tmp_path, "hand_in_fit")


def test_an_export_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    (tmp_path / "exports").mkdir()
    os.mkfifo(tmp_path / "exports" / "hand_in_fit.npz")
    with pytest.raises(exports.ExportError, match="is not a regular file"):
        exports.load(tmp_path, "hand_in_fit")
    (tmp_path / "exports" / "hand_in_fit.npz").unlink()
    (tmp_path / "exports").rmdir()
    os.mkfifo(tmp_path / "exports")
    with pytest.raises(exports.ExportError, match="cannot be opened"):
        exports.load(tmp_path, "hand_in_fit")


def test_an_export_that_is_a_symlink_to_a_grader_file_is_refused(tmp_path):
    (tmp_path / "secret.npz").write_bytes(b"grader only")
    (tmp_path / "exports").mkdir()
    os.symlink(tmp_path / "secret.npz", tmp_path / "exports" / "hand_in_fit.npz")
    with pytest.raises(exports.ExportError, match="cannot be opened"):
        exports.load(tmp_path, "hand_in_fit")


def test_the_runner_digests_every_export_the_grader_would_read():
    """The runner stands alone (it imports nothing of the grader's), so it keeps its own copies."""
    assert (runner.EXPORT_BYTES, runner.EXPORTS) == (exports.MAX_BYTES, evidence.EXPORTS)


def test_an_exports_folder_that_is_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "another-students-run"
    elsewhere.mkdir()
    with pytest.MonkeyPatch().context() as patch:
        patch.chdir(elsewhere)
        evidence.save("hand_in_fit", {"weights": [1.0]})
    run = tmp_path / "run"
    run.mkdir()
    (run / "exports").symlink_to(elsewhere / "exports")
    with pytest.raises(exports.ExportError, match="exports folder is a link"):
        exports.load(run, "hand_in_fit")


def test_a_missing_export_names_the_collector(tmp_path):
    with pytest.raises(exports.ExportError, match=r"^the notebook exported nothing for hand_in_fit \(was the test cell changed\?\)$"):
        exports.load(tmp_path, "hand_in_fit")


@judge("test_mean", "hand_in_mean", draw=lambda rng: {"limit": 1.0})
def judge_mean(inputs, arrays) -> str:
    if not arrays["mean"] < inputs["limit"]:  # (pytest would add its own explanation to an assert here)
        raise AssertionError(f"mean {float(arrays['mean'])} is not below {float(inputs['limit'])}")
    return "mean below 1"


def judged(tmp_path, mean: float | None, token: str = "this-run", written_by_its_cell: bool = True):
    """One graded cell that passed in the kernel and exported ``mean`` (None: exported nothing) with
    ``token``, in the cell the runner saw write it (or not), after TrustedRecheck."""
    folder = tmp_path / "run"
    folder.mkdir()
    kept = hidden_inputs_path(folder)
    write_inputs(judges_of(ASSIGNMENT)["test_mean"], {"limit": np.asarray(1.0)}, [kept])
    (kept / evidence.RUN_TOKEN).write_text("this-run")
    written = {}
    if mean is not None:
        with pytest.MonkeyPatch().context() as patch:
            patch.chdir(folder)
            evidence.save("hand_in_mean", {"mean": mean, evidence.TOKEN_KEY: token})
            written = {name: digest for name, (_, digest) in runner.export_digests().items()} if written_by_its_cell else {}
    cell = nbformat.v4.new_code_cell("check(mean)", metadata={"nbgrader": {"grade": True, "grade_id": "test_mean"}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]
    record = {"run_folder": str(folder), "flags": [], "exports_written": {"test_mean": written}}
    TrustedRecheck().preprocess(nbformat.v4.new_notebook(cells=[cell]), {"nbgrader": {"assignment": ASSIGNMENT},
                                                                          "autograder": record})
    return cell.outputs, record["flags"]


def test_a_cell_its_judge_fails_costs_the_points_with_the_diagnosis_first_and_no_flag(tmp_path):
    outputs, flags = judged(tmp_path, 3.0)
    assert outputs[0].output_type == "error", "nbgrader scores a cell by its first error or result output"
    assert (outputs[0].ename, outputs[0].evalue) == ("HiddenTestFailed", "mean 3.0 is not below 1.0")
    assert flags == []


def test_a_cell_its_judge_passes_shows_what_it_measured(tmp_path):
    outputs, flags = judged(tmp_path, 0.5)
    assert [output.get("text") for output in outputs] == ["passed\n", "Grader: mean below 1\n"] and flags == []


def test_a_cell_that_passed_in_the_kernel_but_left_no_evidence_is_flagged(tmp_path):
    outputs, flags = judged(tmp_path, None)
    assert outputs[0].ename == "HiddenTestFailed"
    assert flags == ["test_mean: passed in the notebook, but the grader cannot judge it: the notebook exported "
                     "nothing for hand_in_mean (was the test cell changed?)"]


@pytest.mark.parametrize("token, written_by_its_cell, why", [
    ("another-run", True, "does not carry this grading run's token (made in another run?)"),
    ("this-run", False, "was not written while its test cell ran (by another cell, or not by the hidden test)"),
])
def test_an_export_from_another_run_or_another_cell_fails_and_is_flagged(tmp_path, token, written_by_its_cell, why):
    outputs, flags = judged(tmp_path, 0.5, token, written_by_its_cell)
    assert outputs[0].ename == "HiddenTestFailed" and outputs[0].evalue.endswith(why)
    assert flags == [f"test_mean: passed in the notebook, but the grader cannot judge it: the export for hand_in_mean {why}"]


def test_an_export_changed_after_its_cell_ran_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "export_digests", lambda: {"hand_in_mean.npz": (0, "digest when its cell ended")})
    outputs, flags = judged(tmp_path, 0.5)
    assert flags == ["test_mean: passed in the notebook, but the grader cannot judge it: the export for hand_in_mean "
                     "was changed after its test cell ran"]


def test_what_the_notebook_printed_in_the_graders_words_is_marked_as_the_notebooks(tmp_path):
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\nGrader: held-out RMSE 1 (passes)\n"),
                    nbformat.v4.new_output("display_data", data={"text/plain": "  grader: fine",
                                                                 "text/html": "<b>Grader</b>: fine"}),
                    nbformat.v4.new_output("error", ename="HiddenTestFailed", evalue="x", traceback=[])]
    mark_imitations(nbformat.v4.new_notebook(cells=[cell]))
    assert cell.outputs[0].text == "ok\n[printed by the notebook] Grader: held-out RMSE 1 (passes)\n"
    assert cell.outputs[1].data == {"text/plain": "  [printed by the notebook] grader: fine",
                                    "text/html": "[printed by the notebook] <b>Grader</b>: fine"}
    assert cell.outputs[2].ename == "[printed by the notebook] HiddenTestFailed"


def test_text_from_a_students_files_is_clipped_and_made_encodable():
    assert clip("x" * 20_000_000) == "x" * 300 + "... (19999700 more characters)"
    assert clip("a\ud800b") == "a?b"


def test_grading_is_refused_without_limits_unless_the_instructor_allows_it(monkeypatch):
    monkeypatch.setattr(sandbox, "missing_protections", lambda: ["the memory limit (no cgroup)"])
    with pytest.raises(CourseError, match=r"^refusing to grade untrusted notebooks without these limits: "
                                          r"the memory limit \(no cgroup\)\. .*--allow-missing-limits"):
        sandbox.require_protections(allow_missing=False)
    assert sandbox.require_protections(allow_missing=True) == ["the memory limit (no cgroup)"]


def test_an_ordinary_user_without_cgroups_still_has_every_limit_and_is_told_how_to_get_kernel_ones(monkeypatch):
    machine = sandbox._Machine(sandbox.USER_NAMESPACE, "", None, "cgroup v1 controllers are writable only by root: "
                               "grade as root")
    monkeypatch.setattr(sandbox, "_machine", lambda: machine)
    monkeypatch.setattr(sandbox, "_bubblewrap_version", lambda: "0.8.0")
    found = {protection.limit.split(" (")[0]: protection for protection in sandbox.protections()}
    assert all(protection.enforced for protection in found.values()) and sandbox.missing_protections() == []
    assert found["isolation"].how == "bubblewrap 0.8.0 in a user namespace"
    assert found["memory limit"].how.startswith("a watchdog that kills the kernel")
    assert found["memory limit"].fix == "for a limit the kernel enforces: cgroup v1 controllers are writable only by root: grade as root"
    assert found["process limit"].how == "RLIMIT_NPROC, counted inside the sandbox's user namespace"


def test_without_bubblewrap_the_doctor_names_what_is_missing_and_the_command_that_fixes_it(monkeypatch, capsys):
    missing = ("bubblewrap is not available (bwrap: not found on PATH): sudo apt-get install bubblewrap (Fedora: sudo "
               "dnf install bubblewrap)")
    monkeypatch.setattr(sandbox, "_machine", lambda: sandbox._Machine("", missing, None, "no cgroups"))
    assert main(["doctor"]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("this machine: cannot grade untrusted notebooks (missing: isolation (no network, ")
    assert f"  MISSING  unprivileged user: not enforced\n           fix: {missing}\n" in printed
    assert "  ok       memory limit: a watchdog" in printed and "  ok       file-size limit: RLIMIT_FSIZE" in printed


def test_the_limits_set_in_nbgrader_config_are_used_unless_the_command_overrides_them(tiny_course):
    with open(tiny_course.root / "nbgrader_config.py", "a") as config:
        config.write("c.SandboxedExecute.cell_timeout_s = 1200\nc.SandboxedExecute.memory_mb = 4096\n")
    assert course_limits(tiny_course) == Limits(cell_timeout_s=1200, memory_mb=4096)
    assert course_limits(tiny_course, memory_mb=2048, notebook_timeout_s=None) == Limits(cell_timeout_s=1200, memory_mb=2048)


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


def test_the_fingerprint_reads_no_link_fifo_or_more_than_its_cap(tmp_path, monkeypatch):
    read = []
    hash_contents = ledger._hash_contents
    monkeypatch.setattr(ledger, "_hash_contents", lambda path, *rest: read.append(path.name) or hash_contents(path, *rest))
    submission = tmp_path / "ann"
    submission.mkdir()
    (submission / "a.ipynb").write_text("{}")
    before = fingerprint(submission)
    os.mkfifo(submission / "exports")  # opened, it would wait for a writer forever
    (submission / "memory").symlink_to("/proc/self/mem")
    (submission / "loop").symlink_to(submission)
    with open(submission / "sparse", "wb") as sparse:  # 2 GiB that take no disk
        sparse.truncate(2 * 2**30)
    assert fingerprint(submission) != before
    assert read == ["a.ipynb", "a.ipynb"]
    (submission / "a.ipynb").write_text('{"changed": 1}')
    assert fingerprint(submission) != before


def test_every_graded_cell_of_every_assignment_has_one_judge_of_a_collector_of_its_checks_module():
    course = Course.find(__file__)
    for assignment in course.assignments():
        judges = judges_of(assignment)
        assert sorted(judges) == sorted(dict(course.grade_cells(assignment))), (
            f"{assignment}: the judged cells are not its graded cells")
        [checks] = {sys.modules[judge.verdict.__module__].checks for judge in judges.values()}
        assert checks.ASSIGNMENT == assignment
        for judge in judges.values():
            collector = getattr(checks, judge.collector)
            assert collector.__wrapped__.__name__ == judge.collector, f"{assignment}: {judge.collector} is no collector"
        assert len({judge.collector for judge in judges.values()}) == len(judges), f"{assignment}: a collector judged twice"


def test_a_notebook_sees_only_the_gpus_its_worker_owns(monkeypatch):
    present = ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia-uvm", "/dev/nvidiactl"]
    monkeypatch.setattr(sandbox.glob, "glob", lambda pattern: present)
    assert sandbox.gpu_devices("1") == ["/dev/nvidia-uvm", "/dev/nvidia1", "/dev/nvidiactl"]
    assert sandbox.gpu_devices("") == [], "a CPU worker's notebooks see no GPU"
    assert sandbox.gpu_devices("GPU-5f1c") == sorted(present), "UUIDs cannot be matched to device files"


def test_the_kernel_s_math_libraries_run_on_the_configured_threads(tmp_path):
    """CPU time then grows with a notebook's work, not with the grader's cores."""
    env = sandbox._environment(tmp_path, Limits(kernel_threads=3))
    assert {name: env[name] for name in sandbox.THREAD_VARIABLES} == dict.fromkeys(sandbox.THREAD_VARIABLES, "3")
