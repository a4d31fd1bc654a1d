"""build, grade and validate on a tiny course (no model training)."""

import csv
import json
import os
import re

import nbformat
import pytest

from autograder import pipeline, preflight
from autograder.course import Course
from autograder.sandbox import Limits
from autograder.errors import CourseError, SubmissionError
from autograder.nbgrader_plugins import HIDDEN_TESTS_PLACEHOLDER, TENSORFLOW_STDERR_NOISE, RedactHiddenTests
from conftest import TINY, answered, submit

# --- the course folder ------------------------------------------------------------------------

def test_the_course_is_found_from_a_folder_inside_it(tiny_course):
    assert Course.find(tiny_course.source_dir / TINY) == tiny_course


def test_assignments_can_be_named_by_number(tiny_course):
    assert tiny_course.assignments(["00"]) == [TINY]


def test_an_unknown_assignment_lists_the_known_ones(tiny_course):
    with pytest.raises(CourseError, match=r"^unknown assignment '07'; the course has: 00_tiny$"):
        tiny_course.assignments(["07"])


# --- build ------------------------------------------------------------------------------------

def test_build_writes_student_and_solution_versions_without_hidden_tests(tiny_course):
    student = (tiny_course.release_dir / TINY / f"{TINY}.ipynb").read_text()
    solution = (tiny_course.solution_dir / TINY / f"{TINY}.ipynb").read_text()
    assert "raise NotImplementedError()" in student and "return a + b" not in student
    assert "return a + b" in solution
    assert "hidden-marker" not in student and "hidden-marker" not in solution


def test_a_second_build_changes_nothing(tiny_course):
    before = {p: p.read_bytes() for p in tiny_course.root.rglob("*.ipynb")}
    assert [r.changed for r in pipeline.build(tiny_course)] == [[]]
    assert {p: p.read_bytes() for p in tiny_course.root.rglob("*.ipynb")} == before


def test_build_check_reports_stale_files_and_writes_nothing(tiny_course):
    source = tiny_course.source_dir / TINY / f"{TINY}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[0].source = "# Tiny assignment, revised"
    nbformat.write(notebook, source)
    student_version = tiny_course.release_dir / TINY / f"{TINY}.ipynb"
    before = student_version.read_bytes()
    [result] = pipeline.build(tiny_course, check=True)
    assert result.changed == [student_version, tiny_course.solution_dir / TINY / f"{TINY}.ipynb"]
    assert student_version.read_bytes() == before


# --- preflight --------------------------------------------------------------------------------

def test_preflight_rejects_broken_json_with_its_position(tiny_course, tmp_path):
    submitted = submit(tiny_course, "ann", text='{"cells": [')
    with pytest.raises(SubmissionError, match=r"^00_tiny.ipynb is not valid notebook JSON: Expecting value at line 1, column 12"):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")


def test_preflight_rejects_a_notebook_that_breaks_the_schema(tiny_course, tmp_path):
    submitted = submit(tiny_course, "ann", text='{"cells": "none", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    with pytest.raises(SubmissionError, match=r"^00_tiny.ipynb is not a valid notebook \(ValidationError: "):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")


def test_preflight_names_a_missing_notebook(tiny_course, tmp_path):
    (tmp_path / "submitted" / "ann" / TINY).mkdir(parents=True)
    with pytest.raises(SubmissionError, match=r"^missing notebook 00_tiny/00_tiny.ipynb$"):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, tmp_path / "submitted" / "ann" / TINY, tmp_path / "out")


def test_preflight_copies_only_the_expected_notebooks(tiny_course, tmp_path):
    submitted = submit(tiny_course, "ann", answered(tiny_course, "def add(a, b):\n    return a + b"))
    (submitted / "ann" / TINY / "numpy.py").write_text("raise SystemExit('shadowed numpy')")
    preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{TINY}.ipynb"]


