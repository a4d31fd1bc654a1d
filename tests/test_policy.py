"""The grading policy: late penalties, and limits on how often a student's submissions are graded
(so that the held-out metrics cannot be read as an oracle)."""

import datetime

import pytest

from autograder import api
from autograder.nbgrader_plugins import LatePenaltyPerDay
from autograder.policy import Grading, SubmissionLog
from conftest import TINY, answered, submit, tiny_course_at

DAY = 86400
T0 = datetime.datetime(2026, 1, 10, 12, 0)


def log(tmp_path, **limits) -> SubmissionLog:
    return SubmissionLog(f"sqlite:///{tmp_path / 'gradebook.db'}", Grading(**limits))


@pytest.mark.parametrize("seconds_late, penalty", [(1, 0.4), (DAY, 0.4), (DAY + 1, 0.8), (30 * DAY, 4.0)])
def test_a_late_notebook_loses_a_tenth_of_its_score_per_started_day(seconds_late, penalty):
    assert LatePenaltyPerDay(percent_per_day=10).late_submission_penalty("ann", 4.0, seconds_late) == pytest.approx(penalty)


def test_submissions_past_the_limit_are_refused_and_recorded(tmp_path):
    submissions = log(tmp_path, max_submissions=2)
    assert submissions.admit("01", "ann", "a", T0).attempt == 1
    assert submissions.admit("01", "ann", "b", T0 + datetime.timedelta(hours=1)).attempt == 2
    refused = submissions.admit("01", "ann", "c", T0 + datetime.timedelta(hours=2))
    assert (refused.graded, refused.attempt) == (False, 2)
    assert refused.reason == ("refused: 01 allows 2 graded submissions (c.Grading.max_submissions) and this is number 3; "
                              "the grade of the last one stands")
    assert submissions.admit("01", "ann", "b", T0).graded, "regrading a graded submission is not a new one"
    assert submissions.admit("01", "bob", "a", T0).graded and submissions.admit("02", "ann", "z", T0).graded
    assert log(tmp_path).attempts("01") == {"ann": (2, 1), "bob": (1, 0)}, "the counts live in the gradebook"


def test_a_submission_sooner_than_the_least_interval_is_refused_with_the_time_it_opens(tmp_path):
    submissions = log(tmp_path, min_interval_minutes=60)
    submissions.admit("01", "ann", "a", T0)
    early = submissions.admit("01", "ann", "b", T0 + datetime.timedelta(minutes=59))
    assert not early.graded and "the next is accepted from 2026-01-10 13:00 UTC" in early.reason
    assert submissions.admit("01", "ann", "c", T0 + datetime.timedelta(minutes=61)).graded


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_submission_over_the_limit_keeps_the_last_grade_and_the_report_shows_it(tmp_path):
    course = tiny_course_at(tmp_path)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write("c.Grading.max_submissions = 1\n")
    output = course.root / "grading" / TINY
    submitted = submit(course, "ann", answered(course, "def add(a, b):\n    return a + b"))
    submit(course, "bob", answered(course, "def add(a, b):\n    return a - b"))
    api.grade(TINY, submitted, output=output, course_root=course.root)
    submit(course, "ann", answered(course, "def add(a, b):\n    return b + a"))  # a second, changed submission
    rerun = {r.student: r for r in api.grade(TINY, submitted, output=output, course_root=course.root).results}
    assert (rerun["ann"].status, rerun["ann"].score, rerun["ann"].attempt) == ("refused", 4, 1)
    assert rerun["ann"].reason.startswith(f"refused: {TINY} allows 1 graded submission (c.Grading.max_submissions)")
    assert (rerun["bob"].status, rerun["bob"].attempt) == ("graded", 1), "an unchanged submission is not graded again"
    page = api.report(TINY, course_root=course.root)[0].read_text()
    assert "at most 1 graded submissions per student" in page and "allows 1 graded submission" in page
