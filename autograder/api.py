"""The kit's public functions; the `autograder` command calls exactly these."""

from pathlib import Path

import nbformat

from . import data, demo as samples, pipeline, release as releases, report_page, roster, similarity as copying
from .course import Course
from .dispatch import Workers
from .errors import CourseError
from .lms import Export, ExportResult, export
from .policy import Grading
from .results import BuildResult, GradingRun, ReleaseResult, ValidationResult
from .sandbox import Protection, protections

__all__ = ["fetch_data", "verify_data", "build", "validate", "release", "grade", "report", "demo", "doctor",
           "import_roster", "export_grades", "similarity"]


def fetch_data(mirror: str | None = None) -> list[data.FetchResult]:
    """Fill the course data folder from ``mirror`` (a folder or http(s) address), else from
    $COURSE_DATA_MIRROR, else from each file's public download address."""
    return data.fetch(mirror=mirror)


def verify_data() -> list[str]:
    """Check the sha256 of every course data file; raise naming each missing or corrupt one."""
    return data.verify()


def build(assignments=None, check: bool = False, course_root=None) -> list[BuildResult]:
    """Generate assignments/ and solutions/ from source/ (``check``: only report stale files)."""
    return pipeline.build(Course.find(course_root), assignments, check)


def validate(assignments=None, allow_missing_limits: bool = False, course_root=None) -> list[ValidationResult]:
    """Every source notebook must earn full marks; every untouched student version 0 (graded
    sandboxed, as `grade` does: refused where a limit cannot be enforced, unless ``allow_missing_limits``)."""
    return pipeline.validate(Course.find(course_root), assignments, allow_missing_limits)


def release(assignments=None, output=None, data_mirror=None, data_url: str | None = None,
            course_root=None) -> ReleaseResult:
    """Write the student bundle (student notebooks, the students' wheel, pinned requirements, a
    README) of ``assignments`` (default: all) into ``output`` (default: release/ in the course
    folder), and with ``data_mirror`` a folder of the students' data (the course data without the
    held-out answers) to publish at ``data_url``. Refused if the bundle would hold hidden tests,
    solutions, the grader's code or held-out answers."""
    return releases.release(Course.find(course_root), assignments, output, data_mirror, data_url)


def grade(assignment: str, submissions, db_url: str | None = None, output=None,
          timeout_s: float | None = None, memory_mb: int | None = None,
          allow_missing_limits: bool = False, regrade: bool = False, workers: int = 1, cluster=None,
          course_root=None) -> GradingRun:
    """Autograde ``submissions/<student>/<assignment>/``, each notebook sandboxed under limits
    (the course's, with ``timeout_s`` as the notebook's wall-clock backstop and ``memory_mb``
    where given; refused where a limit cannot be enforced, unless ``allow_missing_limits``) on ``workers``
    local processes, or on an existing Dask cluster (``cluster``: its scheduler's address or a
    connected ``distributed.Client``); write grades.csv
    and HTML feedback into ``output`` (default: grading/<assignment>/ in the course folder). A
    rerun into the same output grades only new or changed submissions, unless ``regrade``."""
    course = Course.find(course_root)
    [assignment] = course.assignments([assignment])
    output = Path(output) if output else course.root / "grading" / assignment
    limits = pipeline.course_limits(course, notebook_timeout_s=timeout_s, memory_mb=memory_mb)
    with Workers(workers, cluster) as pool:
        return pipeline.grade(course, assignment, Path(submissions), output, db_url, limits, allow_missing_limits,
                              regrade, workers=pool)


def report(assignment: str, output=None, course_root=None) -> tuple[Path, Path]:
    """report.html and report.csv for the instructor, in the grading ``output`` folder of
    ``assignment`` (default: grading/<assignment>/ in the course folder)."""
    course = Course.find(course_root)
    [assignment] = course.assignments([assignment])
    output = Path(output) if output else course.root / "grading" / assignment
    return report_page.write_report(output, assignment, _similar_pairs(course, assignment, output),
                                    Grading(config=course.nbgrader_config()))


def import_roster(file, lms: str | None = None, id_column: str | None = None, course_root=None) -> list[roster.Student]:
    """Read the LMS's roster export ``file`` (``lms``: canvas, moodle, gradescope or csv; default:
    told by its columns) into the course's roster.csv; ``id_column`` holds the nbgrader ids."""
    return roster.import_roster(Path(file), Course.find(course_root).root, lms, id_column)


def export_grades(lms: str, assignments=None, output=None, grading=None, db_url: str | None = None,
                  course_root=None) -> ExportResult:
    """The grades of ``assignments`` (default: all), late penalties applied, for the roster's
    students in ``lms``'s import format (canvas, moodle, gradescope or csv), written to ``output``
    (default: grading/<lms>-grades.csv). Gradebooks: ``db_url`` for all, else each assignment's in
    ``grading``/<assignment>/ (default: the course's grading/ folder)."""
    course = Course.find(course_root)
    assignments = course.assignments(assignments)
    grading = Path(grading) if grading else course.root / "grading"
    gradebooks = {assignment: db_url or f"sqlite:///{grading / assignment / 'gradebook.db'}" for assignment in assignments}
    output = Path(output) if output else grading / f"{lms}-grades.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    return export(lms, assignments, gradebooks, roster.load_roster(course.root), output,
                  Export(config=course.nbgrader_config()))


def similarity(assignment: str, output=None, course_root=None) -> copying.Similarity:
    """Every pair of the submissions graded into ``output`` (default: grading/<assignment>/), most
    similar code first (also written to similarity.csv there), and the pairs whose runs exported
    identical evidence, most identical arrays first (identical_evidence.csv)."""
    course = Course.find(course_root)
    [assignment] = course.assignments([assignment])
    output = Path(output) if output else course.root / "grading" / assignment
    pairs = _similar_pairs(course, assignment, output)
    copying.write_similarity_csv(pairs, output / "similarity.csv")
    identical = copying.identical_evidence(output / "runs")
    copying.write_identical_csv(identical, output / "identical_evidence.csv")
    return copying.Similarity(pairs, identical)


def _similar_pairs(course: Course, assignment: str, output: Path) -> list[copying.SimilarPair]:
    submitted = output / "submitted"
    if not submitted.is_dir():
        raise CourseError(f"{output} holds no graded submissions of {assignment}: grade them first")
    given = {name: nbformat.read(course.release_dir / assignment / name, as_version=4)
             for name in course.notebook_names(assignment)}
    return copying.similar_pairs(submitted, assignment, given)


def demo(assignments=None, output=None, allow_missing_limits: bool = False, course_root=None) -> list[GradingRun]:
    """Build, then grade the sample submissions of each assignment (default: all) into
    ``output`` (default: demo/ in the course folder), as `grade` does."""
    course = Course.find(course_root)
    output = Path(output) if output else course.root / "demo"
    pipeline.build(course, assignments)
    runs = []
    for assignment in course.assignments(assignments):
        submitted = samples.write_sample_submissions(course, assignment, output / assignment / "submitted")
        runs.append(pipeline.grade(course, assignment, submitted, output / assignment / "grading", regrade=True,
                                   allow_missing_limits=allow_missing_limits))
    return runs


def doctor(cluster=None) -> dict[str, list[Protection]]:
    """What each place that would run notebooks enforces: this machine, and with ``cluster`` (a Dask
    scheduler's address or a connected ``distributed.Client``) each of its workers."""
    places = {"this machine": protections()}
    if cluster is not None:
        with Workers(cluster=cluster) as pool:
            places |= {f"worker {address}": found for address, found in pool.client.run(protections).items()}
    return places
