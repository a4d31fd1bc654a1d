"""build, grade and validate: nbgrader does the notebook surgery, the kit adds the rest."""

import contextlib
import filecmp
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import GenerateAssignment, GenerateFeedback, GenerateSolution
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log, temp_attrs

from . import reports
from .course import Course
from .errors import BuildError, CourseError, SubmissionError
from .execution import available_device, grading_environment, run_limited
from .results import BuildResult, CellScore, GradingRun, SubmissionResult, ValidationResult

NOTEBOOK_TIMEOUT_S = 1800
"""Default wall-clock limit for one whole notebook (each cell also has nbgrader's own limit)."""


# --- build ------------------------------------------------------------------------------------

def build(course: Course, assignments=None, check: bool = False) -> list[BuildResult]:
    """Generate student versions into assignments/ and solutions into solutions/.

    Files are generated in a scratch folder and copied only where they differ, so a second run
    changes nothing. With ``check`` nothing is written; the differences are returned.
    """
    results = []
    with tempfile.TemporaryDirectory(prefix="autograder-build-") as scratch:
        scratch = Path(scratch)
        for assignment in course.assignments(assignments):
            # nbgrader insists on a gradebook even here: a throwaway one in the scratch folder.
            config = course.nbgrader_config(release_directory=scratch / "assignments",
                                            solution_directory=scratch / "solutions",
                                            db_url=f"sqlite:///{scratch / 'gradebook.db'}")
            _nbgrader(GenerateAssignment, course, assignment, config, create_assignment=True)
            _nbgrader(GenerateSolution, course, assignment, config)
            changed = []
            for generated_root, committed_root in ((scratch / "assignments", course.release_dir),
                                                   (scratch / "solutions", course.solution_dir)):
                changed += _sync(generated_root / assignment, committed_root / assignment, check)
            results.append(BuildResult(assignment, changed))
    return results


def _nbgrader(converter_class, course: Course, assignment: str, config, student: str = ".", **traits) -> None:
    """Run one nbgrader converter in this process (fast: no interpreter start-up)."""
    coursedir = CourseDirectory(config=config)
    # nbgrader runs the `alembic` command by name when it opens a gradebook.
    with temp_attrs(coursedir, assignment_id=assignment, student_id=student), \
            _environment(PATH=grading_environment()["PATH"]):
        converter = converter_class(coursedir=coursedir, config=config)
        converter.force = True
        for name, value in traits.items():
            setattr(converter, name, value)
        outcome = capture_log(converter)
    if not outcome["success"]:
        raise BuildError(f"nbgrader {converter_class.__name__} failed for {assignment}:\n"
                         f"{outcome.get('error') or ''}\n{outcome.get('log', '')[-3000:]}")


@contextlib.contextmanager
def _environment(**variables):
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sync(generated: Path, committed: Path, check: bool) -> list[Path]:
    """Copy generated files over committed ones where they differ; return those paths."""
    changed = []
    generated_files = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    committed_files = {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()} if committed.exists() else set()
    for relative in sorted(generated_files | committed_files):
        source, target = generated / relative, committed / relative
        if relative not in generated_files:
            changed.append(target)
            if not check:
                target.unlink()
        elif not target.exists() or not filecmp.cmp(source, target, shallow=False):
            changed.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return changed


# --- grade ------------------------------------------------------------------------------------

def grade(course: Course, assignment: str, submissions: Path, output: Path, db_url: str | None = None,
          timeout_s: float = NOTEBOOK_TIMEOUT_S) -> GradingRun:
    """Autograde every ``submissions/<student>/<assignment>/`` folder; one student's broken
    submission is reported with its reason and never stops the others."""
    [assignment] = course.assignments([assignment])
    submissions, output = Path(submissions).resolve(), Path(output).resolve()
    if not submissions.is_dir():
        raise CourseError(f"submissions folder {submissions} does not exist")
    output.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{output / 'gradebook.db'}"
    directories = dict(root=output, source_directory=course.source_dir, release_directory=output / "release",
                       db_url=db_url)
    config = course.nbgrader_config(**directories)
    cells = course.grade_cells(assignment)
    _nbgrader(GenerateAssignment, course, assignment, config, create_assignment=True)

    results = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        student = student_dir.name
        try:
            _preflight(course, assignment, student_dir / assignment, output / "submitted" / student / assignment)
        except SubmissionError as error:
            results.append(_ungraded(student, "rejected", str(error), cells))
            continue
        results.append(_autograde(course, assignment, student, directories, cells, timeout_s))

    for result in results:
        if result.status == "graded":
            _nbgrader(GenerateFeedback, course, assignment, config, student=result.student)
            result.feedback = output / "feedback" / result.student / assignment
    grades_csv = reports.write_grades_csv(results, output / "grades.csv")
    return GradingRun(assignment, output, results, grades_csv)


