"""build, grade and validate: nbgrader does the notebook surgery, the kit adds the rest."""

import contextlib
import copy
import dataclasses
import filecmp
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback, GenerateSolution
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log, parse_utc, temp_attrs

from distributed import as_completed

from . import preflight, reports
from .course import Course
from .dispatch import Dispatch, Workers, execute_submission
from .errors import BuildError, CourseError, SubmissionError
from .execution import grading_environment
from .ledger import Ledger, fingerprint
from .nbgrader_plugins import SandboxedExecute, record_path, store_execution
from .policy import Grading, SubmissionLog, submission_time
from .progress import Progress
from .results import BuildResult, CellScore, GradingRun, SubmissionResult, ValidationResult
from .sandbox import Limits
from .untrusted import clip


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
          limits: Limits | None = None, allow_missing_limits: bool = False, regrade: bool = False,
          workers: Workers | None = None, progress: bool = True) -> GradingRun:
    """Autograde every ``submissions/<student>/<assignment>/`` folder: this process prepares each
    submission and records its grades (the one writer of the gradebook and the ledger), and
    ``workers`` (default: one local worker) execute the notebooks, each in a sandbox under
    ``limits`` (default: the course's, `course_limits`). One student's broken submission is
    reported with its reason and never stops the others; a rerun into the same ``output`` skips
    students already graded (unless ``regrade``) and regrades those whose files changed."""
    [assignment] = course.assignments([assignment])
    submissions, output = Path(submissions).resolve(), Path(output).resolve()
    if not submissions.is_dir():
        raise CourseError(f"submissions folder {submissions} does not exist")
    output.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{output / 'gradebook.db'}"
    config = course.nbgrader_config(root=output, source_directory=course.source_dir,
                                    release_directory=output / "release", db_url=db_url)
    limits = limits or course_limits(course)
    _limit(config, limits, output / "runs", allow_missing_limits)
    batch = _Batch(course, assignment, config)
    _nbgrader(GenerateAssignment, course, assignment, config, create_assignment=True)
    policy = Grading(config=config)
    _set_due_date(db_url, assignment, policy)
    submissions_log = SubmissionLog(db_url, policy)

    ledger = Ledger(output / "ledger.jsonl")
    results, pending = {}, []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        submission_fingerprint = fingerprint(student_dir / assignment)
        result = None if regrade else ledger.result(student_dir.name, submission_fingerprint)
        if result is None:
            pending.append((student_dir, submission_fingerprint))
        else:
            results[student_dir.name] = result
    with Progress(assignment, len(results) + len(pending), len(results), quiet=not progress) as shown, \
            contextlib.ExitStack() as stack:
        pool = (workers or stack.enter_context(Workers())) if pending else None
        if pool:
            pool.check(allow_missing_limits, batch.needs_gpu)
            pool.on_start(shown.running)
        running, submissions_of, backstopped = as_completed(loop=pool.client.loop) if pool else None, {}, []

        def submit(student_dir: Path, submission_fingerprint: str, prepared) -> None:
            shown.waiting(student_dir.name)
            future = pool.submit(execute_submission, student_dir.name, prepared, limits, allow_missing_limits,
                                 gpu=batch.needs_gpu)
            submissions_of[future.key] = (student_dir, submission_fingerprint)
            running.add(future)

        def record(future, again: bool = False) -> None:
            student_dir, submission_fingerprint = submissions_of[future.key]
            shown.scoring(student_dir.name)
            result = _alone(student_dir.name, batch.cells, batch.record, student_dir.name, future)
            if result.stopped_by_wall_clock and not again:  # perhaps only a busy machine: once more, alone
                backstopped.append((student_dir, submission_fingerprint))
                return
            if again:
                result.flags.append(REGRADED_ALONE)
                result.reason = "; ".join(result.flags)
            results[student_dir.name] = _finished(result, submission_fingerprint, ledger, shown)

        def admitted(student_dir: Path, submission_fingerprint: str):
            prepared = batch.preflight(student_dir)
            if prepared is None:
                verdict = submissions_log.admit(assignment, student_dir.name, submission_fingerprint,
                                                submission_time(batch.submitted(student_dir)))
                prepared = batch.prepare(student_dir, verdict.attempt) if verdict.graded else \
                    _refused(student_dir.name, verdict, ledger, batch.cells)
            return prepared

        for student_dir, submission_fingerprint in pending:
            prepared = _alone(student_dir.name, batch.cells, admitted, student_dir, submission_fingerprint)
            if isinstance(prepared, SubmissionResult):
                results[student_dir.name] = _finished(prepared, submission_fingerprint, ledger, shown)
                continue
            submit(student_dir, submission_fingerprint, prepared)
            for done in running.next_batch(block=False):  # record what finished while preparing
                record(done)
        for future in running or []:
            record(future)
        for student_dir, submission_fingerprint in backstopped:  # after the batch, one at a time
            prepared = batch.prepare(student_dir, batch.attempts.get(student_dir.name, 0))
            if isinstance(prepared, SubmissionResult):
                results[student_dir.name] = _finished(prepared, submission_fingerprint, ledger, shown)
                continue
            submit(student_dir, submission_fingerprint, prepared)
            for future in running:
                record(future, again=True)
    ordered = [results[name] for name in sorted(results)]
    grades_csv = reports.write_grades_csv(ordered, output / "grades.csv")
    return GradingRun(assignment, output, ordered, grades_csv)


