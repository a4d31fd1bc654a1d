"""nbgrader configuration of the course (read by nbgrader and by `autograder`)."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput, GetGrades,
    IgnorePattern, IncludeHeaderFooter, LimitOutput, LockCells, SaveAutoGrades,
)

from autograder.nbgrader_plugins import (
    TENSORFLOW_STDERR_NOISE, LatePenaltyPerDay, RedactHiddenTests, SandboxedExecute, StderrCostsNothing, TrustedRecheck,
)

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "keras-course"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.solution_directory = "solutions"
# Folders that notebooks write while they run (assignment 4's Embedding Projector files, the
# hidden tests' inputs and evidence) are never released with an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "projector", "exports", "inputs"]

# The solution version is not executed at build time (fast, byte-stable, no outputs) and, like
# the student version, carries no hidden tests.
c.GenerateSolution.preprocessors = [
    IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme, ClearHiddenTests,
]

# TensorFlow's own stderr chatter must not zero a graded cell.
c.IgnorePattern.pattern = TENSORFLOW_STDERR_NOISE

# Feedback shows hidden tests' verdicts, not their source.
c.GenerateFeedback.preprocessors = [GetGrades, RedactHiddenTests, CSSHTMLHeaderPreprocessor]

# Autograding runs each notebook in a sandbox under limits (autograder/sandbox.py) instead of
# nbgrader's Execute, lets correct code log to stderr, and judges the hidden tests' evidence outside the kernel.
c.Autograde.autograde_preprocessors = [
    SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, StderrCostsNothing,
    TrustedRecheck, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
# Graded cells a student deleted come back from the gradebook.
c.OverwriteCells.add_missing_cells = True
# Limits of each notebook's run (autograder/sandbox.py, `Limits`). Time is CPU time: every process
# of the run together, so a busy grading machine slows a notebook down without costing it points.
# The kernel's math libraries (TensorFlow, OpenMP, OpenBLAS) run on kernel_threads threads, so a
# notebook uses about the same CPU time on a 2-core and a 64-core grader. Measured on 2 cores: the
# heaviest reference notebooks use ~330 s (05) and ~290 s (07) of CPU time in all, and ~250 s (05)
# in their heaviest cell, so the limits leave a slower correct solution 4-7 times the reference's.
c.SandboxedExecute.notebook_cpu_s = 2400  # CPU seconds for the whole notebook
c.SandboxedExecute.cell_cpu_s = 1200      # CPU seconds for one cell (an infinite loop stops here)
c.SandboxedExecute.kernel_threads = 2
# Wall-clock backstops, for a notebook that waits instead of computing (a sleep, a blocked read). A
# run they stop is flagged and graded once more, alone, after the batch. `autograder grade --timeout`
# overrides the notebook's.
c.SandboxedExecute.notebook_timeout_s = 5400
c.SandboxedExecute.cell_timeout_s = 2400
# Memory of the whole run (the kernel is killed past it), processes and threads, the largest file
# it may write, and the files of its folder together (and again its /tmp).
c.SandboxedExecute.memory_mb = 8192
c.SandboxedExecute.processes = 1024
c.SandboxedExecute.file_bytes = 256 * 2**20
c.SandboxedExecute.disk_mb = 1024
# Assignments whose notebooks run only on workers with a GPU (one notebook per GPU at a time);
# every assignment of this course trains in minutes on a CPU.
c.Dispatch.gpu_assignments = []
# Every graded cell's hidden test hands the evidence of the student's code on hidden inputs, drawn
# anew for each run, to its judge (registered beside the assignment's checks in
# autograder/judges/), which TrustedRecheck runs in the grader's process.

# Due dates ({assignment: "2026-12-01 23:59:00 Europe/Berlin"}): a notebook collected later (nbgrader's
# timestamp.txt) loses percent_per_day of its score per started day, before any export to the LMS.
c.Grading.due_dates = {}
c.AssignLatePenalties.plugin_class = LatePenaltyPerDay
c.LatePenaltyPerDay.percent_per_day = 10
# Graded submissions per student and assignment (0: any number), and the least time between two:
# a student who may resubmit without limit can read the held-out metrics as an oracle (feedback
# rounds them, so each submission tells little; many would tell more).
c.Grading.max_submissions = 5
c.Grading.min_interval_minutes = 0
