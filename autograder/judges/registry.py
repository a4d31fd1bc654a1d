"""Judges: for each graded cell, its hidden inputs and what the evidence of its collector is worth.

A judges module (one per assignment, beside the assignment's `coursekit.checks` module) registers
each judge for its grade id, the one place besides the notebook's metadata that names it:

    @judge("test_split", checks.hand_in_split, draw=split_inputs)
    def judge_split(inputs, evidence) -> str | None: ...

For every grading run the grader draws each judge's inputs anew (`hand_out`), from a seed the
student cannot know in advance, and puts them in the notebook's folder; the notebook's collector
runs the student's code on them and exports the evidence; the judge, in the grader's process,
compares it with what the reference code computes from the same inputs (`Judge.judge`).
"""

import math
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit import evidence as evidence_files

from .. import exports

ACCURACY_STEP = 0.01
"""Held-out accuracies are shown to the nearest percentage point (tens of items on the course's
held-out sets of thousands; `Rounded`)."""
MEASUREMENTS: dict[str, float] = {}
"""What the judges measured (name -> value), for threshold calibration (`tools/calibrate.py`)."""


def record(name: str, value: float, shown_to: float | None = None, significant: int | None = None) -> float:
    """Remember a measurement and return it; with ``shown_to``, a figure measured on held-out
    answers, returned as `Rounded` (compared exactly, shown rounded to that step, and to
    ``significant`` digits where that is coarser)."""
    MEASUREMENTS[name] = float(value)
    return Rounded(value, shown_to, significant) if shown_to else float(value)


class Rounded(float):
    """A figure measured on held-out answers: compared exactly, but shown (formatted, printed)
    only to the nearest ``step``, so that feedback is no oracle. A probe submission (one extreme
    prediction among constant ones) reads an answer from the change in a metric; to the nearest
    step, that change hides it (`tests/test_feedback_oracle.py` measures the best probe). Sums,
    differences and multiples stay rounded, to the coarser step."""

    def __new__(cls, value: float, step: float, significant: int | None = None):
        rounded = super().__new__(cls, value)
        digits = math.floor(math.log10(abs(value))) + 1 - significant if significant and value else None
        rounded.step = max(float(step), 10.0 ** digits) if digits is not None else float(step)
        return rounded

    @property
    def shown(self) -> float:
        return round(float(self) / self.step) * self.step

    def __format__(self, spec: str) -> str:
        return format(self.shown, spec)

    def __str__(self) -> str:
        return str(self.shown)

    __repr__ = __str__

    def _combined(self, other, value: float) -> "Rounded":
        return Rounded(value, max(self.step, getattr(other, "step", 0.0)))

    def __add__(self, other):
        return self._combined(other, float(self) + float(other))

    def __sub__(self, other):
        return self._combined(other, float(self) - float(other))

    def __rsub__(self, other):
        return self._combined(other, float(other) - float(self))

    def __neg__(self):
        return Rounded(-float(self), self.step)

    def __abs__(self):
        return Rounded(abs(float(self)), self.step)

    def __mul__(self, factor):
        return Rounded(float(self) * float(factor), self.step * abs(float(factor)))

    def __truediv__(self, divisor):
        return Rounded(float(self) / float(divisor), self.step / abs(float(divisor)))

    __radd__, __rmul__ = __add__, __mul__


@dataclass(frozen=True)
class Judge:
    grade_id: str
    collector: str
    """Name of the `coursekit` collector whose inputs it draws and whose evidence it judges."""
    verdict: Callable[[dict, dict], str | None]
    """(inputs, evidence) -> what it measured (or None); AssertionError naming the likely mistake."""
    draw: Callable[[np.random.Generator], dict] | None = None
    """The hidden inputs (plain arrays) from a generator seeded anew for each grading run; None
    where the judge needs none (it measures held-out data)."""

    def judge(self, inputs: dict, evidence: dict) -> str | None:
        """The verdict on ``evidence``, which came from the student's kernel: any error judging it
        (a missing or misshapen array) fails the check as an ExportError."""
        try:
            return self.verdict(inputs, evidence)
        except AssertionError:
            raise
        except Exception as error:
            raise exports.ExportError(f"the exported arrays cannot be judged ({type(error).__name__}: {error})") from error


