"""Grades into the LMS: the roster from each LMS's own export, and grade files that each LMS's
importer reads as intended. The importers below follow the rules written down in autograder/lms.py;
the exports come from a batch graded here (tiny course: a late submission, a student missing
from the roster, a roster student who submitted nothing)."""

import csv
import dataclasses
import re

import pytest

from autograder import api
from autograder.errors import CourseError
from autograder.roster import load_roster, write_roster
from conftest import TINY, answered, submit, tiny_course_at

CORRECT, WRONG = "def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b"
DUE = "2026-01-10 12:00:00 UTC"

@pytest.fixture
def course_folder(tmp_path):
    """A course folder (the roster needs no assignment)."""
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "source").mkdir()
    return tmp_path


CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (5521),Current Score
    Points Possible,,,,,10,(read only)
"Lovelace, Ada",101,S-1,ann,Mon,9,90
"Babbage, Charles",102,S-2,bob,Tue,,
"Somerville, Mary",103,S-3,cat,Mon,,
"Noether, Emmy",104,S-4,eve,Tue,,
"Student, Test",999,,,Mon,,
"""
MOODLE_EXPORT = """First name;Last name;ID number;Institution;Department;Email address
Ada;Lovelace;S-1;Uni;CS;ann@uni.edu
Charles;Babbage;S-2;Uni;CS;bob@uni.edu
"""
GRADESCOPE_EXPORT = """Name,SID,Email,Role
Ada Lovelace,S-1,ann@uni.edu,Student
Grace Hopper,,grace@uni.edu,TA
"""


def test_a_canvas_gradebook_export_becomes_the_roster_without_the_points_row_or_the_test_student(course_folder, tmp_path):
    (tmp_path / "canvas.csv").write_text(CANVAS_EXPORT)
    students = api.import_roster(tmp_path / "canvas.csv", course_root=course_folder)
    assert [s.student_id for s in students] == ["ann", "bob", "cat", "eve"]
    ann = load_roster(course_folder)["ann"]
    assert (ann.name, ann.sortable_name, ann.lms_id, ann.sis_user_id, ann.section) == (
        "Ada Lovelace", "Lovelace, Ada", "101", "S-1", "Mon")


def test_a_moodle_export_keyed_by_email_and_a_gradescope_roster_of_students_only(course_folder, tmp_path):
    (tmp_path / "moodle.csv").write_text(MOODLE_EXPORT)
    assert [s.student_id for s in api.import_roster(tmp_path / "moodle.csv", course_root=course_folder)] == [
        "ann@uni.edu", "bob@uni.edu"]
    (tmp_path / "gradescope.csv").write_text(GRADESCOPE_EXPORT)
    [ada] = api.import_roster(tmp_path / "gradescope.csv", id_column="SID", course_root=course_folder)
    assert (ada.student_id, ada.first_name, ada.last_name, ada.email) == ("S-1", "Ada", "Lovelace", "ann@uni.edu")


def test_duplicate_and_missing_ids_stop_the_import_naming_each(course_folder, tmp_path):
    (tmp_path / "canvas.csv").write_text(CANVAS_EXPORT.replace(",S-2,bob,", ",S-2,ann,").replace(",S-4,eve,", ",S-4,,"))
    with pytest.raises(CourseError, match=r"was not imported: line 6 \(Noether, Emmy, 104, S-4\) has no SIS Login ID; "
                                          r"ann is the id of 2 students: Ada Lovelace, Charles Babbage$"):
        api.import_roster(tmp_path / "canvas.csv", course_root=course_folder)
    assert not (course_folder / "roster.csv").exists()


def test_a_roster_from_an_unknown_lms_asks_for_the_format(course_folder, tmp_path):
    (tmp_path / "other.csv").write_text("who,points\nann,3\n")
    with pytest.raises(CourseError, match=r"cannot tell which LMS made this roster \(columns: who, points\); pass --format"):
        api.import_roster(tmp_path / "other.csv", course_root=course_folder)


# --- exports of a graded batch ------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ann on time, bob wrong, cat correct but 30 hours late, dan missing from the roster; eve,
    on the roster, submitted nothing. Late penalty: 10% of the score per started day."""
    course = tiny_course_at(tmp_path_factory.mktemp("lms"))
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"c.Grading.due_dates = {{{TINY!r}: {DUE!r}}}\nc.Export.canvas_ids = {{{TINY!r}: 5521}}\n"
                     f"c.Export.titles = {{{TINY!r}: 'Homework 1'}}\n")
    for student, source, stamp in (("ann", CORRECT, "2026-01-09 10:00:00 UTC"), ("bob", WRONG, None),
                                   ("cat", CORRECT, "2026-01-11 18:00:00 UTC"), ("dan", CORRECT, None)):
        submitted = submit(course, student, answered(course, source))
        if stamp:
            (submitted / student / TINY / "timestamp.txt").write_text(stamp)
    api.grade(TINY, submitted, output=course.root / "grading" / TINY, course_root=course.root)
    (course.root / "canvas.csv").write_text(CANVAS_EXPORT)
    api.import_roster(course.root / "canvas.csv", course_root=course.root)
    return course


