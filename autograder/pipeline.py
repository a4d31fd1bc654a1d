"""build, grade and validate: nbgrader does the notebook surgery, the kit adds the rest."""

import contextlib
import dataclasses
import filecmp
import json
import os
import shutil
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback, GenerateSolution
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log, temp_attrs

from . import preflight, reports
from .course import Course
from .errors import BuildError, CourseError, SubmissionError
from .execution import available_device, grading_environment
from .ledger import Ledger, fingerprint
from .nbgrader_plugins import record_path
from .results import BuildResult, CellScore, GradingRun, SubmissionResult, ValidationResult
from .sandbox import Limits, require_protections


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
          limits: Limits = Limits(), allow_missing_limits: bool = False, regrade: bool = False) -> GradingRun:
    """Autograde every ``submissions/<student>/<assignment>/`` folder, each notebook in a sandbox
    under ``limits``. One student's broken submission is reported with its reason and never
    stops the others; a rerun into the same ``output`` skips students already graded (unless
    ``regrade``) and regrades those whose files changed."""
    [assignment] = course.assignments([assignment])
    submissions, output = Path(submissions).resolve(), Path(output).resolve()
    if not submissions.is_dir():
        raise CourseError(f"submissions folder {submissions} does not exist")
    require_protections(allow_missing_limits)
    output.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{output / 'gradebook.db'}"
    config = course.nbgrader_config(root=output, source_directory=course.source_dir,
                                    release_directory=output / "release", db_url=db_url)
    _limit(config, limits, output / "runs", allow_missing_limits)
    cells = course.grade_cells(assignment)
    _nbgrader(GenerateAssignment, course, assignment, config, create_assignment=True)

    ledger = Ledger(output / "ledger.jsonl")
    results = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        submission_fingerprint = fingerprint(student_dir / assignment)
        result = None if regrade else ledger.result(student_dir.name, submission_fingerprint)
        if result is None:
            result = _grade_one(course, assignment, student_dir, config, cells)
            ledger.record(result, submission_fingerprint)
        results.append(result)
    grades_csv = reports.write_grades_csv(results, output / "grades.csv")
    return GradingRun(assignment, output, results, grades_csv)


def _limit(config, limits: Limits, run_directory: Path, allow_missing_limits: bool) -> None:
    """Hand ``limits`` to the sandboxed execution step of nbgrader's autograde."""
    execute = config.SandboxedExecute
    execute.run_directory, execute.allow_missing_limits = str(run_directory), allow_missing_limits
    for field in dataclasses.fields(Limits):  # the step's traits are named after the fields
        setattr(execute, field.name, getattr(limits, field.name))


def _grade_one(course: Course, assignment: str, student_dir: Path, config, cells) -> SubmissionResult:
    """Preflight, autograde and feedback for one student; any failure is theirs alone."""
    student, root, names = student_dir.name, Path(config.CourseDirectory.root), course.notebook_names(assignment)
    try:
        submitted = root / "submitted" / student / assignment
        shutil.rmtree(submitted, ignore_errors=True)
        preflight.prepare(names, assignment, student_dir / assignment, submitted)
    except SubmissionError as error:
        return _ungraded(student, "rejected", str(error), cells)
    paths = [record_path(root / "runs" / student / Path(name).stem) for name in names]
    for path in paths:  # a record left by an earlier, interrupted run must not be read as this one's
        path.unlink(missing_ok=True)
    try:
        _nbgrader(Autograde, course, assignment, config, student=student, create_student=True)
        records = [json.loads(path.read_text()) for path in paths if path.exists()]
        if len(records) != len(paths):
            return _ungraded(student, "failed", "nbgrader autograde did not run every notebook", cells)
        flags = [flag for record in records for flag in record["flags"]]
        result = SubmissionResult(
            student, "timed out" if any(r["timed_out"] for r in records) else "graded", "; ".join(flags),
            _scores(assignment, student, config.CourseDirectory.db_url, cells), flags=flags,
            wall_seconds=sum(r["wall_seconds"] for r in records),
            peak_memory_mb=max(r["peak_memory_mb"] for r in records), device=available_device())
        _nbgrader(GenerateFeedback, course, assignment, config, student=student)
    except BuildError as error:
        return _ungraded(student, "failed", str(error).strip().splitlines()[-1][:500], cells)
    result.feedback = root / "feedback" / student / assignment
    return result


def _scores(assignment: str, student: str, db_url: str, cells: list[tuple[str, float]]) -> list[CellScore]:
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(assignment, student)
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