JUDGES: dict[str, dict[str, Judge]] = {}
"""{assignment: {grade_id: judge}}, filled as judges modules are imported."""


def held_out_order(count: Callable[[], int]) -> Callable[[np.random.Generator], dict]:
    """A draw for a held-out judge: the order, new each run, in which the notebook's collector
    predicts the ``count()`` held-out items (``inputs["order"]``). Predictions made in another run,
    or a classmate's, do not fit it; the judge reads the answers in the same order."""
    return lambda rng: {"order": rng.permutation(count())}


def judge(grade_id: str, collector, draw: Callable | None = None):
    """Register the decorated ``verdict(inputs, evidence)`` as the judge of ``grade_id`` in the
    assignment its module names (``ASSIGNMENT``), judging the evidence of ``collector`` (a
    `coursekit.evidence.collector`, or the name a hidden test saves its evidence under)."""
    def register(verdict):
        assignment = sys.modules[verdict.__module__].ASSIGNMENT
        judges = JUDGES.setdefault(assignment, {})
        if grade_id in judges:
            raise ValueError(f"{assignment}: {grade_id} has two judges ({judges[grade_id].verdict.__name__}, {verdict.__name__})")
        judges[grade_id] = Judge(grade_id, collector if isinstance(collector, str) else collector.__name__, verdict, draw)
        return verdict
    return register


def judges_of(assignment: str) -> dict[str, Judge]:
    """The judges of ``assignment``'s graded cells, by grade id (the course's are imported on first use)."""
    import autograder.judges  # noqa: F401 (registers the course's judges)
    return JUDGES.get(assignment, {})


def hand_out(assignment: str, folder: Path, kept: Path, seed: int | None = None) -> int:
    """Draw the hidden inputs of every judge of ``assignment`` for one run, from ``seed`` (default: a
    fresh secret one, returned): into ``folder/inputs/`` for the notebook, and the grader's own copy
    into ``kept``, which the notebook cannot change."""
    seed = secrets.randbits(64) if seed is None else seed
    for index, judge_ in enumerate(sorted(judges_of(assignment).values(), key=lambda judge_: judge_.grade_id)):
        write_inputs(judge_, drawn_inputs(judge_, np.random.default_rng([seed, index])), [folder / evidence_files.INPUTS, kept])
    token = secrets.token_hex(16)
    for place in (folder / evidence_files.INPUTS, kept):
        Path(place).mkdir(parents=True, exist_ok=True)
        (Path(place) / evidence_files.RUN_TOKEN).write_text(token)
    return seed


def drawn_inputs(judge_: Judge, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``judge_``'s hidden inputs from ``rng``, as plain arrays (none for a judge of held-out data)."""
    return evidence_files.as_arrays(judge_.draw(rng) if judge_.draw else {})


def write_inputs(judge_: Judge, inputs: dict, folders) -> None:
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)
        np.savez(Path(folder) / f"{judge_.collector}.npz", **inputs)


def kept_token(kept: Path) -> str:
    """The token `hand_out` gave the run, which each of its exports must carry."""
    return (kept / evidence_files.RUN_TOKEN).read_text()


def kept_inputs(kept: Path, judge_: Judge) -> dict[str, np.ndarray]:
    """The grader's copy of the inputs `hand_out` drew for ``judge_``."""
    return evidence_files.load(kept / f"{judge_.collector}.npz")


def in_kernel(assignment: str, collector: str):
    """For a collector outside a grading run (an instructor's own kernel, with the full data): inputs
    drawn now and the judge's verdict on the evidence, shown in the cell."""
    [judge_] = [j for j in judges_of(assignment).values() if j.collector == collector]
    inputs = drawn_inputs(judge_, np.random.default_rng())
    return inputs, lambda evidence: judge_.judge(inputs, evidence)
