"""Checks for assignment 1, regression baselines on the Ames house prices.

Models take the matrix returned by the student's ``feature_matrix(frame)`` and predict the sale
price in dollars, shape (None, 1). Metric checks predict the kit's held-out houses
(``data.load_ames("test")``, which the notebook never receives) and the grader judges the
predictions with their sale prices (`judge_held_out`).
"""

import numpy as np
import pandas as pd

from .. import data
from .common import check_close, check_compiled, check_output_shape, judge_exported, judge_held_out, record

TARGET = "SalePrice"

# Held-out RMSE in dollars of the reference notebook, `tools/calibrate.py 01 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   MLP:       seed 0: 28,210  seed 1: 26,146  seed 2: 27,349  seed 3: 27,526  seed 4: 29,661
#   linear:    seed 0: 36,174  seed 1: 33,150  seed 2: 34,894  seed 3: 33,802  seed 4: 33,409
#   baseline:  75,680 - 75,817
# Threshold: the worst MLP run (29,661) plus a 6% margin, rounded; still below every linear run.
MLP_HELD_OUT_RMSE_THRESHOLD = 31_500.0


# --- exercise 1: the split -------------------------------------------------------------------

def _hidden_frame() -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    return pd.DataFrame({"Gr Liv Area": rng.integers(500, 3000, 1001), "SalePrice": rng.integers(10_000, 700_000, 1001)},
                        index=rng.permutation(5000)[:1001])


def check_split(split_function, frame: pd.DataFrame, validation_fraction: float, seed: int = 0) -> None:
    """On a hidden frame, then on ``frame``: the split returns disjoint, shuffled,
    seed-reproducible parts of unchanged rows that cover every row."""
    cases = {"hidden": (_hidden_frame(), 0.25, 3), "given": (frame, validation_fraction, seed)}
    evidence = {}
    for case, (case_frame, fraction, case_seed) in cases.items():
        original = case_frame.copy()
        train, validation = split_function(case_frame, fraction, case_seed)
        assert isinstance(train, pd.DataFrame) and isinstance(validation, pd.DataFrame), (
            "split_train_validation must return two DataFrames (train, validation)")
        evidence |= {f"{case}_rows": case_frame.index.to_numpy(), f"{case}_fraction": fraction,
                     f"{case}_train": train.index.to_numpy(), f"{case}_validation": validation.index.to_numpy(),
                     f"{case}_again": split_function(case_frame, fraction, case_seed)[1].index.to_numpy(),
                     f"{case}_other": split_function(case_frame, fraction, case_seed + 1)[1].index.to_numpy()}
        judge_split(evidence, cases=[case])
        pd.testing.assert_frame_equal(case_frame, original, obj="the input frame (the split must not modify it)")
        for part, name in ((train, "train"), (validation, "validation")):
            pd.testing.assert_frame_equal(part, case_frame.loc[part.index],
                                          obj=f"{name} rows (they must be unchanged rows of the input)")
    judge_exported("test_split", judge_split, **evidence)


def judge_split(arrays, cases=("hidden", "given")) -> None:
    for case in cases:
        rows, train, validation = (arrays[f"{case}_{part}"] for part in ("rows", "train", "validation"))
        expected_validation = round(len(rows) * float(arrays[f"{case}_fraction"]))
        assert abs(len(validation) - expected_validation) <= 1, (
            f"validation has {len(validation)} rows; expected about {expected_validation} "
            f"({float(arrays[f'{case}_fraction']):.0%} of {len(rows)})")
        overlap = set(train) & set(validation)
        assert not overlap, (f"{len(overlap)} rows are in both train and validation: that leaks validation "
                             "data into training. Keep the original index and split it into two disjoint parts")
        assert len(train) + len(validation) == len(rows) and set(train) | set(validation) == set(rows), (
            "train and validation together must hold every row of the frame exactly once")
        assert set(validation) != set(rows[len(rows) - len(validation):]), (
            "validation is the last rows of the frame: the rows are ordered, so shuffle them (with the seed) before splitting")
        assert list(arrays[f"{case}_again"]) == list(validation), (
            "the same seed gave a different split: use np.random.default_rng(seed), not global randomness")
        assert set(arrays[f"{case}_other"]) != set(validation), "a different seed gave the same split: use the seed"


# --- exercise 2: metrics and the baseline ------------------------------------------------------

def reference_mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def reference_rmse(y_true, y_pred) -> float:
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


_METRIC_CASES = [([3, -1, 7], [2, 2, 2]), ([100_000.0] * 4, [90_000.0, 120_000.0, 100_000.0, 0.0]),
                 (np.arange(12.0).reshape(3, 4), np.ones((3, 4))), ([5.5], [5.5])]
_METRICS = {"mean_absolute_error": reference_mae, "root_mean_squared_error": reference_rmse}
_BASELINE_PRICES = [120_000.0, 80_000.0, 400_000.0, 0.0]


