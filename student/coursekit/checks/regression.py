"""Checks for assignment 1, regression baselines on the Ames house prices.

Models take the matrix returned by the student's ``feature_matrix(frame)`` and predict the sale
price in dollars, shape (None, 1). The held-out collectors predict the kit's held-out houses
(``data.load_ames("test")``, whose prices students never get) and the grader's judges measure the
predictions with their sale prices.

Which plausible wrong solution would a graded cell still pass? (Each catch is a wrong solution in
tests/notebooks/test_01_regression_baselines.py or tests/checks/test_regression.py.)
- test_split catches validation as the last rows, global randomness or an ignored seed, rows in both
  parts or in neither, a reset index, changed rows, a wrong fraction and a changed input frame. Any
  shuffled split passes, stratified ones included: they are correct.
- test_metrics catches MSE for RMSE, means over one axis (the 2-D case), integer overflow (integer
  prices) and a median baseline, on inputs drawn for each run.
- test_baseline catches a baseline fitted on the validation split or on every house.
- test_features_and_normalizer catches a normalizer adapted on other rows and features left with
  missing values. A feature matrix that includes the sale price is caught here when it leaves the
  held-out houses' missing prices, else by the held-out cells (its predictions fail there).
- test_linear_model catches hidden layers, an output activation and a missing Normalization layer
  (an affine test on inputs spread like the features). It cannot tell whether the model learned:
  the held-out cells measure that.
- test_mlp_model catches an MLP without hidden layers or without a nonlinear activation.
- test_held_out_ranking and test_mlp_threshold measure the predictions on the held-out houses, so
  every mistake that makes a model worse (an unscaled target, too few epochs) costs them; they cannot
  say which mistake it was, so their messages list what to look at.
"""

import numpy as np
import pandas as pd

from .. import data
from ..evidence import collector, model_arrays, returns_evidence
from .common import call, check_close, check_compiled, check_output_shape

ASSIGNMENT = "01_regression_baselines"
TARGET = "SalePrice"
VALIDATION_FRACTION = 0.2
"""The notebook's share of validation houses (its VALIDATION_FRACTION): the training split the
judges expect holds the rest."""

# Held-out RMSE in dollars of the reference notebook, `tools/calibrate.py 01 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   MLP:       seed 0: 28,210  seed 1: 26,146  seed 2: 27,349  seed 3: 27,526  seed 4: 29,661
#   linear:    seed 0: 36,174  seed 1: 33,150  seed 2: 34,894  seed 3: 33,802  seed 4: 33,409
#   baseline:  75,680 - 75,817
# Low end of the students' ranges (keras 3.8.0, tensorflow-cpu 2.18.0, numpy 2.0.0, pandas 2.2.2,
# matplotlib 3.8.4; student/pyproject.toml), `tools/calibrate.py 01 --seeds 0` (2-core CPU, 2026-12-07):
#   MLP: seed 0: 28,210   linear: seed 0: 36,174   baseline: 75,817
# Threshold: the worst MLP run (29,661) plus a 6% margin, rounded; still below every linear run.
MLP_HELD_OUT_RMSE_THRESHOLD = 31_500.0


# --- exercise 1: the split -------------------------------------------------------------------

def _public_frame() -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    return pd.DataFrame({"Gr Liv Area": rng.integers(500, 3000, 101), TARGET: rng.integers(10_000, 700_000, 101)},
                        index=rng.permutation(500)[:101])


@returns_evidence
def split_evidence(split_function, frame: pd.DataFrame, fraction: float, seed: int) -> dict:
    """The student's split of ``frame``, twice with ``seed`` and once with the next seed."""
    original = frame.copy()
    parts = call(split_function, frame, fraction, seed)
    assert isinstance(parts, tuple) and len(parts) == 2 and all(isinstance(part, pd.DataFrame) for part in parts), (
        "split_train_validation must return two DataFrames (train, validation)")
    pd.testing.assert_frame_equal(frame, original, obj="the input frame (the split must not modify it)")
    train, validation = parts
    return {"train": train.index.to_numpy(), "validation": validation.index.to_numpy(),
            "train_area": train["Gr Liv Area"].to_numpy(), "validation_area": validation["Gr Liv Area"].to_numpy(),
            "again": split_function(frame, fraction, seed)[1].index.to_numpy(),
            "other": split_function(frame, fraction, seed + 1)[1].index.to_numpy()}


