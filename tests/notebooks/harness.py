"""Score many variants of an instructor notebook against one kernel that ran it once.

A variant is a few text edits to the notebook: a plausible wrong solution, or a different but
correct one. Executing each from scratch would retrain every model for every variant, so the
reference notebook runs once and each variant re-executes only what it changes:

- ``rerun="graded"``: its edited cells, then every graded cell that uses a name the edits
  define, directly or through a function or class that uses one (`names_of`); afterwards the
  original edited cells run again, restoring the reference's definitions. For mistakes that the
  graded cells catch directly (a function, a layer, a callback).
- ``rerun="rest"``: from its first edited cell to the last graded cell (mistakes that change
  training; what comes after the last graded cell cannot change a grade), and the earlier graded
  cells that use a name the edits define. These run after the others, latest edit first, so that
  every cell before a variant's first edit still holds the reference's state when the variant
  starts.

A graded cell that a variant does not rerun keeps the reference's score.

Graded cells are scored as the grader scores them: the kernel gets hidden inputs drawn for this
run (`judges.hand_out`), an error or stderr output other than TensorFlow's own noise gives 0
points, and so does a cell whose exported evidence the grader's judge (`autograder.judges`) fails.

`AssignmentSuite` holds the slow tests every assignment gets; a test module subclasses it with
its wrong solutions and a different correct one.
"""

import ast
import contextlib
import hashlib
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.utils import determine_grade, is_grade

from autograder import exports, pipeline
from autograder.course import Course
from autograder.execution import grading_environment
from autograder.judges import hand_out, judges_of, kept_inputs
from autograder.nbgrader_plugins import HIDDEN_TEST_FAILED, TENSORFLOW_STDERR_NOISE


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
        self.folder = notebook_path.parent
        self.judges = judges_of(self.folder.name)
        self.seed = secrets.randbits(32)
        """The hidden inputs' seed, shown by a failing test."""
        self.kept = Path(tempfile.mkdtemp(prefix="autograder-harness-inputs-"))
        self.verdicts = {}  # (grade_id, evidence digest) -> the grader's failure message, or None
        self.cells = nbformat.read(notebook_path, as_version=4).cells
        self.client = NotebookClient(nbformat.read(notebook_path, as_version=4), timeout=timeout_s,
                                     allow_errors=True, resources={"metadata": {"path": str(notebook_path.parent)}})
        self.graded = [i for i, cell in enumerate(self.cells) if is_grade(cell) and cell.cell_type == "code"]
        self.names = {i: names_of(self.cells[i].source) for i in self._code_cells(0)}

    @contextlib.contextmanager
    def running(self):
        """Hand out hidden inputs, start the kernel and execute the reference notebook once."""
        hand_out(self.folder.name, self.folder, self.kept, self.seed)
        try:
            with self.client.setup_kernel(env=grading_environment()):
                self.reference_scores, _ = self._scores({i: self._execute(i) for i in self._code_cells(0)})
                yield self
        finally:
            shutil.rmtree(self.kept, ignore_errors=True)

    def score(self, variants: dict[str, Variant]) -> dict[str, tuple[dict[str, float], dict[str, str]]]:
        """Points per graded cell for each variant, and what each lost cell shows first."""
        order = sorted(variants, key=lambda name: (variants[name].rerun == "rest",
                                                   -min(self._edited(variants[name])), name))
        return {name: self._score_one(variants[name]) for name in order}

    def _score_one(self, variant: Variant) -> tuple[dict[str, float], dict[str, str]]:
        edited = self._edited(variant)
        if variant.rerun == "rest":
            to_run = [i for i in self._code_cells(min(edited)) if i <= self.graded[-1]]
        else:
            to_run = sorted(edited)
        executed = {i: self._execute(i, edited.get(i)) for i in to_run}
        affected = self._affected(edited)
        executed.update({i: self._execute(i) for i in self.graded if i not in executed and self._uses(i, affected)})
        if variant.rerun == "graded":
            for i in sorted(edited):
                self._execute(i)  # restore the reference definitions
        return self._scores(executed)

    def _affected(self, edited: dict[int, str]) -> set[str]:
        """The names whose values the edits can change: those the edited cells define, and those of
        every cell that uses one of them (a function defined there looks the edited name up when called)."""
        affected = set().union(*(names_of(source)[0] | self.names[i][0] for i, source in edited.items()))
        while True:
            grown = affected.union(*(self.names[i][0] for i in self.names if self._uses(i, affected)))
            if grown == affected:
                return affected
            affected = grown

    def _uses(self, index: int, names: set[str]) -> bool:
        used = self.names[index][1]
        return ANY in used or bool(used & names)

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

    def _scores(self, executed: dict) -> tuple[dict[str, float], dict[str, str]]:
        """Points per graded cell: of its run in ``executed``, or else the reference's; and what each
        lost cell shows the student first (its error's message, or the judge's)."""
        scores, diagnoses = {}, {}
        for i in self.graded:
            grade_id = self.cells[i].metadata.nbgrader.grade_id
            if i not in executed:
                scores[grade_id] = self.reference_scores[grade_id]
                continue
            cell = executed[i]
            cell.outputs = [output for output in cell.outputs
                            if not (output.output_type == "stream" and output.name == "stderr"
                                    and re.search(TENSORFLOW_STDERR_NOISE, output.text))]
            scores[grade_id] = float(determine_grade(cell)[0])
            errors = [f"{output.ename}: {output.evalue}" for output in cell.outputs if output.output_type == "error"]
            if scores[grade_id] == cell.metadata.nbgrader.points and self._grader_failure(grade_id):
                scores[grade_id] = 0.0
                errors = [f"{HIDDEN_TEST_FAILED}: {self._grader_failure(grade_id)}"]
            if scores[grade_id] < cell.metadata.nbgrader.points:
                diagnoses[grade_id] = errors[0] if errors else ""
        return scores, diagnoses

    def _grader_failure(self, grade_id: str) -> str | None:
        """What the grader's judge says against the cell's export (None: it passes). An export judged
        before, as after every variant that does not touch it, is not judged again."""
        judge = self.judges[grade_id]
        try:
            arrays = exports.load(self.folder, judge.collector)
        except exports.ExportError as error:
            return str(error)
        digest = hashlib.sha256(repr(sorted((name, array.dtype.str, array.shape) for name, array in arrays.items())).encode())
        for name in sorted(arrays):
            digest.update(arrays[name].tobytes())
        key = (grade_id, digest.hexdigest())
        if key not in self.verdicts:
            try:
                judge.judge(kept_inputs(self.kept, judge), arrays)
                self.verdicts[key] = None
            except (AssertionError, exports.ExportError) as error:
                self.verdicts[key] = str(error)
        return self.verdicts[key]