def _alone(student: str, cells, step, *arguments):
    """``step(*arguments)`` for one student: whatever it raises fails that student alone, with the
    reason, and the batch goes on (a rerun then skips the failed submission until it changes)."""
    try:
        return step(*arguments)
    except Exception as error:
        return _ungraded(student, "failed", f"the grader failed on this submission: {type(error).__name__}: {clip(error)}",
                         cells)


REGRADED_ALONE = ("graded a second time, alone, after the batch: the wall-clock backstop had stopped its first run "
                  "(a busy grading machine can be the cause); these are the second run's points")


def _set_due_date(db_url: str, assignment: str, policy: Grading) -> None:
    """The assignment's due date (c.Grading.due_dates) in the gradebook, where nbgrader's late
    penalties (AssignLatePenalties) count from."""
    due = policy.due_dates.get(assignment)
    if due:
        with Gradebook(db_url) as gradebook:
            gradebook.update_or_create_assignment(assignment, duedate=parse_utc(due))


def _refused(student: str, verdict, ledger: Ledger, cells: list[tuple[str, float]]) -> SubmissionResult:
    """A submission over the limits: the grade of the student's last graded submission stands."""
    recorded = ledger.finished.get(student)
    previous = recorded[1].cells if recorded else [CellScore(grade_id, 0.0, points) for grade_id, points in cells]
    return SubmissionResult(student, "refused", verdict.reason, previous, attempt=verdict.attempt)


def _finished(result: SubmissionResult, submission_fingerprint: str, ledger: Ledger, shown: Progress) -> SubmissionResult:
    ledger.record(result, submission_fingerprint)
    shown.finish(result)
    return result


def course_limits(course: Course, **overrides) -> Limits:
    """The limits nbgrader_config.py sets (``c.SandboxedExecute``), with the ``overrides`` that are not None."""
    configured = SandboxedExecute(config=course.nbgrader_config()).limits
    return dataclasses.replace(configured, **{name: value for name, value in overrides.items() if value is not None})


def _limit(config, limits: Limits, run_directory: Path, allow_missing_limits: bool) -> None:
    """Hand ``limits`` to the sandboxed execution step of nbgrader's autograde."""
    execute = config.SandboxedExecute
    execute.run_directory, execute.allow_missing_limits = str(run_directory), allow_missing_limits
    for field in dataclasses.fields(Limits):  # the step's traits are named after the fields
        setattr(execute, field.name, getattr(limits, field.name))