def test_preflight_rejects_a_future_nbgrader_schema(tiny_course, tmp_path):
    notebook = answered(tiny_course, "def add(a, b):\n    return a + b")
    notebook.cells[3].metadata.nbgrader["schema_version"] = 99
    submitted = submit(tiny_course, "ann", notebook)
    with pytest.raises(SubmissionError, match=r"^00_tiny.ipynb, cell 4: nbgrader metadata schema_version 99; "
                                              r"this grader reads version 3"):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")


def _with_tiny_metadata(course, **changes):
    """The tiny notebook as JSON text with the graded test cell's nbgrader metadata changed."""
    notebook = answered(course, "def add(a, b):\n    return a + b")
    document = nbformat.v4.new_notebook()
    document.update(notebook)
    document.cells[3].metadata.nbgrader.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize("crafted, reason", [
    (lambda course: "[" * 100_000 + "]" * 100_000, r"^00_tiny.ipynb nests its JSON too deeply to be a notebook$"),
    (lambda course: _with_tiny_metadata(course).replace('"nbgrader": {', '"nbgrader": "x", "was": {', 1),
     r"^00_tiny.ipynb, cell \d+: its nbgrader metadata is a str, not an object"),
    (lambda course: _with_tiny_metadata(course, grade_id=["test_add"]),
     r"^00_tiny.ipynb, cell 4: its grade_id is a list, not a string"),
    (lambda course: _with_tiny_metadata(course, points="1e309"), r"^00_tiny.ipynb, cell 4: its points are '1e309'"),
    (lambda course: _with_tiny_metadata(course, locked="yes"), r"^00_tiny.ipynb, cell 4: its nbgrader flag locked is not"),
    (lambda course: _with_tiny_metadata(course).replace('"cell_type": "code"', '"cell_type": "code", "x": "\\ud800"', 1),
     r"^00_tiny.ipynb"),
    (lambda course: _with_tiny_metadata(course).replace('"source": "', '"source": "\\udc80', 1),
     r"^00_tiny.ipynb holds text that is not Unicode \(surrogates not allowed"),
    (lambda course: json.dumps(dict(json.loads(_with_tiny_metadata(course)),
                                    cells=[nbformat.v4.new_markdown_cell("x")] * (preflight.MAX_CELLS + 1))),
     r"^00_tiny.ipynb has 501 cells; a notebook of this course has at most 500$"),
], ids=["nested", "metadata-string", "grade-id-list", "points-string", "flag-string", "surrogate-key", "surrogate",
        "cells"])
def test_preflight_rejects_crafted_notebooks_with_the_reason(tiny_course, tmp_path, crafted, reason):
    submitted = submit(tiny_course, "ann", text=crafted(tiny_course))
    with pytest.raises(SubmissionError, match=reason):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")


@pytest.mark.parametrize("special", ["fifo", "link to /proc/self/mem", "link to the notebook"])
def test_preflight_reads_no_link_or_special_file(tiny_course, tmp_path, special):
    folder = tmp_path / "submitted" / "ann" / TINY
    folder.mkdir(parents=True)
    target = folder / f"{TINY}.ipynb"
    if special == "fifo":
        os.mkfifo(target)
    else:
        real = tmp_path / "real.ipynb"
        nbformat.write(answered(tiny_course, "def add(a, b):\n    return a + b"), real)
        target.symlink_to("/proc/self/mem" if "proc" in special else real)
    with pytest.raises(SubmissionError, match="^00_tiny/00_tiny.ipynb (is not a regular file|cannot be opened)"):
        preflight.prepare(tiny_course.notebook_names(TINY), TINY, folder, tmp_path / "out")


