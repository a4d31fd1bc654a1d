"""Can a hostile notebook fool, crash or escape the grader? Each fixture in
tests/files/hostile/submissions/ attacks the guarded assignment (8 points: test_mse 2, test_fit 3,
test_keras_model 3, each judged by the grader outside the kernel) and must earn exactly what
its honest work deserves. The course's own assignment 1 faces the attacks that hide failures."""

import copy
import csv
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder import pipeline
from autograder.course import Course
from autograder.execution import grading_environment  # nbgrader runs `alembic` from PATH
from autograder.sandbox import UNPRIVILEGED_ID, Limits

HOSTILE = Path(__file__).parent / "files" / "hostile"
sys.path.insert(0, str(HOSTILE))
from make_fixtures import ASSIGNMENT, build_course

LIMITS = Limits(notebook_timeout_s=120, cell_timeout_s=15, memory_mb=1536, processes=256)
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
    "patched-builtins": (0, "graded"),  # the patched max() breaks the kernel's own output thread
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
}

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def test_every_fixture_has_an_expected_grade():
    fixtures = {p.stem for p in (HOSTILE / "submissions").glob("*.ipynb")}
    assert fixtures == set(EXPECTED) and len(fixtures) >= 25


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
    started = time.monotonic()
    run = pipeline.grade(course, ASSIGNMENT, submitted, scratch / "grading", limits=LIMITS)
    return course, submitted, run, time.monotonic() - started


def test_each_scenario_earns_what_its_honest_work_deserves(graded):
    _, _, run, seconds = graded
    got = {r.student: (r.score, r.status) for r in run.results}
    rows = [f"{'scenario':<46} {'expected':>8} {'got':>8}  status / flags"]
    for name, (points, status) in EXPECTED.items():
        result = next(r for r in run.results if r.student == name)
        mark = "" if got[name] == (points, status) else "   <-- WRONG"
        rows.append(f"{name:<46} {points:>8g} {result.score:>8g}  {result.status}: {result.reason[:90]}{mark}")
    print(f"\nhostile suite: {len(run.results)} submissions graded in {seconds:.0f} s\n" + "\n".join(rows))
    assert got == EXPECTED


def test_a_test_that_passed_only_inside_the_kernel_is_flagged(graded):
    _, _, run, _ = graded
    swallowed = next(r for r in run.results if r.student == "custom-exception-handler-swallows-errors")
    assert any("passed in the notebook, but the grader cannot judge it" in flag for flag in swallowed.flags)


def test_the_sandbox_hides_the_course_and_the_network(graded):
    _, _, run, _ = graded
    text = {name: _outputs(run, name) for name in ("reads-source-gradebook-and-other-submissions",
                                                   "writes-to-the-gradebook", "opens-a-network-connection")}
    assert "found: []" in text["reads-source-gradebook-and-other-submissions"]
    assert "gradebooks reachable: []" in text["writes-to-the-gradebook"]
    assert "network: [Errno 101] Network is unreachable" in text["opens-a-network-connection"]


def test_limits_stop_runaway_notebooks_and_say_which(graded):
    _, _, run, _ = graded
    reasons = {r.student: _outputs(run, r.student) for r in run.results
               if r.student in ("infinite-loop", "memory-bomb", "floods-100-mb-of-output")}
    assert "ran past the 15 s per-cell limit" in reasons["infinite-loop"]
    assert "the kernel died while running this cell" in reasons["memory-bomb"]
    assert "[output cut: this cell wrote more than 1,000,000 bytes]" in reasons["floods-100-mb-of-output"]
    memory_bomb = next(r for r in run.results if r.student == "memory-bomb")
    assert "memory limit" in memory_bomb.reason


def test_no_process_of_a_graded_notebook_outlives_its_run(graded):
    assert [p.info for p in psutil.process_iter(["pid", "uids", "cmdline"])
            if p.info["uids"] and p.info["uids"].real == UNPRIVILEGED_ID] == []


def test_a_rerun_resumes_without_regrading_anyone(graded):
    course, submitted, run, seconds = graded
    started = time.monotonic()
    again = pipeline.grade(course, ASSIGNMENT, submitted, run.output_dir, limits=LIMITS)
    assert [(r.student, r.score) for r in again.results] == [(r.student, r.score) for r in run.results]
    assert time.monotonic() - started < seconds / 10


def test_overhead_of_the_limits_against_plain_nbgrader(graded, tmp_path):
    """Prints the grading time of the same benign notebooks with plain `nbgrader autograde`."""
    course, submitted, _, _ = graded
    benign = ("correct", "untouched", "wrong-answers")
    plain = _plain_nbgrader_copy(course, tmp_path / "plain")
    for name in benign:
        shutil.copytree(submitted / name, plain / "submitted" / name)
    started = time.monotonic()
    for name in benign:
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, f"--student={name}", "--create",
                        "--force"], cwd=plain, check=True, capture_output=True, env=grading_environment())
    plain_seconds = time.monotonic() - started
    kit = tmp_path / "kit"
    for name in benign:
        shutil.copytree(submitted / name, kit / "submitted" / name)
    started = time.monotonic()
    pipeline.grade(course, ASSIGNMENT, kit / "submitted", kit / "grading", limits=LIMITS)
    kit_seconds = time.monotonic() - started
    print(f"\n{len(benign)} notebooks: plain nbgrader autograde {plain_seconds:.1f} s, the kit with limits and "
          f"judges {kit_seconds:.1f} s ({kit_seconds / plain_seconds:.2f}x)")


