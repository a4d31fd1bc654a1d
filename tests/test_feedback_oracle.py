"""Feedback is no oracle: the best probe submission, which reads a held-out house's price from how
one extreme prediction changes the RMSEs the feedback shows, learns less about that price than
guessing the average price would tell.

The probe (from an attack on assignment 1): one model predicts a constant c for every house, the
other c too, except D dollars more on house j (a feature column that is 1 on house j alone does
it). The feedback shows both RMSEs, and n (R_2^2 - R_1^2) = D (D + 2c - 2 y_j) gives y_j. Shown
exactly, that reads every price to the dollar; shown to the nearest RMSE_STEP and one significant digit it must not."""

import functools

import numpy as np
import pytest

from autograder import data
from autograder.judges import regression as judges
from coursekit.checks import regression as checks


def probe(prices: np.ndarray, house: int, constant: float, spike: float) -> float:
    """The price of ``house`` that the probe reads from the RMSEs as feedback shows them."""
    order = np.arange(len(prices))
    def shown(predictions):
        return float(f"{judges.shown_rmse('probe', judges.held_out_rmse(predictions, order)):.0f}")
    baseline = np.full(len(prices), constant)
    linear = baseline.copy()
    linear[house] += spike
    linear_rmse, baseline_rmse = shown(linear), shown(baseline)
    return (spike + 2 * constant - len(prices) * (linear_rmse ** 2 - baseline_rmse ** 2) / spike) / 2


@pytest.mark.slow
def test_the_best_probe_reads_less_than_the_average_price_tells(monkeypatch):
    monkeypatch.setattr(data, "load_ames", functools.cache(data.load_ames))  # read once, not per probe
    prices = data.load_ames("test")[checks.TARGET].to_numpy(np.float64)
    constant = float(data.load_ames("train")[checks.TARGET].mean())
    guessing_the_mean = np.mean(np.abs(prices - constant))
    errors = {spike: np.mean([abs(probe(prices, house, constant, spike) - prices[house]) for house in range(len(prices))])
              for spike in np.geomspace(1e3, 1e8, 26)}
    best_spike = min(errors, key=errors.get)
    print(f"probe error by spike: { {f'{k:.0e}': round(v) for k, v in errors.items()} }; guessing the mean: {guessing_the_mean:.0f}")
    assert errors[best_spike] >= guessing_the_mean, (
        f"a probe with a ${best_spike:,.0f} spike reads held-out prices to ${errors[best_spike]:,.0f} on average, "
        f"better than the ${guessing_the_mean:,.0f} of guessing the mean price")


def test_the_probe_would_read_every_price_if_the_feedback_were_exact(monkeypatch):
    """The attack works: with the figures shown exactly it reads prices to the dollar."""
    prices = np.random.default_rng(0).uniform(50_000, 500_000, 300)
    monkeypatch.setattr(judges, "held_out_rmse", lambda predictions, order: float(np.sqrt(np.mean((predictions - prices) ** 2))))
    monkeypatch.setattr(judges, "shown_rmse", lambda name, value: value)
    read = [probe(prices, house, 200_000.0, 1e6) for house in range(10)]
    assert np.allclose(read, prices[:10], atol=1000)