def test_preflight_strips_outputs_and_drops_copies_of_locked_cells(tiny_course, tmp_path):
    notebook = answered(tiny_course, "def add(a, b):\n    return a + b")
    test_cell = notebook.cells[3]
    test_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed")]
    notebook.cells.insert(2, nbformat.from_dict(test_cell))
    submitted = submit(tiny_course, "ann", notebook)
    preflight.prepare(tiny_course.notebook_names(TINY), TINY, submitted / "ann" / TINY, tmp_path / "out")
    prepared = nbformat.read(tmp_path / "out" / f"{TINY}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in prepared.cells]
    assert ids.count("test_add_visible") == 1 and all(not c.get("outputs") for c in prepared.cells)


# --- feedback redaction and TensorFlow noise --------------------------------------------------

def test_feedback_keeps_a_hidden_tests_verdict_but_not_its_source():
    cell = nbformat.v4.new_code_cell(
        "assert add(0, 0) == 0\n### BEGIN HIDDEN TESTS\nassert add(-1, 1) == 0, 'hidden-marker'\n### END HIDDEN TESTS")
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="hidden-marker",
                                           traceback=["\x1b[0;31m----\x1b[0m", "assert add(-1, 1) == 0, 'hidden-marker'"])]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    redacted, _ = RedactHiddenTests().preprocess(notebook, {})
    assert redacted.cells[0].source == f"assert add(0, 0) == 0\n{HIDDEN_TESTS_PLACEHOLDER}"
    assert redacted.cells[0].outputs[0].traceback == ["AssertionError: hidden-marker"]


@pytest.mark.parametrize("line", [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795371416.767307    8202 port.cc:153] oneDNN custom operations are on. You may see ...",
    "E0000 00:00:1795371416.1    8202 cuda_dnn.cc:8579] Unable to register cuDNN factory",
    "/x/site-packages/keras/src/layers/core/dense.py:93: UserWarning: Do not pass an `input_shape`",
])
def test_tensorflow_stderr_noise_is_recognised(line):
    import re
    assert re.search(TENSORFLOW_STDERR_NOISE, f"some output\n{line}\n")


@pytest.mark.parametrize("line", ["Traceback (most recent call last):", "my own warning", "ValueError: bad shape"])
def test_other_stderr_output_is_not_mistaken_for_noise(line):
    import re
    assert not re.search(TENSORFLOW_STDERR_NOISE, line)


# --- grading whole batches (executes notebooks) -----------------------------------------------

