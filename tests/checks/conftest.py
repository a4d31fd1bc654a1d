import sys
from pathlib import Path

import pytest

import numpy as np

from autograder import exports
from autograder.judges import judges_of
from autograder.judges.registry import drawn_inputs, write_inputs
from coursekit.evidence import INPUTS


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """Collectors read hidden inputs from, and export evidence into, the working folder (as a graded
    notebook's do)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hidden_test():
    """``hidden_test(collector, *student_objects, seed=0)``: a hidden test as grading runs it. The
    grader hands out the collector's hidden inputs drawn from ``seed``, the collector runs the
    student's objects on them and exports the evidence, and the judge returns its verdict or raises
    AssertionError."""
    def run(collector, *student_objects, seed: int = 0):
        assignment = sys.modules[collector.__module__].ASSIGNMENT
        [judge] = [judge for judge in judges_of(assignment).values() if judge.collector == collector.__name__]
        inputs = drawn_inputs(judge, np.random.default_rng(seed))
        write_inputs(judge, inputs, [Path.cwd() / INPUTS])
        collector(*student_objects)
        return judge.judge(inputs, exports.load(Path.cwd(), judge.collector))
    return run


@pytest.fixture
def both_fail(hidden_test):
    """``both_fail(visible, collector, *student_objects, match=...)``: the visible check (``visible()``)
    and the hidden test of the same mistake both fail, with the same diagnosis."""
    def run(visible, collector, *student_objects, match: str):
        with pytest.raises(AssertionError, match=match):
            visible()
        with pytest.raises(AssertionError, match=match):
            hidden_test(collector, *student_objects)
    return run
