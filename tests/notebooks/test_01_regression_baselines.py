"""Assignment 1 end to end: validation, the demo's scores, and plausible wrong solutions."""

import pytest

from autograder import pipeline
from autograder.course import Course

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "01_regression_baselines"
COURSE = Course.find(__file__)
MAX_POINTS = dict(COURSE.grade_cells(ASSIGNMENT))

WRONG_SOLUTIONS = {
    "normalizer-adapted-on-all-houses": Variant(
        (("normalizer.adapt(train_features)", "normalizer.adapt(feature_matrix(houses))"),),
        frozenset({"test_features_and_normalizer"}), rerun="rest"),
    "baseline-from-the-validation-split": Variant(
        (("baseline_price = fit_mean_baseline(train_prices)", "baseline_price = fit_mean_baseline(validation_prices)"),),
        frozenset({"test_baseline"})),
    # The linear model cannot learn prices of ~1e5 from outputs of ~1; the MLP's last layer can
    # grow to that scale (measured: it still passes the threshold), so only the ranking catches it.
    "unscaled-target-never-converges": Variant(
        (('model = keras.Model(inputs, layers.Rescaling(PRICE_SCALE)(scaled_price), name="linear")',
          'model = keras.Model(inputs, scaled_price, name="linear")'),
         ('model = keras.Model(inputs, layers.Rescaling(PRICE_SCALE)(scaled_price), name="mlp")',
          'model = keras.Model(inputs, scaled_price, name="mlp")')),
        frozenset({"test_held_out_ranking"}), rerun="rest"),
    # "Prices are positive": an activation on the output makes the model nonlinear. (A hidden
    # Dense+relu layer is caught by the same check, but then the "linear" model is an MLP and may
    # or may not beat the real one, so that case would also lose the ranking by chance.)
    "linear-model-with-a-relu-output": Variant(
        (("scaled_price = layers.Dense(1)(normalizer(inputs))",
          'scaled_price = layers.Dense(1, activation="relu")(normalizer(inputs))'),),
        frozenset({"test_linear_model"})),
    "validation-is-the-last-rows": Variant(
        (("order = np.random.default_rng(seed).permutation(len(frame))", "order = np.arange(len(frame))[::-1]"),),
        frozenset({"test_split"}), rerun="rest"),
    "rmse-without-the-square": Variant(
        (("return float(np.sqrt(np.mean(errors ** 2)))", "return float(np.sqrt(np.mean(np.abs(errors))))"),),
        frozenset({"test_metrics"})),
    "metrics-on-integer-prices-overflow": Variant(
        (("return float(np.mean(np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))))",
          "return float(np.mean(np.abs(np.asarray(y_true, dtype=np.uint32) - np.asarray(y_pred, dtype=np.uint32))))"),),
        frozenset({"test_metrics"})),
}

# Another reasonable solution: pandas sampling for the split, other features, a deeper MLP.
DIFFERENT_BUT_CORRECT = Variant((
    ("order = np.random.default_rng(seed).permutation(len(frame))\n"
     "    validation_size = round(len(frame) * validation_fraction)\n"
     "    return frame.iloc[order[validation_size:]], frame.iloc[order[:validation_size]]",
     "validation = frame.sample(frac=validation_fraction, random_state=seed)\n"
     "    return frame.drop(index=validation.index), validation"),
    ('"Wood Deck SF", "Open Porch SF",', '"Wood Deck SF", "Open Porch SF", "Screen Porch", "Pool Area", "Kitchen AbvGr",'),
    ('hidden = layers.Dense(32, activation="relu")(hidden)',
     'hidden = layers.Dense(64, activation="relu")(hidden)\n    hidden = layers.Dense(16, activation="elu")(hidden)'),
), rerun="rest")


class TestRegressionBaselines(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT


@pytest.mark.slow
@pytest.mark.sandbox
def test_validate_passes_assignment_1():
    [result] = pipeline.validate(COURSE, [ASSIGNMENT])
    assert result.ok, result.problems
    assert (result.solution.score, result.solution.max_score, result.untouched.score) == (14, 14, 0)


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.gpu
def test_the_reference_notebook_trains_on_the_gpu_when_one_is_present():
    [result] = pipeline.validate(COURSE, [ASSIGNMENT])
    assert result.ok, result.problems
    assert result.solution.device.startswith("GPU")