@pytest.mark.slow
@pytest.mark.sandbox
def test_a_batch_is_graded_with_broken_and_runaway_submissions_failing_alone(tiny_course, tmp_path, monkeypatch):
    submitted = submit(tiny_course, "ann", answered(tiny_course, "def add(a, b):\n    return a + b"))
    submit(tiny_course, "bob", answered(tiny_course, "def add(a, b):\n    return a - b"))
    submit(tiny_course, "cat", text="{ not json")
    submit(tiny_course, "dan", answered(tiny_course, "while True:\n    pass"))
    submit(tiny_course, "eve", answered(tiny_course, "import time\ntime.sleep(3600)"))
    submit(tiny_course, "aaa", text=_with_tiny_metadata(tiny_course, grade_id=["add"]))  # graded first
    os.mkfifo(submitted / "aaa" / TINY / "exports")
    (submitted / "aaa" / TINY / "timestamp.txt").symlink_to("/proc/self/mem")
    submit(tiny_course, "abe", answered(tiny_course, "def add(a, b):\n    return a + b"))
    preflight_step = pipeline._Batch.preflight
    def grader_fails_on_abe(batch, student_dir):
        if student_dir.name == "abe":
            raise RecursionError("maximum recursion depth exceeded")
        return preflight_step(batch, student_dir)
    monkeypatch.setattr(pipeline._Batch, "preflight", grader_fails_on_abe)
    gradebook = tmp_path / "elsewhere" / "gradebook.db"
    gradebook.parent.mkdir()
    limits = Limits(cell_cpu_s=10, notebook_timeout_s=40)
    run = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "grading", db_url=f"sqlite:///{gradebook}",
                         limits=limits)

    by_student = {r.student: r for r in run.results}
    assert [r.student for r in run.results] == ["aaa", "abe", "ann", "bob", "cat", "dan", "eve"]
    assert (by_student["aaa"].status, by_student["aaa"].reason) == (
        "rejected", "00_tiny.ipynb, cell 4: its grade_id is a list, not a string (was the metadata edited by hand?)")
    assert (by_student["abe"].status, by_student["abe"].reason) == (
        "failed", "the grader failed on this submission: RecursionError: maximum recursion depth exceeded")
    assert {c.grade_id: c.points for c in by_student["ann"].cells} == {
        "test_add_visible": 1, "test_add_hidden": 2, "test_tensorflow_noise": 1}, "TensorFlow's stderr costs nothing"
    assert by_student["bob"].status == "graded" and by_student["bob"].score == 0
    assert (by_student["cat"].status, by_student["cat"].reason) == (
        "rejected", "00_tiny.ipynb is not valid notebook JSON: Expecting property name enclosed in double quotes "
                    "at line 1, column 3 (was the file cut short or edited by hand?)")
    dan, eve = by_student["dan"], by_student["eve"]
    assert dan.status == "graded" and dan.score == 0
    assert re.fullmatch(r"add: this cell used 1\d s of CPU time, past the 10 s per-cell limit", dan.reason)
    assert dan.cpu_seconds >= limits.cell_cpu_s, "an infinite loop is stopped by CPU time, not by the wall clock"
    # A sleeping notebook uses no CPU time: the wall-clock backstop stops it, and it is graded once more, alone.
    assert eve.status == "timed out" and eve.score == 0
    assert eve.flags == ["the notebook ran past its 40 s wall-clock backstop (it had used %.0f s of CPU time)"
                         % eve.cpu_seconds, pipeline.REGRADED_ALONE]
    assert 40 <= eve.wall_seconds < 60 and eve.cpu_seconds < 20
    # The student's feedback says which limit stopped the run, and what was measured.
    assert "s of CPU time, past the 10 s per-cell limit" in (dan.feedback / f"{TINY}.html").read_text()
    assert "ran past its 40 s wall-clock backstop" in (eve.feedback / f"{TINY}.html").read_text()
    assert gradebook.exists() and not (tmp_path / "grading" / "gradebook.db").exists(), "the --db-url gradebook is used"

    ann = by_student["ann"]
    assert ann.device.startswith(("CPU", "GPU")) and ann.peak_memory_mb > 50 and ann.wall_seconds > 0
    feedback = (ann.feedback / f"{TINY}.html").read_text()
    assert HIDDEN_TESTS_PLACEHOLDER in feedback and "hidden-marker" not in feedback

    with open(run.grades_csv) as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["student"], r["status"], r["score"], r["max_score"]) for r in rows][2:] == [
        ("ann", "graded", "4", "4"), ("bob", "graded", "0", "4"), ("cat", "rejected", "0", "4"),
        ("dan", "graded", "0", "4"), ("eve", "timed out", "0", "4")]
    assert [r["flags"] for r in rows][2:] == ["", "", "", dan.reason, " | ".join(eve.flags)]

    # A rerun goes past the students who failed (their result stands until their files change).
    rerun = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "grading", db_url=f"sqlite:///{gradebook}",
                           limits=limits, progress=False)
    assert [(r.student, r.status, r.score) for r in rerun.results] == [(r.student, r.status, r.score) for r in run.results]


@pytest.mark.slow
@pytest.mark.sandbox
def test_validate_passes_a_correct_assignment_and_names_a_leaky_student_version(tiny_course):
    [result] = pipeline.validate(tiny_course)
    assert result.ok, result.problems
    assert (result.solution.score, result.untouched.score) == (4, 0)

    # A student version that gives the answer away earns points untouched: validate must say so.
    student_version = tiny_course.release_dir / TINY / f"{TINY}.ipynb"
    nbformat.write(answered(tiny_course, "def add(a, b):\n    return a + b"), student_version)
    [result] = pipeline.validate(tiny_course)
    assert result.problems == [f"the untouched student version earns {points} points on {grade_id}"
                               for grade_id, points in [("test_add_visible", 1), ("test_add_hidden", 2),
                                                        ("test_tensorflow_noise", 1)]]