def check_metrics(mean_absolute_error, root_mean_squared_error, fit_mean_baseline) -> None:
    """Both metrics on hidden cases, and the baseline of hidden prices, against the references."""
    evidence = {f"{name}_{i}": function(np.asarray(y_true), np.asarray(y_pred))
                for name, function in zip(_METRICS, (mean_absolute_error, root_mean_squared_error))
                for i, (y_true, y_pred) in enumerate(_METRIC_CASES)}
    judge_exported("test_metrics", judge_metrics, **evidence, baseline=fit_mean_baseline(np.array(_BASELINE_PRICES)))


def judge_metrics(arrays) -> None:
    for name, reference in _METRICS.items():
        for i, (y_true, y_pred) in enumerate(_METRIC_CASES):
            check_close(arrays[f"{name}_{i}"], reference(np.asarray(y_true, float), np.asarray(y_pred, float)),
                        f"{name}({list(y_true)}, {list(y_pred)})")
    check_close(arrays["baseline"], np.mean(_BASELINE_PRICES), "fit_mean_baseline([120000, 80000, 400000, 0])")


def check_baseline_price(baseline_price: float, train_frame: pd.DataFrame) -> None:
    assert np.isscalar(baseline_price) or np.ndim(baseline_price) == 0, (
        f"baseline_price must be one number, got shape {np.shape(baseline_price)}")
    judge_exported("test_baseline", judge_baseline_price, baseline_price=float(baseline_price),
                   train_prices=train_frame[TARGET].to_numpy())


def judge_baseline_price(arrays) -> None:
    expected = arrays["train_prices"].mean()
    assert np.isclose(float(arrays["baseline_price"]), expected, rtol=1e-6), (
        f"baseline_price is {float(arrays['baseline_price']):,.2f}; the mean training price is {expected:,.2f}. "
        "The baseline may use the training split only (not validation, not all data)")


# --- exercises 3-5: features, normalisation and models ----------------------------------------

def check_features_and_normalizer(feature_function, normalizer, train_features) -> None:
    """Features for every held-out house without missing values, and a Normalization layer whose
    statistics are those of the training features, no other rows."""
    assert hasattr(normalizer, "mean") and hasattr(normalizer, "variance"), (
        "the normalizer must be a keras.layers.Normalization layer adapted with .adapt(...)")
    judge_exported("test_features_and_normalizer", judge_features_and_normalizer,
                   held_out_features=np.asarray(feature_function(data.load_ames("test")), dtype=np.float64),
                   train_features=np.asarray(train_features, dtype=np.float64),
                   mean=np.asarray(normalizer.mean).reshape(-1), variance=np.asarray(normalizer.variance).reshape(-1))


def judge_features_and_normalizer(arrays) -> None:
    held_out, train_features = arrays["held_out_features"], arrays["train_features"]
    assert held_out.shape == (len(data.load_ames("test")), train_features.shape[1]), (
        "feature_matrix must give one row per house")
    assert np.isfinite(held_out).all(), "feature_matrix leaves missing values on other houses: fill them"
    check_normalizer_statistics(arrays["mean"], arrays["variance"], train_features)


def check_normalizer_statistics(mean, variance, train_features) -> None:
    """The Normalization layer's statistics are those of the training features, no other rows."""
    assert mean.shape == (train_features.shape[1],), (
        f"the normalizer has {mean.shape[0]} feature means; the feature matrix has {train_features.shape[1]} columns")
    assert np.allclose(mean, train_features.mean(axis=0), rtol=1e-4, atol=1e-3) and np.allclose(
        variance, train_features.var(axis=0), rtol=1e-3, atol=1e-3), (
        "the normalizer's mean and variance differ from those of the training features: adapt it on the "
        "training split only (statistics from validation or test rows leak them into training)")


def check_linear_model(model, n_features: int) -> None:
    """Compiled, (None, n) -> (None, 1), and affine: f(a x + (1-a) z) == a f(x) + (1-a) f(z)."""
    _check_regression_model(model, n_features, "the linear model")
    judge_exported("test_linear_model", judge_linear_model, **_affinity_evidence(model, n_features))


def judge_linear_model(arrays) -> None:
    assert _affinity_error(arrays) < 1e-3, (
        "the linear model is not linear in its inputs: remove hidden layers and activations "
        "(Normalization, one Dense(1) with no activation, and a fixed rescaling are all it needs)")


def check_mlp_model(model, n_features: int) -> None:
    """Compiled, (None, n) -> (None, 1), with hidden Dense layers and a nonlinearity."""
    _check_regression_model(model, n_features, "the MLP")
    dense_layers = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert len(dense_layers) >= 2, (
        f"the MLP has {len(dense_layers)} Dense layer(s): it needs at least one hidden Dense layer before the output")
    judge_exported("test_mlp_model", judge_mlp_model, **_affinity_evidence(model, n_features))


def judge_mlp_model(arrays) -> None:
    assert _affinity_error(arrays) > 1e-3, (
        "the MLP computes a linear function: give its hidden layers a nonlinear activation such as 'relu'")


