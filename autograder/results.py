"""What grading and validation return."""

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CellScore:
    grade_id: str
    """nbgrader id of the graded cell."""
    points: float
    max_points: float


@dataclass
class SubmissionResult:
    student: str
    status: str
    """'graded'; 'timed out' (graded, but a wall-clock backstop stopped it, in its second run alone
    after the batch too: cells that did not run earn nothing); 'rejected' (preflight refused the files); 'failed' (nbgrader could not
    grade it); 'refused' (over the submission limits: the points are the last graded submission's)."""
    reason: str = ""
    """Why it was not graded, or its flags joined; empty for a clean run."""
    cells: list[CellScore] = field(default_factory=list)
    """Points per graded cell in notebook order (all zero unless graded)."""
    flags: list[str] = field(default_factory=list)
    """What the grader noticed for an instructor to look at: every limit the run hit (CPU time,
    wall clock, memory, processes) with the figure measured, a test that passed in the kernel but
    left no evidence the grader's judge can read, a second run after a wall-clock backstop."""
    wall_seconds: float = 0.0
    """Time to execute and score the notebook."""
    cpu_seconds: float = 0.0
    """CPU time of the notebook's run (every process of it together)."""
    stopped_by_wall_clock: bool = False
    """A wall-clock backstop stopped the run (the whole notebook's, or a cell's)."""
    peak_memory_mb: float = 0.0
    """Peak resident memory of the kernel (largest process of the grading run)."""
    device: str = ""
    """What the kernel could compute on: 'CPU' or 'GPU: <name>'."""
    worker: str = ""
    """The machine the notebook ran on (and the GPU it could use)."""
    feedback: Path | None = None
    """Folder of HTML feedback, one page per notebook (hidden-test source redacted), when graded."""
    attempt: int = 0
    """Which of the student's graded submissions of the assignment this is (1 for the first; 0
    where the grader kept no count, as for a rejected one)."""

    @property
    def score(self) -> float:
        return sum(cell.points for cell in self.cells)

    @property
    def max_score(self) -> float:
        return sum(cell.max_points for cell in self.cells)


@dataclass
class GradingRun:
    assignment: str
    output_dir: Path
    """nbgrader root of this run: submitted/, autograded/, feedback/, runs/ (each notebook's sandbox
    folder, log and record), ledger.jsonl, grades.csv."""
    results: list[SubmissionResult]
    grades_csv: Path


@dataclass
class ValidationResult:
    assignment: str
    solution: SubmissionResult
    """The instructor source notebook graded as a submission: must earn full marks."""
    untouched: SubmissionResult
    """The unedited student version: must earn 0 on every graded cell."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class BuildResult:
    assignment: str
    changed: list[Path]
    """Generated files that differ from the committed ones (written unless checking)."""


@dataclass(frozen=True)
class ReleaseResult:
    bundle: Path
    """Folder of the student bundle."""
    wheel: Path
    """The students' wheel in it."""
    assignments: list[str]
    bundle_bytes: int
    data_mirror: Path | None
    """The students' data mirror, if one was written."""
    data_bytes: int
    data_files: int