def judge_split(frame: pd.DataFrame, fraction: float, evidence) -> None:
    """The split of ``frame`` is disjoint, shuffled, seed-reproducible and covers every row unchanged."""
    rows, train, validation = frame.index.to_numpy(), evidence["train"], evidence["validation"]
    expected_validation = round(len(rows) * fraction)
    assert abs(len(validation) - expected_validation) <= 1, (
        f"validation has {len(validation)} rows; expected about {expected_validation} ({fraction:.0%} of {len(rows)})")
    overlap = set(train) & set(validation)
    assert not overlap, (f"{len(overlap)} rows are in both train and validation: that leaks validation "
                         "data into training. Keep the original index and split it into two disjoint parts")
    assert len(train) + len(validation) == len(rows) and set(train) | set(validation) == set(rows), (
        "train and validation together must hold every row of the frame exactly once, under its original index")
    for part in ("train", "validation"):
        assert np.array_equal(evidence[f"{part}_area"], frame.loc[evidence[part], "Gr Liv Area"].to_numpy()), (
            f"{part} rows differ from the input's rows with the same index: return unchanged rows of the input")
    assert set(validation) != set(rows[len(rows) - len(validation):]), (
        "validation is the last rows of the frame: the rows are ordered, so shuffle them (with the seed) before splitting")
    assert list(evidence["again"]) == list(validation), (
        "the same seed gave a different split: use np.random.default_rng(seed), not global randomness")
    assert set(evidence["other"]) != set(validation), "a different seed gave the same split: use the seed"


def check_split(split_function, houses: pd.DataFrame, validation_fraction: float, seed: int) -> None:
    """On a small public frame and on the houses, with the notebook's fraction and seed."""
    for frame, fraction, case_seed in ((_public_frame(), 0.25, 3), (houses, validation_fraction, seed)):
        judge_split(frame, fraction, split_evidence(split_function, frame, fraction, case_seed))


def split_frame(inputs) -> pd.DataFrame:
    """The frame a split judge's inputs describe."""
    return pd.DataFrame({"Gr Liv Area": inputs["area"], TARGET: inputs["price"]}, index=inputs["index"])


@collector
def hand_in_split(inputs, split_function) -> dict:
    return split_evidence(split_function, split_frame(inputs), float(inputs["fraction"]), int(inputs["seed"]))


# --- exercise 2: metrics and the baseline ------------------------------------------------------

METRICS = ("mean_absolute_error", "root_mean_squared_error")
# Public cases: (y_true, y_pred, expected MAE, expected RMSE), and prices with their mean.
_PUBLIC_METRIC_CASES = (
    ([1.0, 2.0], [2.0, 4.0], 1.5, 2.5 ** 0.5),
    ([0.0, 0.0], [3.0, 4.0], 3.5, 12.5 ** 0.5),
    ([[1, 2], [3, 4]], [[1, 2], [3, 0]], 1.0, 2.0),
    ([5.5], [5.5], 0.0, 0.0),
)
_PUBLIC_PRICES, _PUBLIC_MEAN_PRICE = [1.0, 2.0, 6.0], 3.0


@returns_evidence
def metrics_evidence(mean_absolute_error, root_mean_squared_error, fit_mean_baseline, cases, prices) -> dict:
    """The student's metrics of each (y_true, y_pred) case and baseline of ``prices``."""
    functions = dict(zip(METRICS, (mean_absolute_error, root_mean_squared_error)))
    evidence = {f"{name}_{i}": call(function, np.asarray(y_true), np.asarray(y_pred))
                for name, function in functions.items() for i, (y_true, y_pred) in enumerate(cases)}
    return evidence | {"baseline": call(fit_mean_baseline, np.asarray(prices))}


def judge_metrics(cases, prices, evidence, expected) -> None:
    """``expected`` holds the right value of each entry of the evidence."""
    for name in METRICS:
        for i, (y_true, y_pred) in enumerate(cases):
            check_close(evidence[f"{name}_{i}"], expected[f"{name}_{i}"],
                        f"{name}({short_list(y_true)}, {short_list(y_pred)})")
    check_close(evidence["baseline"], expected["baseline"], f"fit_mean_baseline({short_list(prices)})")


def short_list(values) -> str:
    return np.array2string(np.asarray(values), precision=6, threshold=8, separator=", ")


def check_metrics(mean_absolute_error, root_mean_squared_error, fit_mean_baseline) -> None:
    cases = [(y_true, y_pred) for y_true, y_pred, _, _ in _PUBLIC_METRIC_CASES]
    expected = {f"{name}_{i}": case[2 + column] for column, name in enumerate(METRICS)
                for i, case in enumerate(_PUBLIC_METRIC_CASES)} | {"baseline": _PUBLIC_MEAN_PRICE}
    judge_metrics(cases, _PUBLIC_PRICES, metrics_evidence(mean_absolute_error, root_mean_squared_error,
                                                          fit_mean_baseline, cases, _PUBLIC_PRICES), expected)


