"""The grader's judges, one module per assignment beside its `coursekit.checks` module: each draws
its graded cell's hidden inputs for every grading run and judges the evidence the cell's
collector exported, with the reference code and the held-out answers students never get
(`registry` explains how they fit)."""

from .registry import JUDGES, MEASUREMENTS, Judge, hand_out, in_kernel, judge, judges_of, kept_inputs, record

from . import contrastive, dropout, embeddings, federated, language_model, regression, transfer  # noqa: E402,F401  (registers the judges of each assignment)

__all__ = ["JUDGES", "MEASUREMENTS", "Judge", "hand_out", "in_kernel", "judge", "judges_of", "kept_inputs", "record"]