# The attacks on the sandbox and its limits, graded by an ordinary user with `autograder grade`.
ATTACKS_ON_THE_SANDBOX = ("correct", "untouched", "memory-bomb", "fork-bomb", "infinite-loop", "loop-ignoring-sigint",
                          "daemon-outliving-the-kernel", "reads-source-gradebook-and-other-submissions",
                          "writes-to-the-gradebook", "opens-a-network-connection", "floods-100-mb-of-output",
                          "forged-executed-notebook", "shadowing-numpy-py")


@pytest.fixture(scope="module")
def graded_by_an_ordinary_user(ordinary_user):
    """The sandbox's attacks graded by an ordinary user from the command line, with the per-cell
    and process limits set in the course's nbgrader_config.py (as an instructor sets them)."""
    workspace = ordinary_user.folder("hostile")
    course = build_course(workspace / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"c.SandboxedExecute.cell_timeout_s = {LIMITS.cell_timeout_s}\n"
                     f"c.SandboxedExecute.processes = {LIMITS.processes}\n")
    for name in ATTACKS_ON_THE_SANDBOX:
        folder = workspace / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(HOSTILE / "submissions" / f"{name}.ipynb", folder / f"{ASSIGNMENT}.ipynb")
        for extra in HOSTILE.glob(f"submissions/{name}.*.py"):
            shutil.copy(extra, folder / extra.name.removeprefix(f"{name}."))
    ordinary_user.give(workspace)
    completed = ordinary_user.run(
        sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, "--submissions", str(workspace / "submitted"),
        "--output", str(workspace / "grading"), "--timeout", f"{LIMITS.notebook_timeout_s:g}",
        "--memory-mb", str(LIMITS.memory_mb), cwd=course.root)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(workspace / "grading" / "grades.csv") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    return workspace / "grading", rows, completed.stdout


def test_an_ordinary_user_s_sandbox_holds_against_the_same_attacks(graded_by_an_ordinary_user, ordinary_user):
    output, rows, printed = graded_by_an_ordinary_user
    print("\n" + printed)
    got = {name: (float(row["score"]), row["status"]) for name, row in rows.items()}
    assert got == {name: EXPECTED[name] for name in ATTACKS_ON_THE_SANDBOX}
    text = {name: _outputs_in(output, name) for name in ATTACKS_ON_THE_SANDBOX}
    assert "found: []" in text["reads-source-gradebook-and-other-submissions"]
    assert "gradebooks reachable: []" in text["writes-to-the-gradebook"]
    assert "network: [Errno 101] Network is unreachable" in text["opens-a-network-connection"]
    assert "ran past the 15 s per-cell limit" in text["infinite-loop"], "the course's c.SandboxedExecute.cell_timeout_s"
    assert "the kernel died while running this cell" in text["memory-bomb"]
    assert "memory limit" in rows["memory-bomb"]["reason"]
    assert "[output cut: this cell wrote more than 1,000,000 bytes]" in text["floods-100-mb-of-output"]
    uid = pwd.getpwnam(ordinary_user.name).pw_uid
    assert [p.info for p in psutil.process_iter(["pid", "uids", "cmdline", "status"]) if p.info["uids"]
            and p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE] == [], "all of them exited"


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
    print("\n" + "\n".join(f"{r.student:<42} {r.score:g}/{r.max_score:g}  {r.reason[:100]}" for r in run.results))
    assert {r.student: (r.status, r.score) for r in run.results} == {name: ("graded", 0) for name in COURSE_ATTACKS}
    swallowed = next(r for r in run.results if r.student == "custom-exception-handler-swallows-errors")
    assert any(flag.startswith("test_metrics: passed in the notebook, but the grader cannot judge it")
               for flag in swallowed.flags)


def _plain_nbgrader_copy(course, root: Path) -> Path:
    """The course with nbgrader's stock autograde (no sandbox, no judges)."""
    shutil.copytree(course.root / "source", root / "source")
    config = (course.root / "nbgrader_config.py").read_text()
    config = config.split("# Autograding runs each notebook")[0] + "\nc.CourseDirectory.root = '.'\n"
    (root / "nbgrader_config.py").write_text(config)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--create", "--force"],
                   cwd=root, check=True, capture_output=True, env=grading_environment())
    return root


def _outputs(run, student: str) -> str:
    return _outputs_in(run.output_dir, student)


def _outputs_in(output: Path, student: str) -> str:
    notebook = nbformat.read(output / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    return "\n".join(str(output.get("text", "")) + str(output.get("evalue", ""))
                     for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
