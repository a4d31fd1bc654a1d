"""Judges of assignment 1 (regression baselines on the Ames house prices): the hidden inputs, the
reference metrics and the held-out sale prices."""

import numpy as np

from coursekit.checks import regression as checks

from .. import data
from ..models import compile_config, rebuilt
from .registry import held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT


def reference_mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64))))


def reference_rmse(y_true, y_pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)) ** 2)))


# --- exercise 1: the split -------------------------------------------------------------------

def split_inputs(rng) -> dict:
    """A frame of a few hundred houses under a shuffled, gappy index, a fraction and a seed."""
    rows = int(rng.integers(150, 1200))
    return {"index": rng.permutation(10 * rows)[:rows], "area": rng.integers(500, 3000, rows),
            "price": rng.integers(10_000, 700_000, rows), "fraction": rng.uniform(0.1, 0.4),
            "seed": rng.integers(0, 2**31)}


@judge("test_split", checks.hand_in_split, draw=split_inputs)
def judge_split(inputs, evidence) -> None:
    checks.judge_split(checks.split_frame(inputs), float(inputs["fraction"]), evidence)


# --- exercise 2: metrics and the baseline ------------------------------------------------------

def metrics_inputs(rng) -> dict:
    """Integers of both signs (unsigned arithmetic overflows on them), prices, a 2-D case and a
    perfect prediction; prices for the baseline, one of them 0."""
    length = int(rng.integers(5, 12))
    prices = rng.uniform(50_000, 500_000, int(rng.integers(20, 50)))
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    same = rng.normal(size=int(rng.integers(1, 4)))
    cases = [(rng.integers(-10, 11, length), rng.integers(-10, 11, length)),
             (prices, prices + rng.normal(0, 30_000, len(prices))),
             (rng.normal(size=shape), rng.normal(size=shape)), (same, same.copy())]
    baseline_prices = np.append(rng.uniform(10_000, 400_000, int(rng.integers(3, 9))), 0.0)
    return {"cases": len(cases), "prices": rng.permutation(baseline_prices),
            **{f"y_true_{i}": y_true for i, (y_true, _) in enumerate(cases)},
            **{f"y_pred_{i}": y_pred for i, (_, y_pred) in enumerate(cases)}}


@judge("test_metrics", checks.hand_in_metrics, draw=metrics_inputs)
def judge_metrics(inputs, evidence) -> None:
    cases = checks.metric_cases(inputs)
    expected = {f"{name}_{i}": reference(y_true, y_pred)
                for name, reference in zip(checks.METRICS, (reference_mae, reference_rmse))
                for i, (y_true, y_pred) in enumerate(cases)}
    checks.judge_metrics(cases, inputs["prices"], evidence, expected | {"baseline": float(np.mean(inputs["prices"]))})


@judge("test_baseline", checks.hand_in_baseline_price)
def judge_baseline_price(inputs, evidence) -> None:
    prices = data.load_ames()[checks.TARGET]
    rows = checks.judged_training_rows(evidence["train_index"], prices.index)
    checks.judge_baseline_price(evidence["baseline_price"], float(prices.loc[rows].mean()))


# --- exercises 3-5: features, normalisation and models ----------------------------------------

@judge("test_features_and_normalizer", checks.hand_in_features_and_normalizer)
def judge_features_and_normalizer(inputs, evidence) -> None:
    """The features are checked against the grader's own copy of the houses' columns, on the rows of
    the student's training split and on the held-out houses; the normaliser's statistics against
    those checked features."""
    houses, held_out = data.load_ames(), data.load_ames("test")
    names = [str(name) for name in np.asarray(evidence["features"]).reshape(-1)]
    unknown = [name for name in names if name not in houses.columns or name == checks.TARGET
               or houses[name].dtype.kind not in "biuf"]
    assert names and not unknown, (f"FEATURES names {unknown[:5] or 'nothing'}: they must be numeric columns of the "
                                   "houses' table other than the sale price")
    rows = checks.judged_training_rows(evidence["train_index"], houses.index)
    checks.judge_features_and_normalizer(evidence, len(held_out))
    checks.judge_feature_columns(np.asarray(evidence["train_features"], np.float64), houses.loc[rows, names], "training houses")
    checks.judge_feature_columns(np.asarray(evidence["held_out_features"], np.float64), held_out[names], "held-out houses")