def _preflight(course: Course, assignment: str, submitted: Path, destination: Path) -> None:
    """Trusted checks before any execution; copies only the expected notebooks."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in course.notebook_names(assignment):
        path = submitted / name
        if not path.exists():
            raise SubmissionError(f"missing notebook {assignment}/{name}")
        try:
            text = path.read_text(encoding="utf-8")
            json.loads(text)  # for the line and column of a syntax error, which nbformat hides
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
        except json.JSONDecodeError as error:
            raise SubmissionError(f"{name} is not valid notebook JSON: {error.msg} at line {error.lineno}, "
                                  f"column {error.colno} (was the file cut short or edited by hand?)") from None
        except Exception as error:  # any other parse or schema failure rejects this student only
            summary = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
            raise SubmissionError(f"{name} is not a valid notebook ({type(error).__name__}: {summary})") from None
        nbformat.write(notebook, destination / name)


def _autograde(course: Course, assignment: str, student: str, directories: dict, cells: list[tuple[str, float]],
               timeout_s: float) -> SubmissionResult:
    logs = directories["root"] / "logs"
    logs.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "nbgrader", "autograde", assignment, f"--student={student}",
               "--create", "--force", *course.nbgrader_arguments(**directories)]
    outcome = run_limited(command, cwd=course.root, log_path=logs / f"{student}.log", timeout_s=timeout_s)
    measured = dict(wall_seconds=outcome.wall_seconds, peak_memory_mb=outcome.peak_memory_mb,
                    device=available_device())
    if outcome.timed_out:
        return _ungraded(student, "timed out", f"the notebook ran past the {timeout_s:.0f} s limit", cells, **measured)
    scores = _scores(assignment, student, directories["db_url"], cells)
    if outcome.exit_code != 0 or scores is None:
        tail = (logs / f"{student}.log").read_text(errors="replace").strip().splitlines()[-3:]
        return _ungraded(student, "failed", f"nbgrader autograde exited with {outcome.exit_code}: " + " | ".join(tail),
                         cells, **measured)
    return SubmissionResult(student, "graded", cells=scores, **measured)


def _scores(assignment: str, student: str, db_url: str, cells: list[tuple[str, float]]) -> list[CellScore] | None:
    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return None
        grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
        return [CellScore(grade_id, float(grades[grade_id].score), float(grades[grade_id].max_score))
                for grade_id, _ in cells if grade_id in grades]


def _ungraded(student: str, status: str, reason: str, cells: list[tuple[str, float]], **measured) -> SubmissionResult:
    zeros = [CellScore(grade_id, 0.0, points) for grade_id, points in cells]
    return SubmissionResult(student, status, reason, zeros, **measured)


# --- validate ---------------------------------------------------------------------------------

def validate(course: Course, assignments=None) -> list[ValidationResult]:
    """Grade each source notebook (must earn full marks) and each committed student version
    (must earn 0 on every graded cell)."""
    results = []
    for assignment in course.assignments(assignments):
        with tempfile.TemporaryDirectory(prefix=f"autograder-validate-{assignment}-") as scratch:
            scratch = Path(scratch)
            for student, folder in (("solution", course.source_dir), ("untouched", course.release_dir)):
                shutil.copytree(folder / assignment, scratch / "submitted" / student / assignment)
            run = grade(course, assignment, scratch / "submitted", scratch / "grading")
        solution, untouched = sorted(run.results, key=lambda r: r.student != "solution")
        results.append(ValidationResult(assignment, solution, untouched, _validation_problems(solution, untouched)))
    return results


def _validation_problems(solution: SubmissionResult, untouched: SubmissionResult) -> list[str]:
    problems = []
    for result in (solution, untouched):
        if result.status != "graded":
            problems.append(f"the {result.student} notebook was not graded ({result.status}: {result.reason})")
    lost = [c.grade_id for c in solution.cells if c.points < c.max_points]
    if solution.status == "graded" and lost:
        problems.append(f"the solution earns {solution.score:g} of {solution.max_score:g} points; "
                        f"it loses points on {', '.join(lost)}")
    problems += [f"the untouched student version earns {c.points:g} points on {c.grade_id}"
                 for c in untouched.cells if c.points > 0]
    return problems