def metric_cases(inputs) -> list:
    """The (y_true, y_pred) cases of a metrics judge's inputs."""
    return [(inputs[f"y_true_{i}"], inputs[f"y_pred_{i}"]) for i in range(int(inputs["cases"]))]


@collector
def hand_in_metrics(inputs, mean_absolute_error, root_mean_squared_error, fit_mean_baseline) -> dict:
    return metrics_evidence(mean_absolute_error, root_mean_squared_error, fit_mean_baseline,
                            metric_cases(inputs), inputs["prices"])


def judge_baseline_price(baseline_price, expected: float) -> None:
    assert np.isclose(float(baseline_price), expected, rtol=1e-6), (
        f"baseline_price is {float(baseline_price):,.2f}; the mean training price is {expected:,.2f}. "
        "The baseline may use the training split only (not validation, not all data)")


def _baseline_price(baseline_price) -> float:
    assert np.isscalar(baseline_price) or np.ndim(baseline_price) == 0, (
        f"baseline_price must be one number, got shape {np.shape(baseline_price)}")
    return float(baseline_price)


def check_baseline_price(baseline_price, fit_mean_baseline, train_frame: pd.DataFrame) -> None:
    """The baseline is your fit_mean_baseline of the training prices (whose rightness test_metrics checks)."""
    judge_baseline_price(_baseline_price(baseline_price), float(call(fit_mean_baseline, train_frame[TARGET].to_numpy())))


