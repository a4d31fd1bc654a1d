"""Can a hostile notebook fool, crash or escape the grader? Each fixture in
tests/files/hostile/submissions/ attacks the guarded assignment (8 points: test_mse 2, test_fit 3,
test_keras_model 3, each judged by the grader outside the kernel) and must earn exactly what
its honest work deserves. The course's own assignment 1 faces the attacks that hide failures."""

import copy
import os
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import nbformat
import psutil
import pytest

from autograder import pipeline
from autograder.course import Course
from autograder.results import GradingRun
from autograder.sandbox import Limits
from conftest import report_figures

HOSTILE = Path(__file__).parent / "files" / "hostile"
sys.path.insert(0, str(HOSTILE))
from make_fixtures import ASSIGNMENT, DAEMON_LOOP, build_course

# A cell gets 20 s of CPU time: the guarded assignment's Keras cell trains in about 5 s alone; the
# wall-clock backstop is far enough above it that CPU time stops every loop even when the suite
# shares two cores with another test process (a loop then gets a third of a core or more).
LIMITS = Limits(cell_cpu_s=20, cell_timeout_s=75, notebook_timeout_s=300, memory_mb=1536, processes=256)
GRADER_MEMORY_MB = 2048
"""How much the grading process's memory may grow while it grades the suite (TensorFlow for the judges included)."""
FULL, WRONG_ANSWERS = 8, 2  # WRONG_ANSWERS: only mean_squared_error is right
HONEST_BEFORE_MODEL = 5  # mse and fit answered; the model cell never finishes

# scenario: (expected points, expected status)
EXPECTED = {
    "correct": (FULL, "graded"),
    "correct-logging-to-stderr": (FULL, "graded"),
    "untouched": (0, "graded"),
    "wrong-answers": (WRONG_ANSWERS, "graded"),
    "deleted-test-cells": (FULL, "graded"),
    "commented-out-test-cells": (0, "graded"),
    "changed-points": (FULL, "graded"),
    "test-cells-changed-to-markdown": (0, "graded"),
    "copied-locked-test-cells": (FULL, "graded"),
    "schema-version-99": (0, "rejected"),
    "malformed-json": (0, "rejected"),
    "prefilled-passed-outputs": (0, "graded"),
    "custom-exception-handler-swallows-errors": (0, "graded"),
    "overridden-showtraceback": (0, "graded"),
    "input-transformer-empties-later-cells": (0, "graded"),
    "ast-transformer-removes-asserts": (WRONG_ANSWERS, "graded"),
    "patched-numpy-allclose": (WRONG_ANSWERS, "graded"),
    "patched-keras-model-evaluate": (WRONG_ANSWERS, "graded"),
    # The patched max() breaks the kernel's own output thread: the kernel hangs without computing, so
    # the wall-clock backstop stops it, and it is graded once more, alone, after the batch.
    "patched-builtins": (0, "timed out"),
    "lying-eq-result": (FULL - 2, "graded"),
    "forged-executed-notebook": (0, "graded"),
    "shadowing-numpy-py": (FULL, "graded"),
    "sys-exit-before-tests": (FULL, "graded"),
    "os-exit-before-tests": (2, "graded"),
    "infinite-loop": (HONEST_BEFORE_MODEL, "graded"),
    "loop-ignoring-sigint": (HONEST_BEFORE_MODEL, "graded"),
    "memory-bomb": (HONEST_BEFORE_MODEL, "graded"),
    "fork-bomb": (HONEST_BEFORE_MODEL, "graded"),
    "daemon-outliving-the-kernel": (FULL, "graded"),
    "reads-source-gradebook-and-other-submissions": (FULL, "graded"),
    "writes-to-the-gradebook": (0, "graded"),
    "opens-a-network-connection": (FULL, "graded"),
    "floods-100-mb-of-output": (FULL, "graded"),
    "hard-coded-predictions-for-public-data": (WRONG_ANSWERS, "graded"),
    # What the grading process does with a student's bytes is bounded, and fails that student alone.
    "zip-bomb-export": (FULL - 2, "graded"),  # test_mse's export replaced by 1 GB of zeros packed in 1 MB
    "enormous-string-export": (FULL - 2, "graded"),
    "exports-folder-is-a-fifo": (0, "graded"),  # the hidden tests cannot save their evidence
    "fills-the-disk": (HONEST_BEFORE_MODEL, "graded"),
    "grade-id-is-a-list": (0, "rejected"),
    "600-markdown-cells": (0, "rejected"),  # past the 500 cells preflight takes (20,000 cost the grader 100 s)
    "deeply-nested-json": (0, "rejected"),
    "lone-surrogate": (0, "rejected"),
    "links-fifo-and-sparse-file-beside-the-notebook": (FULL, "graded"),
}

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def test_every_fixture_has_an_expected_grade():
    fixtures = {p.stem for p in (HOSTILE / "submissions").glob("*.ipynb")}
    assert fixtures == set(EXPECTED) and len(fixtures) >= 40


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole suite graded as one batch (one student per scenario)."""
    scratch = tmp_path_factory.mktemp("hostile")
    course = build_course(scratch / "course")
    submitted = scratch / "submitted"
    for notebook in (HOSTILE / "submissions").glob("*.ipynb"):
        folder = submitted / notebook.stem / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / f"{ASSIGNMENT}.ipynb")
        for extra in HOSTILE.glob(f"submissions/{notebook.stem}.*.py"):
            shutil.copy(extra, folder / extra.name.removeprefix(f"{notebook.stem}."))
    beside = submitted / "links-fifo-and-sparse-file-beside-the-notebook" / ASSIGNMENT
    (beside / "memory").symlink_to("/proc/self/mem")
    (beside / "loop").symlink_to(beside)
    os.mkfifo(beside / "pipe")
    with open(beside / "sparse", "wb") as sparse:  # 2 GiB that take no disk
        sparse.truncate(2 * 2**30)
    started, held_before = time.monotonic(), _start_measuring_peak_memory()
    run = pipeline.grade(course, ASSIGNMENT, submitted, scratch / "grading", limits=LIMITS)
    return Graded(course, submitted, run, time.monotonic() - started, _memory_kb("VmHWM") / 1024 - held_before)


class Graded(NamedTuple):
    course: Course
    submitted: Path
    run: GradingRun
    seconds: float
    peak_growth_mb: float
    """How much more the grading process held at its peak than before grading began."""


def _memory_kb(field: str) -> int:
    """This process's ``field`` of /proc/self/status (VmRSS: held now, VmHWM: peak since the reset)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def _start_measuring_peak_memory() -> float:
    """Reset this process's peak (earlier tests in this pytest worker may have held more) and return
    the MB it holds now, so that the grading's own growth can be told apart."""
    Path("/proc/self/clear_refs").write_text("5")
    return _memory_kb("VmRSS") / 1024


