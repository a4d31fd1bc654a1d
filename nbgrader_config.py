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
# Assignments whose notebooks run only on workers with a GPU (one notebook per GPU at a time);
# every assignment of this course trains in minutes on a CPU.
c.Dispatch.gpu_assignments = []
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
# Every other graded cell: its hidden test judges what the student's code gave on the check's own
# inputs and exports that evidence; the grader judges it again outside the kernel, and flags a cell
# that passed in the notebook but fails there.
c.TrustedRecheck.rechecks = {
    "01_regression_baselines": {
        "test_split": "autograder.checks.regression:judge_split",
        "test_metrics": "autograder.checks.regression:judge_metrics",
        "test_baseline": "autograder.checks.regression:judge_baseline_price",
        "test_features_and_normalizer": "autograder.checks.regression:judge_features_and_normalizer",
        "test_linear_model": "autograder.checks.regression:judge_linear_model",
        "test_mlp_model": "autograder.checks.regression:judge_mlp_model",
    },
    "02_mnist_dropout": {
        "test_scaling": "autograder.checks.dropout:judge_scaling",
        "test_dropout_in_training": "autograder.checks.dropout:judge_dropout_in_training",
        "test_dropout_at_inference": "autograder.checks.dropout:judge_dropout_at_inference",
        "test_mlp": "autograder.checks.dropout:judge_mlp",
        "test_early_stopping": "autograder.checks.dropout:judge_early_stopping",
    },
    "03_transfer_learning": {
        "test_pipeline": "autograder.checks.transfer:judge_pipeline",
        "test_augmentation": "autograder.checks.transfer:judge_augmentation",
        "test_compile_model": "autograder.checks.transfer:judge_compile_model",
        "test_scratch_cnn": "autograder.checks.transfer:judge_scratch_cnn",
        "test_feature_extraction_model": "autograder.checks.transfer:judge_feature_extraction_model",
        "test_fine_tuning_setup": "autograder.checks.transfer:judge_fine_tuning",
        "test_fine_tuning_learning_rate": "autograder.checks.transfer:judge_fine_tuning_learning_rate",
    },
    "04_imdb_embeddings": {
        "test_standardize": "autograder.checks.embeddings:judge_standardize",
        "test_vectorizer": "autograder.checks.embeddings:judge_vectorizer",
        "test_model": "autograder.checks.embeddings:judge_model",
        "test_cosine_similarity": "autograder.checks.embeddings:judge_cosine_similarity",
        "test_nearest_neighbours": "autograder.checks.embeddings:judge_nearest_neighbours",
        "test_embeddings_carry_sentiment": "autograder.checks.embeddings:judge_embeddings_carry_sentiment",
    },
    "05_shakespeare_lstm": {
        "test_char_lookups": "autograder.checks.language_model:judge_char_lookups",
        "test_make_dataset": "autograder.checks.language_model:judge_make_dataset",
        "test_model": "autograder.checks.language_model:judge_model",
        "test_perplexity": "autograder.checks.language_model:judge_perplexity",
        "test_sample": "autograder.checks.language_model:judge_sample",
        "test_generate_text": "autograder.checks.language_model:judge_generate_text",
    },
    "06_federated_spam": {
        "test_federated_average": "autograder.checks.federated:judge_federated_average",
        "test_words_in_update": "autograder.checks.federated:judge_words_in_update",
        "test_encrypted_aggregation": "autograder.checks.federated:judge_encrypted_aggregation",
        "test_server_decrypts_only_the_aggregate": "autograder.checks.federated:judge_server_decrypts_only_the_aggregate",
    },
    "07_contrastive_learning": {
        "test_augmentation": "autograder.checks.contrastive:judge_augmentation",
        "test_nt_xent_loss": "autograder.checks.contrastive:judge_nt_xent_loss",
        "test_training_step": "autograder.checks.contrastive:judge_training_step",
    },
}