def affinity_seed(rng) -> dict:
    return {"seed": rng.integers(0, 2**31)}


MODEL_LAYERS = {"Normalization", "Dense", "Rescaling", "Dropout"}
"""What the grader rebuilds of the notebook's models (the exercises need no more)."""


def exported_model(evidence, name: str):
    """The model the notebook exported under ``name``, rebuilt here (`autograder.models`)."""
    return rebuilt(evidence, name, MODEL_LAYERS)


def affinity(inputs, evidence, what: str) -> tuple:
    """(the rebuilt model, its affinity evidence on inputs drawn from the run's seed), measured here."""
    model = exported_model(evidence, "model")
    compiled = compile_config(evidence, "model") is not None
    return model, checks.affinity_evidence(model, int(evidence["n_features"]), what, int(inputs["seed"]), compiled)


@judge("test_linear_model", checks.hand_in_linear_model, draw=affinity_seed)
def judge_linear_model(inputs, evidence) -> None:
    _, measured = affinity(inputs, evidence, "the linear model")
    checks.judge_linear_model(measured, int(inputs["seed"]))


@judge("test_mlp_model", checks.hand_in_mlp_model, draw=affinity_seed)
def judge_mlp_model(inputs, evidence) -> None:
    model, measured = affinity(inputs, evidence, "the MLP")
    checks.mlp_structure(model)
    checks.judge_mlp_model(measured, int(inputs["seed"]))


# --- held-out metrics -------------------------------------------------------------------------

HELD_OUT = "the held-out houses"
RMSE_STEP = 10_000
"""Held-out RMSEs are shown to the nearest $10,000 and to one significant digit (`Rounded`): a
probe that reads one house's price from the change in RMSE then tells it less well than the mean
price does (tests/test_feedback_oracle.py)."""


def shown_rmse(name: str, rmse: float) -> float:
    """A held-out RMSE as feedback shows it (`RMSE_STEP`, one significant digit), recorded exactly."""
    return record(name, rmse, RMSE_STEP, significant=1)


held_out_houses_order = held_out_order(lambda: len(data.load_ames("test")))


def held_out_rmse(predictions: np.ndarray, order: np.ndarray) -> float:
    """RMSE in dollars of predicted prices of the held-out houses in ``order`` (needs their sale prices)."""
    prices = data.load_ames("test")[checks.TARGET].to_numpy(np.float64)[order]
    predictions = np.asarray(predictions, np.float64).reshape(-1)
    assert predictions.shape == prices.shape, f"got {predictions.shape} predictions; expected {prices.shape}"
    assert np.all(np.isfinite(predictions)), "the model predicts NaN or infinity on held-out houses"
    return reference_rmse(prices, predictions)


def held_out_model_rmse(inputs, evidence, name: str) -> float:
    """The held-out RMSE of the model exported as ``name``, predicted here from the notebook's
    features of the held-out houses in this run's order."""
    order, features = inputs["order"], np.asarray(evidence["features"], np.float32)
    assert features.ndim == 2 and len(features) == len(order), (
        f"feature_matrix gives an array of shape {features.shape} for {len(order)} held-out houses")
    predictions = exported_model(evidence, name).predict(features, verbose=0)
    return shown_rmse(f"01/{name}_held_out_rmse", held_out_rmse(predictions, order))


@judge("test_held_out_ranking", checks.hand_in_ranking, draw=held_out_houses_order)
def judge_ranking(inputs, evidence) -> str:
    training_mean = float(data.load_ames()[checks.TARGET].mean())
    baseline = shown_rmse("01/baseline_held_out_rmse", held_out_rmse(np.full(len(inputs["order"]), training_mean),
                                                                     inputs["order"]))
    linear, mlp = held_out_model_rmse(inputs, evidence, "linear"), held_out_model_rmse(inputs, evidence, "mlp")
    return checks.judge_ranking(baseline, linear, mlp, HELD_OUT)


@judge("test_mlp_threshold", checks.hand_in_mlp_threshold, draw=held_out_houses_order)
def judge_mlp_threshold(inputs, evidence) -> str:
    return checks.judge_mlp_threshold(held_out_model_rmse(inputs, evidence, "mlp"), HELD_OUT)
