"""Assignment 1's checks: each accepts a correct object and names the likely mistake otherwise."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from autograder import data, exports
from autograder.checks import MEASUREMENTS, check_compiled
from autograder.checks import regression as checks

N_FEATURES = 3


def correct_split(frame, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(frame))
    n = round(len(frame) * fraction)
    return frame.iloc[order[n:]], frame.iloc[order[:n]]


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=100), "SalePrice": rng.integers(1, 9, 100)})


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

def test_a_shuffled_seeded_split_passes(frame):
    checks.check_split(correct_split, frame, 0.2, seed=0)


def test_a_split_that_keeps_the_last_rows_for_validation_is_rejected(frame):
    def unshuffled(frame, fraction, seed):
        n = round(len(frame) * fraction)
        return frame.iloc[:-n], frame.iloc[-n:]
    with pytest.raises(AssertionError, match="validation is the last rows of the frame: the rows are ordered, so shuffle"):
        checks.check_split(unshuffled, frame, 0.2)


def test_a_split_with_shared_rows_is_called_leakage(frame):
    def overlapping(frame, fraction, seed):
        train, validation = correct_split(frame, fraction, seed)
        return pd.concat([train, validation.iloc[:5]]), validation
    with pytest.raises(AssertionError, match="5 rows are in both train and validation: that leaks validation data"):
        checks.check_split(overlapping, frame, 0.2)


def test_a_split_that_ignores_the_seed_is_rejected(frame):
    with pytest.raises(AssertionError, match="a different seed gave the same split: use the seed"):
        checks.check_split(lambda f, fraction, seed: correct_split(f, fraction, 0), frame, 0.2)


def test_a_split_that_resets_the_index_is_rejected(frame):
    def reindexed(frame, fraction, seed):
        return tuple(part.reset_index(drop=True) for part in correct_split(frame, fraction, seed))
    with pytest.raises(AssertionError, match="rows are in both train and validation"):
        checks.check_split(reindexed, frame, 0.2)


# --- metrics and the baseline -----------------------------------------------------------------

def test_a_wrong_rmse_is_reported_with_its_inputs():
    def root_mean_absolute_error(y_true, y_pred):
        return float(np.sqrt(np.mean(np.abs(y_true - y_pred))))
    checks.check_metrics(checks.reference_mae, checks.reference_rmse, np.mean)
    with pytest.raises(AssertionError, match=r"^root_mean_squared_error\(\[3, -1, 7\], \[2, 2, 2\]\) is 1.732051; expected 3.41565$"):
        checks.check_metrics(checks.reference_mae, root_mean_absolute_error, np.mean)


def test_a_baseline_from_the_wrong_split_is_named(frame):
    train, validation = correct_split(frame, 0.2, 0)
    checks.check_baseline_price(train.SalePrice.mean(), train)
    with pytest.raises(AssertionError, match="The baseline may use the training split only"):
        checks.check_baseline_price(frame.SalePrice.mean() + 1, train)


# --- normalisation and models -----------------------------------------------------------------

def test_a_normalizer_adapted_on_all_rows_is_called_leakage(ames_folder):
    features = living_area(data.load_ames("train"))
    leaky = layers.Normalization()
    leaky.adapt(np.concatenate([features, living_area(data.load_ames("test"))]))
    with pytest.raises(AssertionError, match="adapt it on the training split only"):
        checks.check_features_and_normalizer(living_area, leaky, features)
    honest = layers.Normalization()
    honest.adapt(features)
    checks.check_features_and_normalizer(living_area, honest, features)


def test_features_with_missing_values_on_the_held_out_houses_are_named(ames_folder):
    features = living_area(data.load_ames("train"))
    normalizer = layers.Normalization()
    normalizer.adapt(features)
    def unfilled(frame):
        return np.where(frame.index % 7 == 0, np.nan, living_area(frame)[:, 0])[:, None]
    with pytest.raises(AssertionError, match="^feature_matrix leaves missing values on other houses: fill them$"):
        checks.check_features_and_normalizer(unfilled, normalizer, features)


def test_a_linear_model_with_a_hidden_activation_is_not_linear(features):
    checks.check_linear_model(regression_model(features), N_FEATURES)
    with pytest.raises(AssertionError, match="the linear model is not linear in its inputs: remove hidden layers"):
        checks.check_linear_model(regression_model(features, hidden=(8,)), N_FEATURES)


def test_an_mlp_without_activations_is_called_linear(features):
    checks.check_mlp_model(regression_model(features, hidden=(16, 8)), N_FEATURES)
    with pytest.raises(AssertionError, match="the MLP computes a linear function: give its hidden layers a nonlinear"):
        checks.check_mlp_model(regression_model(features, hidden=(16,), activation=None), N_FEATURES)


def test_an_mlp_without_hidden_layers_is_named(features):
    with pytest.raises(AssertionError, match=r"^the MLP has 1 Dense layer\(s\): it needs at least one hidden"):
        checks.check_mlp_model(regression_model(features), N_FEATURES)


def test_an_uncompiled_model_is_named(features):
    with pytest.raises(AssertionError, match=r"^the model is not compiled: call model.compile"):
        check_compiled(regression_model(features, compiled=False))


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


def test_ranking_passes_when_each_model_beats_the_last_and_records_the_measurements(ames_folder):
    good, rough = fixed_model(100.0, 0.0), fixed_model(80.0, 30_000.0)
    checks.check_ranking(175_000.0, rough, good, living_area)
    assert MEASUREMENTS["01/mlp_held_out_rmse"] < MEASUREMENTS["01/linear_held_out_rmse"] < MEASUREMENTS["01/baseline_held_out_rmse"]


def test_a_linear_model_that_never_learned_loses_the_ranking(ames_folder):
    untrained = fixed_model(0.0, 1.0)  # predicts $1 for every house, as a model with an unscaled target does
    with pytest.raises(AssertionError, match=r"the linear model's RMSE \(\$[\d,]+\) is not below the mean baseline's .*Scale the target"):
        checks.check_ranking(175_000.0, untrained, fixed_model(100.0, 0.0), living_area)


def test_an_mlp_above_the_threshold_fails_with_its_measured_rmse(ames_folder):
    with pytest.raises(AssertionError, match=r"the MLP's RMSE on held-out houses is \$[\d,]+; it must be below \$[\d,]+"):
        checks.check_mlp_threshold(fixed_model(60.0, 0.0), living_area)


def test_a_model_predicting_nan_is_named(ames_folder):
    with pytest.raises(AssertionError, match="the model predicts NaN or infinity on held-out houses"):
        checks.check_mlp_threshold(fixed_model(np.nan, 0.0), living_area)


def test_a_graded_notebook_only_exports_the_ranking_and_the_grader_judges_it(ames_folder, inside_the_sandbox, monkeypatch, capsys):
    good, rough = fixed_model(100.0, 0.0), fixed_model(80.0, 30_000.0)
    inside_the_sandbox()
    checks.check_ranking(175_000.0, good, rough, living_area)  # the MLP is the rough one: a wrong ranking
    assert capsys.readouterr().out.strip() == "The held-out labels are withheld from graded notebooks: the grader measures this test."
    monkeypatch.setenv("COURSE_DATA_DIR", str(ames_folder))
    with pytest.raises(AssertionError, match=r"the MLP's RMSE \(\$[\d,]+\) is not below the linear model's"):
        checks.judge_ranking(exports.load(Path.cwd(), "test_held_out_ranking"))