def test_each_scenario_earns_what_its_honest_work_deserves(graded):
    run, seconds = graded.run, graded.seconds
    got = {r.student: (r.score, r.status) for r in run.results}
    rows = [f"{'scenario':<46} {'expected':>8} {'got':>8}  status / flags"]
    for name, (points, status) in EXPECTED.items():
        result = next(r for r in run.results if r.student == name)
        mark = "" if got[name] == (points, status) else "   <-- WRONG"
        rows.append(f"{name:<46} {points:>8g} {result.score:>8g}  {result.status}: {result.reason[:90]}{mark}")
    report_figures(f"hostile suite: {len(run.results)} submissions graded in {seconds:.0f} s; the grading process's "
                   f"peak memory grew by {graded.peak_growth_mb:.0f} MB while it graded\n" + "\n".join(rows))
    assert got == EXPECTED
    assert graded.peak_growth_mb < GRADER_MEMORY_MB, "an export or a submission made the grader itself hold too much"


def test_limits_the_grading_process_meets_are_flagged_with_the_figure(graded):
    run = graded.run
    flags = {r.student: r.flags for r in run.results}
    assert any(flag.startswith("test_mse: passed in the notebook, but the grader cannot judge it: the export for test_mse "
                               "unpacks to 1024 MB, more than 200 MB") for flag in flags["zip-bomb-export"])
    assert any("holds strings of 20000000 characters, more than 100000" in flag for flag in flags["enormous-string-export"])
    assert flags["fills-the-disk"] == [f"the notebook's files passed its {LIMITS.disk_mb} MB disk quota"]


def test_a_test_that_passed_only_inside_the_kernel_is_flagged(graded):
    run = graded.run
    swallowed = next(r for r in run.results if r.student == "custom-exception-handler-swallows-errors")
    assert any("passed in the notebook, but the grader cannot judge it" in flag for flag in swallowed.flags)


def test_the_sandbox_hides_the_course_and_the_network(graded):
    run = graded.run
    text = {name: _outputs(run, name) for name in ("reads-source-gradebook-and-other-submissions",
                                                   "writes-to-the-gradebook", "opens-a-network-connection")}
    assert "found: []" in text["reads-source-gradebook-and-other-submissions"]
    assert "gradebooks reachable: []" in text["writes-to-the-gradebook"]
    assert "network: [Errno 101] Network is unreachable" in text["opens-a-network-connection"]


