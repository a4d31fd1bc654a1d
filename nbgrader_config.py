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
# Per-cell limit; `autograder grade --timeout` limits the whole notebook.
c.SandboxedExecute.cell_timeout_s = 600
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
# a student who may resubmit without limit can read the held-out metrics as an oracle.
c.Grading.max_submissions = 0
c.Grading.min_interval_minutes = 0
