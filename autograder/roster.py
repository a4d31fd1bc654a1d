"""The course roster: who each nbgrader student id is in the LMS (`autograder roster import`).

nbgrader knows students by the id of their submission folder (on JupyterHub, their login). The
LMS knows them by its own ids. `import_roster` reads the LMS's own roster export and writes the
course's ``roster.csv`` (the columns of `Student`), which the grade exports read:

- Canvas: the gradebook export (Grades > Export): ``Student`` ("Last, First"), ``ID``, ``SIS User
  ID``, ``SIS Login ID``, ``Section``; its "Points Possible" row and Canvas' "Test Student" are
  skipped. nbgrader id: the SIS Login ID.
- Moodle: the participants or grade export: ``First name``, ``Last name``, ``ID number``, ``Email
  address`` and, where exported, ``Username``. nbgrader id: the username, else the email address.
- Gradescope: the roster download: ``First Name``, ``Last Name`` (or ``Name``), ``SID``,
  ``Email``, ``Role`` (only students are kept). nbgrader id: the email address.
- csv: this kit's own columns.

``--id-column`` names another column for the nbgrader id. A row without one, or two rows with the
same one, stop the import with their names: nothing is dropped silently.
"""

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .errors import CourseError

ROSTER_FILE = "roster.csv"


@dataclass(frozen=True)
class Student:
    student_id: str
    """The nbgrader id (the submission folder's name)."""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_id: str = ""
    """The LMS's own user id (Canvas: ID)."""
    sis_user_id: str = ""
    """The institution's id (Canvas: SIS User ID; Moodle: ID number; Gradescope: SID)."""
    sis_login_id: str = ""
    """The login (Canvas: SIS Login ID; Moodle: username)."""
    section: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def sortable_name(self) -> str:
        return ", ".join(part for part in (self.last_name, self.first_name) if part)


FIELDS = [field.name for field in dataclasses.fields(Student)]
# Per LMS: {its column: our field}, and the column that holds the nbgrader id by default.
FORMATS = {
    "canvas": ({"ID": "lms_id", "SIS User ID": "sis_user_id", "SIS Login ID": "sis_login_id", "Section": "section"},
               "SIS Login ID"),
    "moodle": ({"First name": "first_name", "Last name": "last_name", "ID number": "sis_user_id",
                "Email address": "email", "Username": "sis_login_id"}, "Username"),
    "gradescope": ({"First Name": "first_name", "Last Name": "last_name", "SID": "sis_user_id", "Email": "email"}, "Email"),
    "csv": ({field: field for field in FIELDS}, "student_id"),
}
_SIGNATURES = {"canvas": {"Student", "SIS Login ID"}, "moodle": {"First name", "Email address"},
               "gradescope": {"Email", "SID"}, "csv": {"student_id"}}


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of an LMS's CSV export (comma or semicolon separated; a UTF-8 byte-order mark is ignored)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [{key.strip(): (value or "").strip() for key, value in row.items() if key}
            for row in csv.DictReader(text.splitlines(), dialect=dialect)]


def detect_format(columns) -> str:
    found = [name for name, signature in _SIGNATURES.items() if signature <= set(columns)]
    if not found:
        raise CourseError(f"cannot tell which LMS made this roster (columns: {', '.join(columns)}); "
                          f"pass --format {'|'.join(FORMATS)}")
    return found[0]


def import_roster(path: Path, course_root: Path, lms: str | None = None, id_column: str | None = None) -> list[Student]:
    """Read the LMS roster export at ``path`` and write the course's roster.csv; CourseError names
    rows without an nbgrader id and ids that appear twice."""
    rows = read_rows(path)
    if not rows:
        raise CourseError(f"{path} holds no students")
    lms = lms or detect_format(rows[0])
    columns, default_id = FORMATS[lms]
    id_column = id_column or (default_id if default_id in rows[0] else "Email address" if lms == "moodle" else default_id)
    if id_column not in rows[0]:
        raise CourseError(f"{path} has no column {id_column!r} for the nbgrader ids (it has {', '.join(rows[0])}); "
                          "name the right one with --id-column")
    students, problems = [], []
    for line, row in enumerate(rows, start=2):
        if not _is_student(lms, row):
            continue
        fields = {field: row[column] for column, field in columns.items() if row.get(column)}
        fields |= _names(lms, row)
        fields["student_id"] = row[id_column]
        if not fields["student_id"]:
            problems.append(f"line {line} ({_describe(row)}) has no {id_column}")
            continue
        students.append(Student(**fields))
    seen = {}
    for student in students:
        seen.setdefault(student.student_id, []).append(student.name or student.email)
    problems += [f"{student_id} is the id of {len(names)} students: {', '.join(names)}"
                 for student_id, names in seen.items() if len(names) > 1]
    if problems:
        raise CourseError(f"the roster in {path} was not imported: " + "; ".join(problems))
    write_roster(students, course_root / ROSTER_FILE)
    return students


def _is_student(lms: str, row: dict) -> bool:
    if lms == "canvas":  # the "Points Possible" row, and the Test Student of Canvas' student view
        return not row.get("Student", "").startswith("Points Possible") and row.get("Student") != "Student, Test"
    if lms == "gradescope" and row.get("Role"):
        return row["Role"].lower() == "student"
    return True


def _names(lms: str, row: dict) -> dict:
    if lms == "canvas":
        last, _, first = row.get("Student", "").partition(", ")
        return {"first_name": first, "last_name": last}
    if lms == "gradescope" and "Name" in row and "First Name" not in row:
        first, _, last = row["Name"].partition(" ")
        return {"first_name": first, "last_name": last}
    return {}


def _describe(row: dict) -> str:
    return ", ".join(value for value in list(row.values())[:3] if value) or "an empty row"


def write_roster(students: list[Student], path: Path) -> Path:
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, FIELDS)
        writer.writeheader()
        for student in sorted(students, key=lambda student: student.student_id):
            writer.writerow(dataclasses.asdict(student))
    return path


def load_roster(course_root: Path) -> dict[str, Student]:
    """The course's roster by nbgrader id; CourseError if none was imported."""
    path = Path(course_root) / ROSTER_FILE
    if not path.exists():
        raise CourseError(f"no roster in {path.parent}: import the LMS's roster first (autograder roster import FILE)")
    return {row["student_id"]: Student(**{field: row.get(field, "") for field in FIELDS}) for row in read_rows(path)}
