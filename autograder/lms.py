"""Grades into the LMS (`autograder export`): each assignment's gradebook, late penalties applied,
with the course roster's identities, in the format the LMS imports.

The rules of each importer, which the files follow (tests/test_lms.py reads them back by these rules):

- **Canvas** (Grades > Import): the first columns are ``Student``, ``ID``, ``SIS User ID``, ``SIS
  Login ID`` and ``Section``; Canvas matches a row to a student by ``ID``, else ``SIS User ID``,
  else ``SIS Login ID``. Every further column is an assignment: ``Title (123)`` updates the
  assignment with Canvas id 123, a bare title creates a new assignment. An optional second row
  whose ``Student`` cell reads ``Points Possible`` gives each assignment's points. Comma or
  semicolon separated. An empty cell leaves that grade alone; a row Canvas cannot match is listed
  as unknown and skipped.
- **Moodle** (Grades > Import > CSV file): one header row; the instructor maps one column to the
  user field it holds (``idnumber``, ``email`` or ``username``), each grade column to a grade item
  and, optionally, a feedback column to that item's feedback. ``-`` or an empty cell is no grade.
  A row whose user Moodle cannot find, or whose user cell is empty, aborts the whole import, so no
  such row is ever written.
- **Gradescope** (a roster-style CSV: ``First Name``, ``Last Name``, ``SID``, ``Email``): students
  are matched by ``Email``, which must be unique; one column of points per assignment.
- **csv**: this kit's own columns, for a spreadsheet.

A student graded but missing from the roster is never written (Canvas would skip the row, Moodle
would abort): they are returned, and printed, by name. A roster student with no graded submission
gets an empty cell (no grade).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from traitlets import Bool, Dict, Unicode
from traitlets.config import Configurable

from .errors import CourseError
from .roster import Student

FORMATS = ("canvas", "moodle", "gradescope", "csv")
MOODLE_IDENTITIES = {"useridnumber": ("ID number", "sis_user_id"), "useremail": ("Email address", "email"),
                     "username": ("Username", "sis_login_id")}


class Export(Configurable):
    """How grades are named in the LMS (``c.Export`` in nbgrader_config.py)."""

    titles = Dict(help="assignment -> its title in the LMS (default: the assignment's folder name)").tag(config=True)
    canvas_ids = Dict(help="assignment -> the Canvas assignment id its grades update").tag(config=True)
    delimiter = Unicode(",", help="Field separator of Canvas and Moodle files: ',' or ';'").tag(config=True)
    canvas_points_possible = Bool(True, help="Write Canvas' optional Points Possible row").tag(config=True)
    moodle_identity = Unicode("useremail", help="The user field Moodle matches rows on: "
                                                "useridnumber, useremail or username").tag(config=True)


@dataclass(frozen=True)
class Grade:
    score: float
    """Points after the late penalty."""
    max_score: float
    late_penalty: float


@dataclass(frozen=True)
class ExportResult:
    path: Path
    students: int
    """Roster students written."""
    unknown: list[str]
    """Graded students missing from the roster (not written)."""
    skipped: list[str]
    """Roster students left out because the LMS could not match them (no identity)."""


def read_grades(db_url: str, assignment: str) -> tuple[dict[str, Grade], float]:
    """{student: grade} of ``assignment`` in a gradebook, and its points possible."""
    with Gradebook(db_url) as gradebook:
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(f"the gradebook {db_url} has no grades of {assignment}: grade it first") from None
        grades = {}
        for submission in found.submissions:
            penalty = float(submission.late_submission_penalty or 0)
            grades[submission.student.id] = Grade(max(0.0, float(submission.score) - penalty), float(submission.max_score), penalty)
        return grades, float(found.max_score)


def export(lms: str, assignments: list[str], gradebooks: dict[str, str], roster: dict[str, Student], output: Path,
           settings: Export) -> ExportResult:
    """Write ``assignments``' grades (``gradebooks``: assignment -> its gradebook's URL) for the
    students of ``roster`` in ``lms``'s import format to ``output``."""
    if lms not in FORMATS:
        raise CourseError(f"unknown LMS format {lms!r}; choose one of {', '.join(FORMATS)}")
    read = {assignment: read_grades(gradebooks[assignment], assignment) for assignment in assignments}
    unknown = sorted({student for grades, _ in read.values() for student in grades} - roster.keys())
    writer = {"canvas": _canvas, "moodle": _moodle, "gradescope": _gradescope, "csv": _csv}[lms]
    titles = {assignment: settings.titles.get(assignment, assignment) for assignment in assignments}
    skipped = writer(output, read, titles, [roster[student] for student in sorted(roster)], settings)
    return ExportResult(output, len(roster) - len(skipped), unknown, skipped)


def _cell(grade: Grade | None) -> str:
    return "" if grade is None else f"{grade.score:g}"


def _canvas(output, read, titles, students, settings) -> list[str]:
    columns = [f"{titles[a]} ({settings.canvas_ids[a]})" if a in settings.canvas_ids else titles[a] for a in read]
    skipped = [s.student_id for s in students if not (s.lms_id or s.sis_user_id or s.sis_login_id)]
    with open(output, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=settings.delimiter)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns])
        if settings.canvas_points_possible:
            writer.writerow(["Points Possible", "", "", "", "", *(f"{points:g}" for _, points in read.values())])
        for s in students:
            if s.student_id not in skipped:
                writer.writerow([s.sortable_name, s.lms_id, s.sis_user_id, s.sis_login_id, s.section,
                                 *(_cell(grades.get(s.student_id)) for grades, _ in read.values())])
    return skipped


def _moodle(output, read, titles, students, settings) -> list[str]:
    if settings.moodle_identity not in MOODLE_IDENTITIES:
        raise CourseError(f"c.Export.moodle_identity is {settings.moodle_identity!r}; choose one of "
                          f"{', '.join(MOODLE_IDENTITIES)}")
    column, field = MOODLE_IDENTITIES[settings.moodle_identity]
    skipped = [s.student_id for s in students if not getattr(s, field)]
    with open(output, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=settings.delimiter)
        writer.writerow([column, *(part for a in read for part in (titles[a], f"{titles[a]} (feedback)"))])
        for s in students:
            if s.student_id in skipped:
                continue
            cells = []
            for grades, points in read.values():
                grade = grades.get(s.student_id)
                cells += [_cell(grade), "" if grade is None else f"{grade.score:g} of {points:g} points"
                          + (f" after a late penalty of {grade.late_penalty:g}" if grade.late_penalty else "")]
            writer.writerow([getattr(s, field), *cells])
    return skipped


def _gradescope(output, read, titles, students, settings) -> list[str]:
    skipped = [s.student_id for s in students if not s.email]
    with open(output, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["First Name", "Last Name", "SID", "Email", *(titles[a] for a in read)])
        for s in students:
            if s.student_id not in skipped:
                writer.writerow([s.first_name, s.last_name, s.sis_user_id, s.email,
                                 *(_cell(grades.get(s.student_id)) for grades, _ in read.values())])
    return skipped


def _csv(output, read, titles, students, settings) -> list[str]:
    with open(output, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student_id", "name", "email", "section",
                         *(part for a in read for part in (a, f"{a} max", f"{a} late penalty"))])
        for s in students:
            cells = []
            for grades, points in read.values():
                grade = grades.get(s.student_id)
                cells += [_cell(grade), f"{points:g}", "" if grade is None else f"{grade.late_penalty:g}"]
            writer.writerow([s.student_id, s.name, s.email, s.section, *cells])
    return []