def with_emails(course, **emails) -> None:
    """The Canvas roster (which has no email addresses) with these students' emails."""
    api.import_roster(course.root / "canvas.csv", course_root=course.root)
    students = load_roster(course.root)
    write_roster([dataclasses.replace(student, email=emails.get(name, "")) for name, student in students.items()],
                 course.root / "roster.csv")


def canvas_import(path, users: dict[str, dict]) -> tuple[dict, list, dict]:
    """Canvas' gradebook import: (grades by Canvas user id and assignment id, unknown rows, points)."""
    text = path.read_text()
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header = rows[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assignments = [re.fullmatch(r"(.+) \((\d+)\)", column).group(2) for column in header[5:]]
    grades, unknown, points = {}, [], {}
    for row in rows[1:]:
        if row[0].strip() == "Points Possible":
            points = dict(zip(assignments, map(float, row[5:])))
            continue
        by = {"ID": row[1], "SIS User ID": row[2], "SIS Login ID": row[3]}
        match = next((user for key in by if by[key] for user, fields in users.items() if fields.get(key) == by[key]), None)
        if match is None:
            unknown.append(row[0])
            continue
        grades[match] = {assignment: float(cell) for assignment, cell in zip(assignments, row[5:]) if cell != ""}
    return grades, unknown, points


CANVAS_USERS = {"101": {"ID": "101", "SIS Login ID": "ann"}, "102": {"ID": "102", "SIS Login ID": "bob"},
                "103": {"ID": "103", "SIS Login ID": "cat"}, "104": {"ID": "104", "SIS Login ID": "eve"}}


@pytest.mark.slow
@pytest.mark.sandbox
def test_canvas_imports_the_late_penalised_grades_of_every_roster_student_and_nobody_else(graded):
    result = api.export_grades("canvas", course_root=graded.root)
    assert (result.unknown, result.skipped, result.students) == (["dan"], [], 4)
    grades, unknown, points = canvas_import(result.path, CANVAS_USERS)
    assert (unknown, points) == ([], {"5521": 4.0})
    assert grades == {"101": {"5521": 4.0}, "102": {"5521": 0.0}, "103": {"5521": 3.2}, "104": {}}, (
        "cat is 30 hours late: two started days, 20% of 4 points")


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_semicolon_canvas_file_without_the_points_row(graded):
    with open(graded.root / "nbgrader_config.py", "a") as config:
        config.write("c.Export.delimiter = ';'\nc.Export.canvas_points_possible = False\n")
    try:
        result = api.export_grades("canvas", output=graded.root / "semicolon.csv", course_root=graded.root)
    finally:
        text = (graded.root / "nbgrader_config.py").read_text()
        (graded.root / "nbgrader_config.py").write_text(text.rsplit("c.Export.delimiter", 1)[0])
    assert result.path.read_text().splitlines()[1] == "Lovelace, Ada;101;S-1;ann;Mon;4", "no Points Possible row"
    grades, _, points = canvas_import(result.path, CANVAS_USERS)
    assert points == {} and grades["103"] == {"5521": 3.2}


@pytest.mark.slow
@pytest.mark.sandbox
def test_moodle_imports_the_whole_file_because_every_row_names_a_known_user(graded):
    with_emails(graded)
    result = api.export_grades("moodle", course_root=graded.root)
    assert result.skipped == ["ann", "bob", "cat", "eve"], "the Canvas roster has no email addresses to match on"
    with_emails(graded, ann="ann@uni.edu", cat="cat@uni.edu")
    result = api.export_grades("moodle", course_root=graded.root)
    assert result.skipped == ["bob", "eve"]
    with open(result.path) as stream:
        rows = list(csv.DictReader(stream))
    known = {"ann@uni.edu", "cat@uni.edu"}
    assert all(row["Email address"] in known for row in rows), "Moodle aborts the whole import on an unknown user"
    assert [(row["Email address"], row["Homework 1"], row["Homework 1 (feedback)"]) for row in rows] == [
        ("ann@uni.edu", "4", "4 of 4 points"), ("cat@uni.edu", "3.2", "3.2 of 4 points after a late penalty of 0.8")]


@pytest.mark.slow
@pytest.mark.sandbox
def test_gradescope_and_the_kit_s_own_csv(graded):
    with_emails(graded, ann="ann@uni.edu")
    result = api.export_grades("gradescope", course_root=graded.root)
    with open(result.path) as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["First Name", "Last Name", "SID", "Email", "Homework 1"]
    assert [(row["Email"], row["Homework 1"]) for row in rows] == [("ann@uni.edu", "4")]
    result = api.export_grades("csv", course_root=graded.root)
    with open(result.path) as stream:
        rows = {row["student_id"]: row for row in csv.DictReader(stream)}
    assert (rows["cat"][TINY], rows["cat"][f"{TINY} late penalty"], rows["eve"][TINY]) == ("3.2", "0.8", "")