@dataclasses.dataclass
class _Batch:
    """What the grading process does for each submission, before and after a worker executes it."""

    course: Course
    assignment: str
    config: object

    @property
    def root(self) -> Path:
        return Path(self.config.CourseDirectory.root)

    @functools.cached_property
    def needs_gpu(self) -> bool:
        return self.assignment in Dispatch(config=self.config).gpu_assignments

    attempts: dict[str, int] = dataclasses.field(default_factory=dict)
    """student -> which of their graded submissions is being graded now."""

    @functools.cached_property
    def cells(self) -> list[tuple[str, float]]:
        return self.course.grade_cells(self.assignment)

    def preflight(self, student_dir: Path) -> SubmissionResult | None:
        """The trusted checks of the student's files (copied into nbgrader's submitted/ folder), or
        the student's result if they are rejected."""
        submitted = self.submitted(student_dir)
        shutil.rmtree(submitted, ignore_errors=True)
        try:
            preflight.prepare(self.course.notebook_names(self.assignment), self.assignment,
                              student_dir / self.assignment, submitted)
        except SubmissionError as error:
            return _ungraded(student_dir.name, "rejected", str(error), self.cells)
        return None

    def submitted(self, student_dir: Path) -> Path:
        """Where preflight puts the checked copy of the student's files (nbgrader's submitted/)."""
        return self.root / "submitted" / student_dir.name / self.assignment

    def prepare(self, student_dir: Path, attempt: int):
        """nbgrader's autograde of the preflighted submission up to execution: {notebook: its run
        folder's files} for a worker, or the student's result if nbgrader fails."""
        student = student_dir.name
        self.attempts[student] = attempt
        for path in self._records(student):  # a record left by an earlier, interrupted run must not be read as this one's
            path.unlink(missing_ok=True)
        config = copy.deepcopy(self.config)
        config.SandboxedExecute.prepare_only = True
        config.Autograde.autograde_preprocessors = [SandboxedExecute]
        try:
            _nbgrader(Autograde, self.course, self.assignment, config, student=student, create_student=True)
        except BuildError as error:
            return _ungraded(student, "failed", clip(str(error).strip().splitlines()[-1], 500), self.cells, attempt=attempt)
        return {name: {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}
                for name, folder in self._run_folders(student).items()}

    def record(self, student: str, future) -> SubmissionResult:
        """The worker's executions, graded by nbgrader's autograde in this process; feedback."""
        try:
            executions = future.result()
        except Exception as error:  # the worker could not run it: this student alone fails
            return _ungraded(student, "failed", f"a worker could not execute the notebooks: {type(error).__name__}: "
                                                f"{clip(error)}", self.cells)
        for name, folder in self._run_folders(student).items():
            store_execution(folder, name, executions[name])
        try:
            _nbgrader(Autograde, self.course, self.assignment, self.config, student=student, create_student=True)
            records = [json.loads(path.read_text()) for path in self._records(student) if path.exists()]
            if len(records) != len(self._run_folders(student)):
                return _ungraded(student, "failed", "nbgrader autograde did not run every notebook", self.cells)
            flags = [flag for record in records for flag in record["flags"]]
            stopped_by_wall_clock = any(r["stopped_by_wall_clock"] for r in records)
            result = SubmissionResult(
                student, "timed out" if stopped_by_wall_clock else "graded", "; ".join(flags),
                _scores(self.assignment, student, self.config.CourseDirectory.db_url, self.cells), flags=flags,
                wall_seconds=sum(r["wall_seconds"] for r in records), cpu_seconds=sum(r["cpu_seconds"] for r in records),
                peak_memory_mb=max(r["peak_memory_mb"] for r in records), stopped_by_wall_clock=stopped_by_wall_clock,
                device=", ".join(sorted({r["device"] for r in records})),
                worker=", ".join(sorted({r["worker"] for r in records})), attempt=self.attempts.get(student, 0))
            _nbgrader(GenerateFeedback, self.course, self.assignment, self.config, student=student)
        except BuildError as error:
            return _ungraded(student, "failed", clip(str(error).strip().splitlines()[-1], 500), self.cells)
        result.feedback = self.root / "feedback" / student / self.assignment
        return result

    def _run_folders(self, student: str) -> dict[str, Path]:
        runs = Path(self.config.SandboxedExecute.run_directory) / student
        return {Path(name).stem: runs / Path(name).stem for name in self.course.notebook_names(self.assignment)}

    def _records(self, student: str) -> list[Path]:
        return [record_path(folder) for folder in self._run_folders(student).values()]


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

def validate(course: Course, assignments=None, allow_missing_limits: bool = False) -> list[ValidationResult]:
    """Grade each source notebook (must earn full marks) and each committed student version
    (must earn 0 on every graded cell)."""
    results = []
    for assignment in course.assignments(assignments):
        with tempfile.TemporaryDirectory(prefix=f"autograder-validate-{assignment}-") as scratch:
            scratch = Path(scratch)
            for student, folder in (("solution", course.source_dir), ("untouched", course.release_dir)):
                shutil.copytree(folder / assignment, scratch / "submitted" / student / assignment)
            run = grade(course, assignment, scratch / "submitted", scratch / "grading",
                        allow_missing_limits=allow_missing_limits)
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
