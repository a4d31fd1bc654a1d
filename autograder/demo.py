"""Sample submissions for the demo, made from the generated versions so they never go stale:
the reference solution, the untouched student version, a half-done one (the first half of the
solution cells filled in) and a broken one (truncated notebook JSON), and what each one's grade
must show (`sample_problems`)."""

import math
import shutil
from pathlib import Path

import nbformat

from .course import Course
from .results import GradingRun, SubmissionResult

SAMPLE_STUDENTS = ("reference", "untouched", "half-done", "broken")


def write_sample_submissions(course: Course, assignment: str, submitted: Path) -> Path:
    """Write ``submitted/<student>/<assignment>/`` for each sample student; return ``submitted``."""
    for student in SAMPLE_STUDENTS:
        folder = submitted / student / assignment
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name in course.notebook_names(assignment):
            student_version = course.release_dir / assignment / name
            solution_version = course.solution_dir / assignment / name
            if student == "reference":
                shutil.copyfile(solution_version, folder / name)
            elif student == "untouched":
                shutil.copyfile(student_version, folder / name)
            elif student == "half-done":
                nbformat.write(half_done(student_version, solution_version), folder / name)
            else:
                text = student_version.read_text()
                (folder / name).write_text(text[: len(text) // 2])
    return submitted


def half_done(student_version: Path, solution_version: Path):
    """The student version with the first half of its solution cells answered."""
    notebook = nbformat.read(student_version, as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source
               for cell in nbformat.read(solution_version, as_version=4).cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    to_answer = list(answers)[: math.ceil(len(answers) / 2)]
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in to_answer:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return notebook


def sample_problems(run: GradingRun) -> list[str]:
    """Each sample whose grade is not what it is there to show, and why: the reference earns full
    marks without a flag, the untouched version nothing, the half-done one something in between,
    and the broken one is rejected."""
    problems = []
    for result in run.results:
        expected, wrong = _expectation(result)
        if wrong:
            lost = [f"{cell.grade_id} {cell.points:g}/{cell.max_points:g}" for cell in result.cells
                    if cell.points < cell.max_points]
            problems.append(f"{run.assignment}: the {result.student} sample should {expected}, but it is "
                            f"{result.status} with {result.score:g}/{result.max_score:g}"
                            + (f" (lost: {', '.join(lost)})" if lost and result.student == "reference" else "")
                            + (f": {result.reason}" if result.reason else ""))
    return problems


def _expectation(result: SubmissionResult) -> tuple[str, bool]:
    """(what the sample should show, whether its grade fails to)."""
    graded = result.status == "graded"
    if result.student == "reference":
        return "earn full marks without a flag", not (graded and result.score == result.max_score and not result.flags)
    if result.student == "untouched":
        return "earn nothing", not (graded and result.score == 0)
    if result.student == "half-done":
        return "earn some points but not all", not (graded and 0 < result.score < result.max_score)
    return "be rejected", result.status != "rejected"
