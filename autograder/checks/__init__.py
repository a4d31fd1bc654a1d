"""What visible and hidden tests call.

Each check takes the student's object, measures it, and raises ``AssertionError`` with a message
that names the likely mistake. Metric checks load held-out data themselves, so they never trust a
number the notebook computed. Every measurement is also recorded in ``MEASUREMENTS`` (name ->
value) so that threshold calibration can read what the checks saw.
"""

from . import contrastive, dropout, embeddings, federated, language_model, regression, transfer
from .common import MEASUREMENTS, check_close, check_compiled, check_output_shape, judge_exported, judge_held_out, record

__all__ = ["MEASUREMENTS", "check_close", "check_compiled", "check_output_shape", "judge_exported", "judge_held_out", "record",
           "contrastive", "dropout", "embeddings", "federated", "language_model", "regression", "transfer"]
