"""Does grading the same submission again give the same points? The reference solution and a
borderline one (its held-out metric near the threshold) of assignments 1 and 4 are each handed in
by two students and graded in one batch: two runs of each notebook, each with hidden inputs
of its own. The grader's measurements on the held-out data are printed beside their thresholds."""

import copy

import nbformat
import pytest

from autograder import pipeline
from autograder.course import Course
from autograder.dispatch import Workers
from autograder.nbgrader_plugins import HIDDEN_TEST_FAILED, VERDICT
from conftest import report_figures

COURSE = Course.find(__file__)
COPIES = 2
# Edits of the solution that leave the held-out metric next to its threshold (seed 42, this CPU):
# the MLP trained for 10 epochs at most, RMSE 31,009 against below 31,500 (the reference: 29,197),
# and the IMDB model trained for 5 epochs, accuracy 0.8496 against at least 0.85 (the reference:
# 0.868). Measured by running the edited solution with tools/calibrate.py's report cell.
BORDERLINE = {
    "01_regression_baselines": [("MLP_MAX_EPOCHS = 200", "MLP_MAX_EPOCHS = 10")],
    "04_imdb_embeddings": [("EPOCHS = 10", "EPOCHS = 5")],
}

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def submissions(assignment: str, folder) -> None:
    solution = nbformat.read(COURSE.solution_dir / assignment / f"{assignment}.ipynb", as_version=4)
    borderline = copy.deepcopy(solution)
    for old, new in BORDERLINE[assignment]:
        [cell] = [cell for cell in borderline.cells if old in cell.source]
        cell.source = cell.source.replace(old, new)
    for number in range(1, COPIES + 1):
        for name, notebook in (("reference", solution), ("borderline", borderline)):
            (folder / f"{name}-{number}" / assignment).mkdir(parents=True)
            nbformat.write(notebook, folder / f"{name}-{number}" / assignment / f"{assignment}.ipynb")


def measurements(run, student: str) -> dict[str, str]:
    """Each graded cell's line from the grader: what it measured, or why the cell failed."""
    notebook = nbformat.read(run.output_dir / "autograded" / student / run.assignment / f"{run.assignment}.ipynb", 4)
    found = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.text.startswith(VERDICT):
                found[grade_id] = output.text.strip().removeprefix(VERDICT)
            elif output.output_type == "error" and output.ename == HIDDEN_TEST_FAILED:
                found[grade_id] = f"failed: {output.evalue}"
    return found


def spread(measured: list[dict[str, str]]) -> list[str]:
    """One line per graded cell: what the grader measured, once if every run measured the same."""
    lines = []
    for grade_id in sorted(set().union(*measured)):
        seen = list(dict.fromkeys(run.get(grade_id, "(nothing)") for run in measured))
        lines.append(f"  {grade_id}: {seen[0]}" if len(seen) == 1 else f"  {grade_id}: differs: {' | '.join(seen)}")
    return lines


@pytest.mark.parametrize("assignment", sorted(BORDERLINE))
def test_the_same_submission_graded_twice_earns_the_same_points(assignment, tmp_path):
    submissions(assignment, tmp_path / "submitted")
    with Workers(2) as workers:
        run = pipeline.grade(COURSE, assignment, tmp_path / "submitted", tmp_path / "grading", workers=workers,
                             progress=False)
    points = {result.student: [cell.points for cell in result.cells] for result in run.results}
    for name in ("reference", "borderline"):
        students = [f"{name}-{number}" for number in range(1, COPIES + 1)]
        report_figures(f"{name}, graded {COPIES} times: {[sum(points[student]) for student in students]} points\n"
                       + "\n".join(spread([measurements(run, student) for student in students])))
        copies = [points[student] for student in students]
        assert all(points_of == copies[0] for points_of in copies), f"the {name} submission earned {copies}"
    assert sum(points["reference-1"]) == sum(cell.max_points for cell in run.results[0].cells)
