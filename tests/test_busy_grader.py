"""Does a busy grading machine cost a correct student points? Notebooks are limited by the CPU
time they use, not by the wall clock, so the reference of the most training-heavy assignment keeps
full marks while other processes keep every core busy."""

import contextlib
import os
import shutil
import subprocess
import sys

import pytest

from autograder import pipeline
from autograder.course import Course
from conftest import report_figures

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ASSIGNMENT = "07_contrastive_learning"


@contextlib.contextmanager
def every_core_busy():
    """One busy loop per core this process may use, for as long as the block runs."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    try:
        yield len(loops)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def test_the_reference_keeps_full_marks_while_every_core_is_busy(tmp_path):
    course = Course.find(__file__)
    shutil.copytree(course.solution_dir / ASSIGNMENT, tmp_path / "submitted" / "reference" / ASSIGNMENT)
    with every_core_busy() as loops:
        run = pipeline.grade(course, ASSIGNMENT, tmp_path / "submitted", tmp_path / "grading")
    [result] = run.results
    limits = pipeline.course_limits(course)
    report_figures(f"busy grader: {ASSIGNMENT} reference graded beside {loops} busy loops: "
                   f"{result.score:g}/{result.max_score:g}, wall {result.wall_seconds:.0f} s, CPU {result.cpu_seconds:.0f} s "
                   f"(limits: {limits.cell_cpu_s:g} CPU-s a cell, {limits.notebook_cpu_s:g} a notebook)")
    assert (result.status, result.score, result.flags) == ("graded", result.max_score, [])