def test_limits_stop_runaway_notebooks_and_say_which(graded):
    run = graded.run
    reasons = {r.student: _outputs(run, r.student) for r in run.results
               if r.student in ("infinite-loop", "memory-bomb", "floods-100-mb-of-output")}
    assert f"s of CPU time, past the {LIMITS.cell_cpu_s:g} s per-cell limit" in reasons["infinite-loop"]
    assert "the kernel died while running this cell" in reasons["memory-bomb"]
    assert "[output cut: this cell wrote more than 1,000,000 bytes]" in reasons["floods-100-mb-of-output"]
    memory_bomb = next(r for r in run.results if r.student == "memory-bomb")
    assert "memory limit" in memory_bomb.reason


def test_no_process_of_a_graded_notebook_outlives_its_run(graded):
    assert daemons_left() == []


def daemons_left() -> list[dict]:
    """Processes of the daemon scenario still running (it starts one in a session of its own)."""
    return [p.info for p in psutil.process_iter(["pid", "uids", "cmdline"])
            if DAEMON_LOOP in " ".join(p.info["cmdline"] or [])]


def test_a_rerun_resumes_without_regrading_anyone(graded):
    started = time.monotonic()
    again = pipeline.grade(graded.course, ASSIGNMENT, graded.submitted, graded.run.output_dir, limits=LIMITS)
    assert [(r.student, r.score) for r in again.results] == [(r.student, r.score) for r in graded.run.results]
    assert time.monotonic() - started < graded.seconds / 10


# Attacks on the course's assignment 1, each a cell added to the untouched student version.
HIDE_FAILURES = "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"
FORGE_EXPORTS = """
import os
import numpy as np
os.makedirs("exports", exist_ok=True)
for collector in ("hand_in_split", "hand_in_metrics", "hand_in_baseline_price", "hand_in_features_and_normalizer",
                  "hand_in_linear_model", "hand_in_mlp_model", "hand_in_ranking", "hand_in_mlp_threshold"):
    np.savez(f"exports/{collector}.npz", value=np.zeros(3), passed=True)"""
COURSE_ATTACKS = {
    "custom-exception-handler-swallows-errors": HIDE_FAILURES,
    "input-transformer-empties-later-cells": "get_ipython().input_transformers_post.append(lambda lines: [])",
    "forged-exports-for-every-cell": HIDE_FAILURES + FORGE_EXPORTS,
}


def test_the_course_assignments_cannot_be_fooled_by_hiding_failures(tmp_path):
    """The untouched assignment 1 (it answers nothing) with a cell that hides every failure from
    nbgrader earns nothing: the grader judges each cell's exported evidence itself."""
    course = Course.find(__file__)
    assignment = "01_regression_baselines"
    untouched = nbformat.read(course.release_dir / assignment / f"{assignment}.ipynb", as_version=4)
    for name, attack in COURSE_ATTACKS.items():
        notebook = copy.deepcopy(untouched)
        notebook.cells.insert(1, nbformat.v4.new_code_cell(attack))
        (tmp_path / "submitted" / name / assignment).mkdir(parents=True)
        nbformat.write(notebook, tmp_path / "submitted" / name / assignment / f"{assignment}.ipynb")
    run = pipeline.grade(course, assignment, tmp_path / "submitted", tmp_path / "grading")
    report_figures("\n".join(f"{r.student:<42} {r.score:g}/{r.max_score:g}  {r.reason[:100]}" for r in run.results))
    assert {r.student: (r.status, r.score) for r in run.results} == {name: ("graded", 0) for name in COURSE_ATTACKS}
    swallowed = next(r for r in run.results if r.student == "custom-exception-handler-swallows-errors")
    assert any(flag.startswith("test_metrics: passed in the notebook, but the grader cannot judge it")
               for flag in swallowed.flags)


def _outputs(run, student: str) -> str:
    return _outputs_in(run.output_dir, student)