ANY = "*"


def names_of(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds, names it reads), anywhere in it (function bodies included). A cell
    Python cannot parse (IPython syntax) counts as reading every name."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), {ANY}
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return defined, used


def score_variants(notebook_path: Path, variants: dict[str, Variant]):
    """Points per graded cell of the reference notebook (as "reference") and of every variant, what
    each variant's lost cells show first, and the seed of the hidden inputs they were graded on."""
    kernel = ReferenceKernel(notebook_path)
    with kernel.running():
        graded = kernel.score(variants)
        return ({"reference": kernel.reference_scores, **{name: scores for name, (scores, _) in graded.items()}},
                {name: diagnoses for name, (_, diagnoses) in graded.items()}, kernel.seed)


def lost_cells(scores: dict[str, float], max_points: dict[str, float]) -> set[str]:
    return {grade_id for grade_id, points in scores.items() if points < max_points[grade_id]}


class AssignmentSuite:
    """The reference earns full marks and the student version nothing; each wrong solution loses
    exactly the cells that should catch it, and a different correct solution loses none.

    Subclass it as ``Test<Assignment>`` and set the three class attributes below.
    """

    pytestmark = [pytest.mark.slow]
    course = Course.find(__file__)
    assignment: str
    wrong_solutions: dict[str, Variant]
    different_but_correct: Variant

    def pytest_generate_tests(self, metafunc):
        if "wrong_solution" in metafunc.fixturenames:
            metafunc.parametrize("wrong_solution", sorted(self.wrong_solutions))

    @property
    def max_points(self) -> dict[str, float]:
        return dict(self.course.grade_cells(self.assignment))

    @pytest.fixture(scope="class")
    def graded_variants(self):
        """The reference notebook runs once; each variant re-runs only what it changes."""
        variants = {**self.wrong_solutions, "different-but-correct": self.different_but_correct}
        return score_variants(self.course.source_dir / self.assignment / f"{self.assignment}.ipynb", variants)

    def test_the_reference_solution_earns_full_marks(self, graded_variants):
        scores, _, seed = graded_variants
        assert scores["reference"] == self.max_points, f"hidden inputs seed {seed}"

    def test_a_wrong_solution_loses_exactly_the_cells_that_should_catch_it_and_says_why(self, graded_variants,
                                                                                     wrong_solution):
        scores, diagnoses, seed = graded_variants
        assert lost_cells(scores[wrong_solution], self.max_points) == self.wrong_solutions[wrong_solution].lost, (
            f"hidden inputs seed {seed}")
        for cell, shown in diagnoses[wrong_solution].items():
            assert re.fullmatch(r"\w+: \S.{20,}", shown, re.S), f"{cell} shows the student no diagnosis: {shown!r}"

    def test_a_different_but_correct_solution_earns_full_marks(self, graded_variants):
        scores, _, seed = graded_variants
        assert scores["different-but-correct"] == self.max_points, f"hidden inputs seed {seed}"

    @pytest.mark.sandbox
    def test_the_untouched_student_version_earns_nothing(self, tmp_path):
        """The committed student version, submitted unchanged and graded by `autograder grade`."""
        shutil.copytree(self.course.release_dir / self.assignment, tmp_path / "submitted" / "untouched" / self.assignment)
        [result] = pipeline.grade(self.course, self.assignment, tmp_path / "submitted", tmp_path / "grading").results
        assert (result.status, result.score, result.max_score) == ("graded", 0, sum(self.max_points.values()))
