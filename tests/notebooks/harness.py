"""Score many variants of an instructor notebook against one kernel that ran it once.

A variant is a few text edits to the notebook: a plausible wrong solution, or a different but
correct one. Executing each from scratch would retrain every model for every variant, so the
reference notebook runs once and each variant re-executes only what it changes:

- ``rerun="graded"``: its edited cells, then every graded cell; afterwards the original edited
  cells run again, restoring the reference's definitions. For mistakes that the graded cells
  catch directly (a function, a layer, a callback).
- ``rerun="rest"``: from its first edited cell to the end (mistakes that change training).
  These run after the others, latest edit first, so that every cell before a variant's first
  edit still holds the reference's state when the variant starts.

Graded cells are scored as nbgrader scores them: an error, or stderr output other than
TensorFlow's own noise, gives 0 points.
"""

import contextlib
import csv
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.utils import determine_grade, is_grade

from autograder import pipeline
from autograder.execution import grading_environment
from autograder.nbgrader_plugins import TENSORFLOW_STDERR_NOISE


@dataclass(frozen=True)
class Variant:
    edits: tuple[tuple[str, str], ...]
    """(old, new) text replacements; each old text must occur exactly once in the notebook."""
    lost: frozenset[str] = frozenset()
    """The graded cells this variant must lose, and no others."""
    rerun: str = "graded"
    """'graded' or 'rest' (see the module docstring)."""


class ReferenceKernel:
    def __init__(self, notebook_path: Path, timeout_s: int = 1200):
        # nbclient writes every executed cell back into the notebook it runs, so the reference
        # cells are kept apart from it.
        self.cells = nbformat.read(notebook_path, as_version=4).cells
        self.client = NotebookClient(nbformat.read(notebook_path, as_version=4), timeout=timeout_s,
                                     allow_errors=True, resources={"metadata": {"path": str(notebook_path.parent)}})
        self.graded = [i for i, cell in enumerate(self.cells) if is_grade(cell) and cell.cell_type == "code"]

    @contextlib.contextmanager
    def running(self):
        """Start the kernel and execute the reference notebook once."""
        with self.client.setup_kernel(env=grading_environment()):
            self.reference_scores = self._scores({i: self._execute(i) for i in self._code_cells(0)})
            yield self

    def score(self, variants: dict[str, Variant]) -> dict[str, dict[str, float]]:
        """Points per graded cell for each variant."""
        order = sorted(variants, key=lambda name: (variants[name].rerun == "rest",
                                                   -min(self._edited(variants[name])), name))
        return {name: self._score_one(variants[name]) for name in order}

    def _score_one(self, variant: Variant) -> dict[str, float]:
        edited = self._edited(variant)
        if variant.rerun == "rest":
            to_run = self._code_cells(min(edited))
        else:
            to_run = sorted(edited)
        executed = {i: self._execute(i, edited.get(i)) for i in to_run}
        executed.update({i: self._execute(i) for i in self.graded if i not in executed})
        if variant.rerun == "graded":
            for i in sorted(edited):
                self._execute(i)  # restore the reference definitions
        return self._scores(executed)

    def _edited(self, variant: Variant) -> dict[int, str]:
        sources = {}
        for old, new in variant.edits:
            matches = [i for i, cell in enumerate(self.cells) if old in sources.get(i, cell.source)]
            assert len(matches) == 1 and self.cells[matches[0]].source.count(old) == 1, (
                f"edit does not match exactly once: {old!r}")
            i = matches[0]
            sources[i] = sources.get(i, self.cells[i].source).replace(old, new)
        return sources

    def _code_cells(self, start: int) -> list[int]:
        return [i for i in range(start, len(self.cells)) if self.cells[i].cell_type == "code"]

    def _execute(self, index: int, source: str | None = None):
        cell = nbformat.from_dict(self.cells[index])
        cell.source = self.cells[index].source if source is None else source
        cell.outputs = []
        self.client.execute_cell(cell, index)
        return cell

    def _scores(self, executed: dict) -> dict[str, float]:
        scores = {}
        for i in self.graded:
            cell = executed[i]
            cell.outputs = [output for output in cell.outputs
                            if not (output.output_type == "stream" and output.name == "stderr"
                                    and re.search(TENSORFLOW_STDERR_NOISE, output.text))]
            scores[cell.metadata.nbgrader.grade_id] = float(determine_grade(cell)[0])
        return scores


def score_variants(notebook_path: Path, variants: dict[str, Variant]) -> dict[str, dict[str, float]]:
    """Points per graded cell of the reference notebook (as "reference") and of every variant."""
    kernel = ReferenceKernel(notebook_path)
    with kernel.running():
        return {"reference": kernel.reference_scores, **kernel.score(variants)}


def lost_cells(scores: dict[str, float], max_points: dict[str, float]) -> set[str]:
    return {grade_id for grade_id, points in scores.items() if points < max_points[grade_id]}


def grade_untouched_student_version(course, assignment: str, scratch: Path):
    """The committed student version, submitted unchanged and graded by `autograder grade`."""
    submitted = scratch / "submitted" / "untouched" / assignment
    shutil.copytree(course.release_dir / assignment, submitted)
    [result] = pipeline.grade(course, assignment, scratch / "submitted", scratch / "grading").results
    return result


def run_demo(assignment: str, output: Path) -> tuple[dict[str, dict[str, str]], str]:
    """`autograder demo ASSIGNMENT` as a user runs it: grades.csv rows by student, and stdout."""
    completed = subprocess.run([sys.executable, "-m", "autograder.cli", "demo", assignment, "--output", str(output)],
                               cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    [grades] = output.glob("*/grading/grades.csv")
    with open(grades) as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}, completed.stdout