def training_split(split_function, houses: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """The training part of the student's split of the houses, made here (not a variable the
    notebook could have rebound before the test)."""
    train, _ = call(split_function, houses.copy(), fraction, seed)
    return train


@collector
def hand_in_baseline_price(inputs, baseline_price, split_function, houses, fraction, seed) -> dict:
    return {"baseline_price": _baseline_price(baseline_price),
            "train_index": training_split(split_function, houses, fraction, seed).index.to_numpy()}


def judged_training_rows(train_index, houses_index) -> np.ndarray:
    """The student's training rows, once they are distinct training houses, as many as the split
    keeps (the judge then reads their prices from its own copy of the data)."""
    train_index, expected = np.asarray(train_index), round(len(houses_index) * (1 - VALIDATION_FRACTION))
    assert train_index.ndim == 1 and abs(len(train_index) - expected) <= 1, (
        f"the training split has {len(train_index)} houses; expected about {expected}")
    assert len(set(train_index.tolist())) == len(train_index) and np.isin(train_index, houses_index).all(), (
        "the training split's index is not a set of distinct rows of the houses (keep their original index)")
    return train_index


# --- exercises 3-5: features, normalisation and models ----------------------------------------

@returns_evidence
def features_evidence(feature_function, normalizer, train_features) -> dict:
    assert hasattr(normalizer, "mean") and hasattr(normalizer, "variance"), (
        "the normalizer must be a keras.layers.Normalization layer adapted with .adapt(...)")
    train_features = np.asarray(train_features, dtype=np.float64)
    assert train_features.ndim == 2, f"the training features have shape {train_features.shape}; expected (houses, features)"
    return {"held_out_features": np.asarray(call(feature_function, data.load_ames("test")), dtype=np.float64),
            "train_features": train_features, "mean": np.asarray(normalizer.mean).reshape(-1),
            "variance": np.asarray(normalizer.variance).reshape(-1)}


def judge_features_and_normalizer(evidence, held_out_houses: int) -> None:
    """Features for every held-out house without missing values, and a Normalization layer whose
    statistics are those of the training features, no other rows."""
    held_out, train_features = evidence["held_out_features"], evidence["train_features"]
    assert held_out.shape == (held_out_houses, train_features.shape[1]), (
        f"feature_matrix gives an array of shape {held_out.shape} for {held_out_houses} other houses; expected one row "
        f"per house and the {train_features.shape[1]} columns of the training features")
    assert np.isfinite(held_out).all(), "feature_matrix leaves missing values on other houses: fill them"
    mean, variance = evidence["mean"], evidence["variance"]
    assert mean.shape == (train_features.shape[1],), (
        f"the normalizer has {mean.shape[0]} feature means; the feature matrix has {train_features.shape[1]} columns")
    assert np.allclose(mean, train_features.mean(axis=0), rtol=1e-4, atol=1e-3) and np.allclose(
        variance, train_features.var(axis=0), rtol=1e-3, atol=1e-3), (
        "the normalizer's mean and variance differ from those of the training features: adapt it on the "
        "training split only (statistics from validation or test rows leak them into training)")


def check_features_and_normalizer(feature_function, normalizer, train_features) -> None:
    judge_features_and_normalizer(features_evidence(feature_function, normalizer, train_features),
                                  len(data.load_ames("test")))


@collector
def hand_in_features_and_normalizer(inputs, feature_function, normalizer, features, split_function, houses, fraction,
                                    seed) -> dict:
    train = training_split(split_function, houses, fraction, seed)
    return {"features": np.asarray([str(name) for name in features]), "train_index": train.index.to_numpy(),
            **features_evidence(feature_function, normalizer, call(feature_function, train))}


def judge_feature_columns(features: np.ndarray, raw: pd.DataFrame, where: str) -> None:
    """``features`` are the ``raw`` columns (the FEATURES the notebook names), filled where ``raw`` is missing."""
    assert features.shape == raw.shape, (
        f"feature_matrix gives an array of shape {features.shape} for {len(raw)} {where}; expected one row per house "
        f"and one column per name in FEATURES ({raw.shape[1]})")
    known = raw.notna().to_numpy()
    values = raw.to_numpy(np.float64, na_value=0.0)
    assert np.allclose(features[known], values[known], rtol=1e-6, atol=1e-3), (
        f"feature_matrix's columns are not the FEATURES columns of the {where}: return frame[FEATURES] as numbers, "
        "only missing values filled")


def _check_regression_model(model, n_features: int, what: str, compiled: bool | None = None) -> None:
    """``compiled``: whether the model was compiled, where it was rebuilt from an export (which is not)."""
    if compiled is None:
        check_compiled(model, what)
    else:
        assert compiled, f"{what} is not compiled: call model.compile(optimizer=..., loss=...) before returning it"
    assert tuple(model.input_shape) == (None, n_features), (
        f"{what} takes inputs of shape {tuple(model.input_shape)}; expected (None, {n_features}), one column per feature")
    check_output_shape(model, (None, 1), what, "end with a single unit that predicts the price")
    assert any(layer.__class__.__name__ == "Normalization" for layer in model.layers), (
        f"{what} has no Normalization layer: pass the adapted normalizer in as its first layer")


def affinity_inputs(mean, std, seed: int):
    """Random inputs spread like the training features (the normalizer's statistics), and weights
    outside [0, 1] that extrapolate, reaching inputs where a hidden activation bends."""
    rng = np.random.default_rng(seed)
    x, z = ((mean + std * rng.standard_normal((128, len(mean)))).astype(np.float32) for _ in range(2))
    return x, z, rng.uniform(-1.0, 2.0, size=(len(x), 1)).astype(np.float32)


@returns_evidence
def affinity_evidence(model, n_features: int, what: str, seed: int, compiled: bool | None = None) -> dict:
    """The model's predictions of f(a x + (1-a) z), f(x) and f(z) on inputs drawn from ``seed``."""
    _check_regression_model(model, n_features, what, compiled)
    normalizer = next(layer for layer in model.layers if layer.__class__.__name__ == "Normalization")
    mean = np.asarray(normalizer.mean, np.float64).reshape(-1)
    std = np.sqrt(np.asarray(normalizer.variance, np.float64).reshape(-1))
    x, z, a = affinity_inputs(mean, std, seed)
    return dict(mean=mean, std=std, mixed=model.predict(a * x + (1 - a) * z, verbose=0),
                first=model.predict(x, verbose=0), second=model.predict(z, verbose=0))


def affinity_error(evidence, seed: int) -> float:
    """Largest violation of f(a x + (1-a) z) = a f(x) + (1-a) f(z), relative to the output scale."""
    _, _, a = affinity_inputs(evidence["mean"], evidence["std"], seed)
    combined = a * evidence["first"] + (1 - a) * evidence["second"]
    assert evidence["mixed"].shape == combined.shape, f"the model's predictions have shape {evidence['mixed'].shape}"
    scale = np.abs(combined).mean() + 1e-9
    return float(np.abs(evidence["mixed"] - combined).max() / scale)


_PUBLIC_AFFINITY_SEED = 0


def judge_linear_model(evidence, seed: int) -> None:
    assert affinity_error(evidence, seed) < 1e-3, (
        "the linear model is not linear in its inputs: remove hidden layers and activations "
        "(Normalization, one Dense(1) with no activation, and a fixed rescaling are all it needs)")


def check_linear_model(model, n_features: int) -> None:
    """Compiled, (None, n) -> (None, 1), and affine: f(a x + (1-a) z) == a f(x) + (1-a) f(z)."""
    judge_linear_model(affinity_evidence(model, n_features, "the linear model", _PUBLIC_AFFINITY_SEED),
                       _PUBLIC_AFFINITY_SEED)


@collector
def hand_in_linear_model(inputs, model, n_features: int) -> dict:
    return {"n_features": int(n_features), **model_arrays(model, "model")}


def mlp_structure(model) -> None:
    dense_layers = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert len(dense_layers) >= 2, (
        f"the MLP has {len(dense_layers)} Dense layer(s): it needs at least one hidden Dense layer before the output")


def judge_mlp_model(evidence, seed: int) -> None:
    assert affinity_error(evidence, seed) > 1e-3, (
        "the MLP computes a linear function: give its hidden layers a nonlinear activation such as 'relu'")


def check_mlp_model(model, n_features: int) -> None:
    """Compiled, (None, n) -> (None, 1), with hidden Dense layers and a nonlinearity."""
    evidence = affinity_evidence(model, n_features, "the MLP", _PUBLIC_AFFINITY_SEED)
    mlp_structure(model)
    judge_mlp_model(evidence, _PUBLIC_AFFINITY_SEED)


@collector
def hand_in_mlp_model(inputs, model, n_features: int) -> dict:
    return {"n_features": int(n_features), **model_arrays(model, "model")}


# --- the models on held-out houses --------------------------------------------------------------

def held_out_features(feature_function, order) -> np.ndarray:
    """The student's features of the held-out houses, in the ``order`` the grader drew for this run
    (the grader predicts them with the exported models: an array made in another run, or another
    student's, does not fit)."""
    return np.asarray(call(feature_function, data.load_ames("test").iloc[np.asarray(order)]), dtype=np.float32)


def judge_ranking(baseline: float, linear: float, mlp: float, where: str) -> str:
    """MLP RMSE < linear RMSE < mean-baseline RMSE, measured on the houses ``where`` names."""
    assert linear < baseline, (
        f"on {where} the linear model's RMSE (${linear:,.0f}) is not below the mean baseline's "
        f"(${baseline:,.0f}): it has not learned. Scale the target (predict price / PRICE_SCALE and "
        "rescale the output) and check the learning rate and epochs")
    assert mlp < linear, (
        f"on {where} the MLP's RMSE (${mlp:,.0f}) is not below the linear model's (${linear:,.0f}): "
        "train it longer, or check its hidden layers and learning rate")
    return f"RMSE on {where}: MLP ${mlp:,.0f} < linear ${linear:,.0f} < mean baseline ${baseline:,.0f}"


def check_ranking(results: pd.DataFrame) -> None:
    """The notebook's validation table (your metrics): each model beats the one before it."""
    rmse = results["RMSE ($)"]
    judge_ranking(rmse["mean baseline"], rmse["linear model"], rmse["MLP"], "validation houses")


@collector
def hand_in_ranking(inputs, linear_model, mlp_model, feature_function) -> dict:
    return {"features": held_out_features(feature_function, inputs["order"]), **model_arrays(linear_model, "linear"),
            **model_arrays(mlp_model, "mlp")}


def judge_mlp_threshold(rmse: float, where: str) -> str:
    assert rmse < MLP_HELD_OUT_RMSE_THRESHOLD, (
        f"the MLP's RMSE on {where} is ${rmse:,.0f}; it must be below ${MLP_HELD_OUT_RMSE_THRESHOLD:,.0f}. "
        "Check the features (missing values filled?), the normalisation and the training length")
    return f"MLP RMSE on {where} ${rmse:,.0f} (needs below ${MLP_HELD_OUT_RMSE_THRESHOLD:,.0f})"


def show_mlp_target(results: pd.DataFrame) -> None:
    """The target, and where the MLP stands on validation houses (informative: the test is on others)."""
    print(f"Target: MLP RMSE below ${MLP_HELD_OUT_RMSE_THRESHOLD:,.0f} on the held-out houses; "
          f"on the validation houses it is ${results.loc['MLP', 'RMSE ($)']:,.0f}.")


@collector
def hand_in_mlp_threshold(inputs, mlp_model, feature_function) -> dict:
    return {"features": held_out_features(feature_function, inputs["order"]), **model_arrays(mlp_model, "mlp")}
