"""Assignment 1's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from autograder import data, exports
from autograder.judges import MEASUREMENTS, judges_of
from coursekit.checks import regression as checks
from coursekit.checks.common import check_compiled

N_FEATURES = 3
SEEDS = range(5)


def correct_split(frame, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(frame))
    n = round(len(frame) * fraction)
    return frame.iloc[order[n:]], frame.iloc[order[:n]]


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"Gr Liv Area": rng.normal(size=100), "SalePrice": rng.integers(1, 9, 100)})


@pytest.fixture
def features():
    return np.random.default_rng(1).normal(50.0, 10.0, size=(200, N_FEATURES)).astype(np.float32)


def regression_model(features, hidden=(), activation="relu", compiled=True):
    normalizer = layers.Normalization()
    normalizer.adapt(features)
    inputs = keras.Input((N_FEATURES,))
    x = normalizer(inputs)
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    model = keras.Model(inputs, layers.Rescaling(1000.0)(layers.Dense(1)(x)))
    if compiled:
        model.compile("adam", "mse")
    return model


# --- the split --------------------------------------------------------------------------------

def test_a_shuffled_seeded_split_passes_the_visible_check_and_every_hidden_frame(frame, hidden_test):
    checks.check_split(correct_split, frame, 0.2, seed=0)
    for seed in SEEDS:
        hidden_test(checks.hand_in_split, correct_split, seed=seed)


def test_a_split_that_keeps_the_last_rows_for_validation_is_rejected(frame, both_fail):
    def unshuffled(frame, fraction, seed):
        n = round(len(frame) * fraction)
        return frame.iloc[:-n], frame.iloc[-n:]
    both_fail(lambda: checks.check_split(unshuffled, frame, 0.2, 0), checks.hand_in_split, unshuffled,
              match="validation is the last rows of the frame: the rows are ordered, so shuffle")


def test_a_split_with_shared_rows_is_called_leakage(frame, both_fail):
    def overlapping(frame, fraction, seed):
        train, validation = correct_split(frame, fraction, seed)
        return pd.concat([train, validation.iloc[:5]]), validation
    both_fail(lambda: checks.check_split(overlapping, frame, 0.2, 0), checks.hand_in_split, overlapping,
              match="5 rows are in both train and validation: that leaks validation data")


def test_a_split_that_ignores_the_seed_is_rejected(frame, both_fail):
    def seedless(frame, fraction, seed):
        return correct_split(frame, fraction, 0)
    both_fail(lambda: checks.check_split(seedless, frame, 0.2, 0), checks.hand_in_split, seedless,
              match="a different seed gave the same split: use the seed")


def test_a_split_that_resets_the_index_is_rejected(frame, both_fail):
    def reindexed(frame, fraction, seed):
        return tuple(part.reset_index(drop=True) for part in correct_split(frame, fraction, seed))
    both_fail(lambda: checks.check_split(reindexed, frame, 0.2, 0), checks.hand_in_split, reindexed,
              match="rows are in both train and validation")


def test_a_split_that_pairs_an_index_with_another_rows_values_is_rejected(frame, both_fail):
    def relabelled(frame, fraction, seed):
        train, validation = correct_split(frame, fraction, seed)
        return train.set_axis(train.index[::-1]), validation
    both_fail(lambda: checks.check_split(relabelled, frame, 0.2, 0), checks.hand_in_split, relabelled,
              match="train rows differ from the input's rows with the same index")


def test_an_unwritten_split_says_so(frame):
    def unwritten(frame, fraction, seed):
        raise NotImplementedError()
    with pytest.raises(AssertionError, match=r"^unwritten is not written yet: replace `raise NotImplementedError\(\)`"):
        checks.check_split(unwritten, frame, 0.2, 0)


# --- metrics and the baseline -----------------------------------------------------------------

def mean_absolute_error(y_true, y_pred):
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def root_mean_squared_error(y_true, y_pred):
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def test_correct_metrics_pass_on_public_and_hidden_cases(hidden_test):
    checks.check_metrics(mean_absolute_error, root_mean_squared_error, np.mean)
    for seed in SEEDS:
        hidden_test(checks.hand_in_metrics, mean_absolute_error, root_mean_squared_error, np.mean, seed=seed)


def test_a_wrong_rmse_is_reported_with_its_inputs(hidden_test):
    def root_mean_absolute_error(y_true, y_pred):
        return float(np.sqrt(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred)))))
    with pytest.raises(AssertionError, match=r"^root_mean_squared_error\(\[1\., 2\.\], \[2\., 4\.\]\) is 1.224745; expected 1.581139$"):
        checks.check_metrics(mean_absolute_error, root_mean_absolute_error, np.mean)
    with pytest.raises(AssertionError, match=r"^root_mean_squared_error\(\[.*\]\) is .*; expected "):
        hidden_test(checks.hand_in_metrics, mean_absolute_error, root_mean_absolute_error, np.mean)


def test_metrics_on_unsigned_integers_fail_on_the_hidden_negative_values(hidden_test):
    def overflowing(y_true, y_pred):
        return float(np.mean(np.abs(np.asarray(y_true, dtype=np.uint32) - np.asarray(y_pred, dtype=np.uint32))))
    with pytest.raises(AssertionError, match=r"^mean_absolute_error\("):
        hidden_test(checks.hand_in_metrics, overflowing, root_mean_squared_error, np.mean)


def test_metrics_that_answer_the_public_cases_from_a_table_fail_on_hidden_cases(hidden_test):
    answers = {str(np.asarray(y_true).tolist()) + str(np.asarray(y_pred).tolist()): (mae, rmse)
               for y_true, y_pred, mae, rmse in checks._PUBLIC_METRIC_CASES}

    def looked_up(column):
        return lambda y_true, y_pred: answers.get(str(np.asarray(y_true).tolist()) + str(np.asarray(y_pred).tolist()),
                                                  (0.0, 0.0))[column]
    checks.check_metrics(looked_up(0), looked_up(1), lambda prices: 3.0)
    with pytest.raises(AssertionError, match="expected"):
        hidden_test(checks.hand_in_metrics, looked_up(0), looked_up(1), lambda prices: 3.0)


def test_a_baseline_from_the_wrong_split_is_named(ames_folder, hidden_test, both_fail):
    houses = data.load_ames()
    train, _ = correct_split(houses, 0.2, 0)
    checks.check_baseline_price(train.SalePrice.mean(), np.mean, train)
    assert hidden_test(checks.hand_in_baseline_price, train.SalePrice.mean(), correct_split, houses, 0.2, 0) is None
    wrong = houses.SalePrice.mean()
    both_fail(lambda: checks.check_baseline_price(wrong, np.mean, train), checks.hand_in_baseline_price, wrong,
              correct_split, houses, 0.2, 0, match="The baseline may use the training split only")


def test_the_baseline_is_judged_on_the_graders_prices_of_the_students_split(ames_folder, hidden_test):
    """A notebook that rebinds its training frame before the test, or hands in prices of its own,
    gains nothing: the collector splits the houses with the student's function, and the judge reads
    the prices of those rows from its own data."""
    houses = data.load_ames()
    train, _ = correct_split(houses, 0.2, 0)
    doctored = houses.assign(SalePrice=0)  # prices the kernel made up
    with pytest.raises(AssertionError, match="The baseline may use the training split only"):
        hidden_test(checks.hand_in_baseline_price, 0.0, correct_split, doctored, 0.2, 0)
    with pytest.raises(AssertionError, match=r"^the training split has 40 houses; expected about"):
        hidden_test(checks.hand_in_baseline_price, train.SalePrice.mean(), lambda frame, *_: (frame[:40], frame[40:]),
                    houses, 0.2, 0)


# --- normalisation and models -----------------------------------------------------------------

def test_a_normalizer_adapted_on_all_rows_is_called_leakage(ames_folder, hidden_test, both_fail):
    houses = data.load_ames()
    features = living_area(correct_split(houses, 0.2, 0)[0])
    leaky = layers.Normalization()
    leaky.adapt(living_area(houses))
    split = (["Gr Liv Area"], correct_split, houses, 0.2, 0)
    both_fail(lambda: checks.check_features_and_normalizer(living_area, leaky, features),
              checks.hand_in_features_and_normalizer, living_area, leaky, *split, match="adapt it on the training split only")
    honest = layers.Normalization()
    honest.adapt(features)
    checks.check_features_and_normalizer(living_area, honest, features)
    hidden_test(checks.hand_in_features_and_normalizer, living_area, honest, *split)


@pytest.mark.parametrize("features, why", [
    (lambda frame: np.zeros((len(frame), 1), np.float32), "feature_matrix's columns are not the FEATURES columns"),
    (lambda frame: frame[["SalePrice"]].fillna(0).to_numpy(np.float32), "must be numeric columns of the houses' table "
                                                                          "other than the sale price"),
])
def test_features_are_checked_against_the_graders_copy_of_the_columns(ames_folder, hidden_test, features, why):
    """Features the kernel made up (zeros, with a normaliser adapted on them) or the target itself fail."""
    houses = data.load_ames()
    normalizer = layers.Normalization()
    normalizer.adapt(features(correct_split(houses, 0.2, 0)[0]))
    names = ["SalePrice"] if "sale price" in why else ["Gr Liv Area"]
    with pytest.raises(AssertionError, match=why):
        hidden_test(checks.hand_in_features_and_normalizer, features, normalizer, names, correct_split, houses, 0.2, 0)


def test_features_with_missing_values_on_the_held_out_houses_are_named(ames_folder, both_fail):
    houses = data.load_ames()
    features = living_area(correct_split(houses, 0.2, 0)[0])
    normalizer = layers.Normalization()
    normalizer.adapt(features)
    def unfilled(frame):
        return np.where(frame.index % 7 == 0, np.nan, living_area(frame)[:, 0])[:, None]
    both_fail(lambda: checks.check_features_and_normalizer(unfilled, normalizer, features),
              checks.hand_in_features_and_normalizer, unfilled, normalizer, ["Gr Liv Area"], correct_split, houses, 0.2, 0,
              match="^feature_matrix leaves missing values on other houses: fill them$")


def test_a_linear_model_with_a_hidden_activation_is_not_linear(features, hidden_test, both_fail):
    checks.check_linear_model(regression_model(features), N_FEATURES)
    for seed in SEEDS:
        hidden_test(checks.hand_in_linear_model, regression_model(features), N_FEATURES, seed=seed)
    hidden_layer = regression_model(features, hidden=(8,))
    both_fail(lambda: checks.check_linear_model(hidden_layer, N_FEATURES), checks.hand_in_linear_model, hidden_layer,
              N_FEATURES, match="the linear model is not linear in its inputs: remove hidden layers")


def test_an_mlp_without_activations_is_called_linear(features, hidden_test, both_fail):
    checks.check_mlp_model(regression_model(features, hidden=(16, 8)), N_FEATURES)
    for seed in SEEDS:
        hidden_test(checks.hand_in_mlp_model, regression_model(features, hidden=(16, 8)), N_FEATURES, seed=seed)
    linear = regression_model(features, hidden=(16,), activation=None)
    both_fail(lambda: checks.check_mlp_model(linear, N_FEATURES), checks.hand_in_mlp_model, linear, N_FEATURES,
              match="the MLP computes a linear function: give its hidden layers a nonlinear")


def test_an_mlp_without_hidden_layers_is_named(features, both_fail):
    shallow = regression_model(features)
    both_fail(lambda: checks.check_mlp_model(shallow, N_FEATURES), checks.hand_in_mlp_model, shallow, N_FEATURES,
              match=r"^the MLP has 1 Dense layer\(s\): it needs at least one hidden")


def test_an_uncompiled_model_is_named(features, hidden_test):
    with pytest.raises(AssertionError, match=r"^the model is not compiled: call model.compile"):
        check_compiled(regression_model(features, compiled=False))
    with pytest.raises(AssertionError, match=r"^the linear model is not compiled: call model.compile"):
        hidden_test(checks.hand_in_linear_model, regression_model(features, compiled=False), N_FEATURES)


def test_a_model_with_a_layer_the_grader_does_not_rebuild_is_refused(features, hidden_test):
    inputs = keras.Input((N_FEATURES,))
    model = keras.Model(inputs, layers.Lambda(lambda x: x[:, :1] * 0)(inputs))
    model.compile("adam", "mse")
    with pytest.raises(exports.ExportError, match=r"uses Lambda .*; the grader rebuilds only Dense, Dropout, Normalization"):
        hidden_test(checks.hand_in_linear_model, model, N_FEATURES)


def test_a_model_with_the_wrong_input_width_is_named(features):
    with pytest.raises(AssertionError, match=r"takes inputs of shape \(None, 3\); expected \(None, 4\)"):
        checks.check_linear_model(regression_model(features), 4)


# --- held-out metrics (on a small stand-in for the Ames data) ---------------------------------

@pytest.fixture
def ames_folder(data_folder):
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"Order": range(n), "PID": 500 + np.arange(n), "Gr Liv Area": rng.uniform(500, 3000, n)})
    frame["SalePrice"] = (frame["Gr Liv Area"] * 100 + rng.normal(0, 5000, n)).round().astype(int)
    path = data_folder / "housing/ames/AmesHousing.txt"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, sep="\t", index=False)
    return data_folder


def living_area(frame):
    return frame[["Gr Liv Area"]].to_numpy(np.float32)


def fixed_model(slope, intercept):
    inputs = keras.Input((1,))
    dense = layers.Dense(1, kernel_initializer=keras.initializers.Constant(slope),
                         bias_initializer=keras.initializers.Constant(intercept))
    return keras.Model(inputs, dense(inputs))


def test_ranking_passes_when_each_model_beats_the_last_and_records_the_measurements(ames_folder, hidden_test):
    good, rough = fixed_model(100.0, 0.0), fixed_model(80.0, 30_000.0)
    verdict = hidden_test(checks.hand_in_ranking, rough, good, living_area)
    assert verdict.startswith("RMSE on the held-out houses: MLP $")
    assert MEASUREMENTS["01/mlp_held_out_rmse"] < MEASUREMENTS["01/linear_held_out_rmse"] < MEASUREMENTS["01/baseline_held_out_rmse"]


def test_a_linear_model_that_never_learned_loses_the_ranking(ames_folder, hidden_test):
    untrained = fixed_model(0.0, 1.0)  # predicts $1 for every house, as a model with an unscaled target does
    with pytest.raises(AssertionError, match=r"the linear model's RMSE \(\$[\d,]+\) is not below the mean baseline's .*Scale the target"):
        hidden_test(checks.hand_in_ranking, untrained, fixed_model(100.0, 0.0), living_area)


def test_the_validation_ranking_uses_the_same_diagnosis():
    results = pd.DataFrame({"RMSE ($)": {"mean baseline": 75_000.0, "linear model": 35_000.0, "MLP": 40_000.0}})
    with pytest.raises(AssertionError, match=r"^on validation houses the MLP's RMSE \(\$40,000\) is not below the linear model's \(\$35,000\)"):
        checks.check_ranking(results)


def test_an_mlp_above_the_threshold_fails_with_its_measured_rmse(ames_folder, hidden_test):
    with pytest.raises(AssertionError, match=r"the MLP's RMSE on the held-out houses is \$[\d,]+; it must be below \$[\d,]+"):
        hidden_test(checks.hand_in_mlp_threshold, fixed_model(60.0, 0.0), living_area)


def test_a_model_predicting_nan_is_named(ames_folder, hidden_test):
    with pytest.raises(AssertionError, match="the model predicts NaN or infinity on held-out houses"):
        hidden_test(checks.hand_in_mlp_threshold, fixed_model(np.nan, 0.0), living_area)


def test_in_the_sandbox_the_ranking_is_only_exported_and_the_grader_judges_it(ames_folder, inside_the_sandbox, tmp_path,
                                                                              monkeypatch, capsys):
    from autograder.judges import hand_out, kept_inputs
    good, rough = fixed_model(100.0, 0.0), fixed_model(80.0, 30_000.0)
    hand_out(checks.ASSIGNMENT, Path.cwd(), tmp_path / "kept")
    inside_the_sandbox()
    checks.hand_in_ranking(good, rough, living_area)  # the MLP is the rough one: a wrong ranking
    assert capsys.readouterr().out == "", "the notebook cannot measure the held-out houses"
    monkeypatch.setenv("COURSE_DATA_DIR", str(ames_folder))
    judge = judges_of(checks.ASSIGNMENT)["test_held_out_ranking"]
    with pytest.raises(AssertionError, match=r"the MLP's RMSE \(\$[\d,]+\) is not below the linear model's"):
        judge.judge(kept_inputs(tmp_path / "kept", judge), exports.load(Path.cwd(), "hand_in_ranking"))