def _outputs_in(output: Path, student: str, assignment: str = ASSIGNMENT) -> str:
    notebook = nbformat.read(output / "autograded" / student / assignment / f"{assignment}.ipynb", 4)
    return "\n".join(str(output.get("text", "")) + str(output.get("evalue", ""))
                     for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


# Attacks on the evidence of assignment 1's reference (each an edit of the solution, or a cell added):
# the grader judges only what the student's own objects give on what the grader holds.
FORGE_WITH_THE_RUNS_TOKEN = HIDE_FAILURES + """
import os
import numpy as np
def forge(*args, **kwargs):  # after every cell, the hidden tests' included: exports written "by" that cell
    token = open("inputs/run_token").read()
    os.makedirs("exports", exist_ok=True)
    forged = {"hand_in_baseline_price": {"baseline_price": 1.0, "train_index": np.arange(10)},
              "hand_in_features_and_normalizer": {"held_out_features": np.zeros((573, 1)), "train_features": np.zeros((5, 1)),
                                                  "mean": np.zeros(1), "variance": np.zeros(1)},
              "hand_in_linear_model": {"mean": np.zeros(1), "std": np.ones(1), "mixed": np.zeros((128, 1)),
                                       "first": np.zeros((128, 1)), "second": np.zeros((128, 1))},
              "hand_in_ranking": {"baseline_price": 1e9, "linear": np.zeros(573), "mlp": np.zeros(573)}}
    for name, arrays in forged.items():
        np.savez(f"exports/{name}.npz", _run_token=token, **arrays)
get_ipython().events.register("post_run_cell", forge)"""
EVIDENCE_ATTACKS = {
    # (edits of the solution's cells, a cell added after the setup or None, the graded cells it must lose)
    "forged-exports-with-the-runs-token": (None, FORGE_WITH_THE_RUNS_TOKEN, "all"),
    "rebinds-train-frame-before-the-test": (
        [("baseline_price = fit_mean_baseline(train_prices)", "baseline_price = fit_mean_baseline(validation_prices)"),
         ("checks.check_baseline_price(baseline_price, fit_mean_baseline, train_frame)",
          "train_frame = validation_frame\nchecks.check_baseline_price(baseline_price, fit_mean_baseline, train_frame)")],
        None, {"test_baseline"}),
    "patched-coursekit-accepts-a-linear-mlp": (
        [('layers.Dense(64, activation="relu")', "layers.Dense(64)"), ('layers.Dense(32, activation="relu")', "layers.Dense(32)")],
        "checks.judge_mlp_model = lambda *args, **kwargs: None\nchecks.mlp_structure = lambda *args, **kwargs: None",
        {"test_mlp_model"}),
    "prints-lines-like-the-graders": ([], 'print("Grader: every hidden test passed")', set()),
}


def test_evidence_that_does_not_prove_the_work_earns_nothing(tmp_path):
    """Assignment 1 graded as one batch: forged exports (with the run's token, written inside the
    test cells), a training frame rebound before the test, coursekit's checks patched inside the
    kernel, and lines printed in the grader's words each cost exactly the cells they attack."""
    course = Course.find(__file__)
    assignment = "01_regression_baselines"
    points = dict(course.grade_cells(assignment))
    for name, (edits, added, _) in EVIDENCE_ATTACKS.items():
        source = "release_dir" if edits is None else "solution_dir"
        notebook = nbformat.read(getattr(course, source) / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in notebook.cells:
            for old, new in edits or []:
                cell.source = cell.source.replace(old, new)
        if added:
            setup = next(i for i, cell in enumerate(notebook.cells) if "from coursekit.checks" in cell.source)
            notebook.cells.insert(setup + 1, nbformat.v4.new_code_cell(added))
        (tmp_path / "submitted" / name / assignment).mkdir(parents=True)
        nbformat.write(notebook, tmp_path / "submitted" / name / assignment / f"{assignment}.ipynb")
    started = time.monotonic()
    run = pipeline.grade(course, assignment, tmp_path / "submitted", tmp_path / "grading")
    report_figures(f"evidence attacks on {assignment}, graded in {time.monotonic() - started:.0f} s:\n" + "\n".join(
        f"{r.student:<42} {r.score:g}/{r.max_score:g}  lost: {[c.grade_id for c in r.cells if c.points < c.max_points]}"
        for r in run.results))
    for result in run.results:
        _, _, lost = EVIDENCE_ATTACKS[result.student]
        lost = set(points) if lost == "all" else lost
        assert {c.grade_id for c in result.cells if c.points < c.max_points} >= lost, result.student
        if result.student != "patched-coursekit-accepts-a-linear-mlp":  # its linear "MLP" may lose the held-out cells too
            assert result.score == sum(p for cell, p in points.items() if cell not in lost), result.student
    forged = next(r for r in run.results if r.student == "forged-exports-with-the-runs-token")
    assert any("passed in the notebook, but the grader cannot judge it" in flag for flag in forged.flags)
    assert "[printed by the notebook] Grader: every hidden test passed" in _outputs_in(run.output_dir, "prints-lines-like-the-graders",
                                                                                        assignment)