def _check_regression_model(model, n_features: int, what: str) -> None:
    check_compiled(model, what)
    assert tuple(model.input_shape) == (None, n_features), (
        f"{what} takes inputs of shape {tuple(model.input_shape)}; expected (None, {n_features}), one column per feature")
    check_output_shape(model, (None, 1), what, "end with a single unit that predicts the price")
    assert any(layer.__class__.__name__ == "Normalization" for layer in model.layers), (
        f"{what} has no Normalization layer: pass the adapted normalizer in as its first layer")


def _affinity_inputs(mean, std):
    """Random inputs spread like the training features (the normalizer's statistics), and weights
    outside [0, 1] that extrapolate, reaching inputs where a hidden activation bends."""
    rng = np.random.default_rng(0)
    x, z = ((mean + std * rng.standard_normal((128, len(mean)))).astype(np.float32) for _ in range(2))
    return x, z, rng.uniform(-1.0, 2.0, size=(len(x), 1)).astype(np.float32)


def _affinity_evidence(model, n_features: int) -> dict:
    """The model's predictions of f(a x + (1-a) z), f(x) and f(z)."""
    normalizer = next(layer for layer in model.layers if layer.__class__.__name__ == "Normalization")
    mean = np.asarray(normalizer.mean, np.float64).reshape(-1)
    std = np.sqrt(np.asarray(normalizer.variance, np.float64).reshape(-1))
    x, z, a = _affinity_inputs(mean, std)
    return dict(mean=mean, std=std, mixed=model.predict(a * x + (1 - a) * z, verbose=0),
                first=model.predict(x, verbose=0), second=model.predict(z, verbose=0))


def _affinity_error(arrays) -> float:
    """Largest violation of f(a x + (1-a) z) = a f(x) + (1-a) f(z), relative to the output scale."""
    _, _, a = _affinity_inputs(arrays["mean"], arrays["std"])
    combined = a * arrays["first"] + (1 - a) * arrays["second"]
    scale = np.abs(combined).mean() + 1e-9
    return float(np.abs(arrays["mixed"] - combined).max() / scale)


# --- held-out metrics -------------------------------------------------------------------------

def held_out_predictions(model, feature_function) -> np.ndarray:
    """``model``'s predicted prices of the kit's held-out houses."""
    features = np.asarray(feature_function(data.load_ames("test")), dtype=np.float32)
    return np.asarray(model.predict(features, verbose=0), dtype=np.float64).reshape(-1)


def held_out_rmse(predictions: np.ndarray) -> float:
    """RMSE in dollars of predicted prices of the held-out houses (needs their sale prices)."""
    prices = data.load_ames("test")[TARGET].to_numpy(np.float64)
    assert predictions.shape == prices.shape, f"got {predictions.shape} predictions; expected {prices.shape}"
    assert np.all(np.isfinite(predictions)), "the model predicts NaN or infinity on held-out houses"
    return reference_rmse(prices, predictions)


def check_ranking(baseline_price: float, linear_model, mlp_model, feature_function) -> None:
    """On held-out houses: MLP RMSE < linear RMSE < mean-baseline RMSE."""
    judge_held_out("test_held_out_ranking", judge_ranking, baseline_price=float(baseline_price),
                   linear=held_out_predictions(linear_model, feature_function),
                   mlp=held_out_predictions(mlp_model, feature_function))


def judge_ranking(arrays) -> str:
    baseline = record("01/baseline_held_out_rmse",
                      held_out_rmse(np.full_like(arrays["linear"], float(arrays["baseline_price"]))))
    linear = record("01/linear_held_out_rmse", held_out_rmse(arrays["linear"]))
    mlp = record("01/mlp_held_out_rmse", held_out_rmse(arrays["mlp"]))
    assert linear < baseline, (
        f"on held-out houses the linear model's RMSE (${linear:,.0f}) is not below the mean baseline's "
        f"(${baseline:,.0f}): it has not learned. Scale the target (predict price / PRICE_SCALE and "
        "rescale the output) and check the learning rate and epochs")
    assert mlp < linear, (
        f"on held-out houses the MLP's RMSE (${mlp:,.0f}) is not below the linear model's (${linear:,.0f}): "
        "train it longer, or check its hidden layers and learning rate")
    return f"RMSE on the held-out houses: MLP ${mlp:,.0f} < linear ${linear:,.0f} < mean baseline ${baseline:,.0f}"


def check_mlp_threshold(mlp_model, feature_function) -> None:
    judge_held_out("test_mlp_threshold", judge_mlp_threshold, mlp=held_out_predictions(mlp_model, feature_function))


def judge_mlp_threshold(arrays) -> str:
    rmse = record("01/mlp_held_out_rmse", held_out_rmse(arrays["mlp"]))
    assert rmse < MLP_HELD_OUT_RMSE_THRESHOLD, (
        f"the MLP's RMSE on held-out houses is ${rmse:,.0f}; it must be below "
        f"${MLP_HELD_OUT_RMSE_THRESHOLD:,.0f}. Check the features (missing values filled?), the "
        "normalisation and the training length")
    return f"MLP RMSE on the held-out houses ${rmse:,.0f} (needs below ${MLP_HELD_OUT_RMSE_THRESHOLD:,.0f})"
