"""nbgrader configuration of the course (read by nbgrader and by `autograder`)."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput, GetGrades,
    IgnorePattern, IncludeHeaderFooter, LimitOutput, LockCells, SaveAutoGrades,
)

from autograder.nbgrader_plugins import (
    TENSORFLOW_STDERR_NOISE, RedactHiddenTests, SandboxedExecute, StderrCostsNothing, TrustedRecheck,
)

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "keras-course"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.solution_directory = "solutions"
# Folders that notebooks write while they run (assignment 4's Embedding Projector files, the
# hidden tests' exports for the grader) are never released with an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "projector", "exports"]

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
# nbgrader's Execute, lets correct code log to stderr, and recomputes checks outside the kernel.
c.Autograde.autograde_preprocessors = [
    SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, StderrCostsNothing,
    TrustedRecheck, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
# Graded cells a student deleted come back from the gradebook.
c.OverwriteCells.add_missing_cells = True
# Per-cell limit; `autograder grade --timeout` limits the whole notebook.
c.SandboxedExecute.cell_timeout_s = 600
# Checks that need the held-out answers, which graded notebooks cannot read (autograder/data/view.py):
# the hidden tests export predictions (assignment 5: the model's weights) and the grader judges them.
c.TrustedRecheck.held_out_checks = {
    "01_regression_baselines": {
        "test_held_out_ranking": "autograder.checks.regression:judge_ranking",
        "test_mlp_threshold": "autograder.checks.regression:judge_mlp_threshold",
    },
    "02_mnist_dropout": {
        "test_dropout_narrows_the_gap": "autograder.checks.dropout:judge_gap",
        "test_test_accuracy": "autograder.checks.dropout:judge_test_accuracy",
    },
    "03_transfer_learning": {
        "test_held_out_accuracy": "autograder.checks.transfer:judge_held_out_accuracy",
        "test_transfer_beats_scratch": "autograder.checks.transfer:judge_transfer_beats_scratch",
        "test_fine_tuning_keeps_accuracy": "autograder.checks.transfer:judge_fine_tuning_keeps_accuracy",
    },
    "04_imdb_embeddings": {
        "test_test_accuracy": "autograder.checks.embeddings:judge_test_accuracy",
    },
    "05_shakespeare_lstm": {
        "test_held_out_loss": "autograder.checks.language_model:judge_held_out_loss",
    },
    "06_federated_spam": {
        "test_federated_accuracy": "autograder.checks.federated:judge_federated_accuracy",
        "test_close_to_centralised": "autograder.checks.federated:judge_close_to_centralised",
    },
    "07_contrastive_learning": {
        "test_linear_probe": "autograder.checks.contrastive:judge_linear_probe",
        "test_beats_random_encoder": "autograder.checks.contrastive:judge_beats_random_encoder",
    },
}
