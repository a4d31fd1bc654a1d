"""The instructor's report of a grading run (`autograder report`): one self-contained HTML page
and a CSV of per-test statistics, made from the run's ledger.

Per test: pass rate (the share of submissions with full points) and two measures of how well
the test separates strong from weak submissions: the corrected item-total correlation (the
correlation of the test's points with the rest of the score) and the upper-lower index (pass
rate in the top 27% of submissions by total score minus that in the bottom 27%). A test everyone
passes, or no one, separates nothing; a negative value says the weak pass it more than the strong.
"""

import base64
import csv
import html
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CourseError
from .ledger import Ledger
from .policy import Grading
from .results import SubmissionResult
from .similarity import SimilarPair

SCORED = ("graded", "timed out", "refused")
"""Statuses whose points count in the statistics (a refused submission keeps its student's last graded
points; rejected and failed submissions are listed apart)."""
SIMILAR_PAIRS_SHOWN = 10
EXTREME_GROUP = 0.27


@dataclass(frozen=True)
class ItemStatistics:
    grade_id: str
    max_points: float
    mean_points: float
    pass_rate: float
    """Share of scored submissions with full points on this test."""
    item_total_correlation: float | None
    """Correlation of this test's points with the total of the other tests (None: no variance)."""
    upper_lower_index: float | None
    """Pass rate in the top 27% by total score minus that in the bottom 27% (None: too few submissions)."""


def item_statistics(results: list[SubmissionResult]) -> list[ItemStatistics]:
    scored = [result for result in results if result.status in SCORED and result.cells]
    if not scored:
        return []
    points = np.array([[cell.points for cell in result.cells] for result in scored])
    maxima = np.array([cell.max_points for cell in scored[0].cells])
    totals = points.sum(axis=1)
    order = np.argsort(totals, kind="stable")
    group = int(np.floor(EXTREME_GROUP * len(scored)))
    statistics = []
    for index, cell in enumerate(scored[0].cells):
        passed = points[:, index] >= maxima[index]
        rest = totals - points[:, index]
        correlation = None
        if points[:, index].std() > 0 and rest.std() > 0:
            correlation = float(np.corrcoef(points[:, index], rest)[0, 1])
        upper_lower = float(passed[order[-group:]].mean() - passed[order[:group]].mean()) if group else None
        statistics.append(ItemStatistics(cell.grade_id, float(maxima[index]), float(points[:, index].mean()),
                                         float(passed.mean()), correlation, upper_lower))
    return statistics


def write_report(output: Path, assignment: str, pairs: list[SimilarPair] = (), policy: Grading | None = None) -> tuple[Path, Path]:
    """report.html and report.csv in the grading ``output`` folder of ``assignment``, with the most
    similar ``pairs`` of submissions and the submission limits of ``policy``."""
    ledger_path = Path(output) / "ledger.jsonl"
    if not ledger_path.exists():
        raise CourseError(f"{output} holds no grading run of {assignment} (no ledger.jsonl): grade it first")
    results = sorted((result for _, result in Ledger(ledger_path).finished.values()), key=lambda r: r.student)
    statistics = item_statistics(results)
    csv_path, html_path = Path(output) / "report.csv", Path(output) / "report.html"
    with open(csv_path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["grade_id", "max_points", "mean_points", "pass_rate", "item_total_correlation", "upper_lower_index"])
        for row in statistics:
            writer.writerow([row.grade_id, f"{row.max_points:g}", f"{row.mean_points:.3f}", f"{row.pass_rate:.3f}",
                             _number(row.item_total_correlation), _number(row.upper_lower_index)])
    html_path.write_text(_page(assignment, results, statistics, list(pairs), policy or Grading()), encoding="utf-8")
    return html_path, csv_path


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


# --- the page -----------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d5dae1; }
.summary { display: flex; gap: 1.2rem; flex-wrap: wrap; margin: 1rem 0; }
.summary div { background: #f2f4f7; border-radius: 6px; padding: .6rem 1rem; }
.summary b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; width: 100%; margin: .8rem 0; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e4e7ec; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.weak { color: #b42318; } .plots { display: flex; flex-wrap: wrap; gap: 1rem; } .plots img { max-width: 31rem; }
.note { color: #5b6473; font-size: .9rem; }
"""


def _page(assignment: str, results: list[SubmissionResult], statistics: list[ItemStatistics], pairs: list[SimilarPair],
          policy: Grading) -> str:
    scored = [result for result in results if result.status in SCORED]
    totals = [result.score for result in scored]
    maximum = results[0].max_score if results else 0
    counts = Counter(result.status for result in results)
    summary = [("submissions", len(results)), *((status, count) for status, count in sorted(counts.items()))]
    if totals:
        summary += [("mean score", f"{np.mean(totals):.1f} / {maximum:g}"),
                    ("median score", f"{np.median(totals):g} / {maximum:g}")]
    flagged = [result for result in results if result.status != "graded" or result.flags]
    sections = [
        f"<h1>{html.escape(assignment)}: grading report</h1>",
        '<div class="summary">' + "".join(f"<div>{html.escape(str(label))}<b>{html.escape(str(value))}</b></div>"
                                          for label, value in summary) + "</div>",
        "<h2>Scores</h2>",
        '<div class="plots">' + _plot(_score_histogram, totals, f"total score (of {maximum:g})", "submissions") + "</div>",
        "<h2>Tests</h2>",
        '<p class="note">Pass rate: share of scored submissions with full points. Discrimination: correlation of the '
        "test's points with the rest of the score, and pass rate of the top 27% minus the bottom 27%; near 0 the test "
        "separates nothing, below 0 weak submissions pass it more than strong ones.</p>",
        _table(["test", "points", "mean", "pass rate", "item-total correlation", "upper-lower index"],
               [[row.grade_id, f"{row.max_points:g}", f"{row.mean_points:.2f}", f"{row.pass_rate:.0%}",
                 _discrimination(row.item_total_correlation), _discrimination(row.upper_lower_index)]
                for row in statistics], numeric_from=1),
        '<div class="plots">' + _plot(_pass_rates, statistics, "pass rate", "", height=1 + 0.3 * len(statistics)) + "</div>",
        "<h2>Runtime and memory</h2>",
        '<div class="plots">' + _plot(_histogram, [r.wall_seconds for r in scored], "seconds per submission", "submissions")
        + _plot(_histogram, [r.peak_memory_mb for r in scored], "peak memory (MB)", "submissions") + "</div>",
        "<h2>Where the notebooks ran</h2>",
        _table(["device", "worker", "submissions"],
               [[device or "-", worker or "-", str(count)] for (device, worker), count in
                sorted(Counter((r.device, r.worker) for r in results if r.status in SCORED).items())], numeric_from=2),
        *_similarity_section(pairs),
        *_limits_section(results, policy),
        f"<h2>Flagged submissions ({len(flagged)})</h2>",
        _table(["student", "status", "score", "why"],
               [[r.student, r.status, f"{r.score:g}", "; ".join(r.flags) or r.reason or "-"] for r in flagged])
        if flagged else "<p>None: every submission was graded without timeouts, crashes or integrity flags.</p>",
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(assignment)}: grading '
            f"report</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>\n")


def _similarity_section(pairs: list[SimilarPair]) -> list[str]:
    shown = pairs[:SIMILAR_PAIRS_SHOWN]
    return ["<h2>Most similar submissions</h2>",
            '<p class="note">Share of the smaller answer\'s fingerprint (winnowed runs of tokens, names and literals '
            "normalised, the handed-out code left out) that the other answer has too. Similar answers are a reason to "
            "look, not proof: read the shared passages.</p>",
            _table(["students", "similarity", "longest shared passage"],
                   [[f"{pair.first} / {pair.second}", f"{pair.similarity:.0%}",
                     max((first for first, _ in pair.shared), key=len, default="-")] for pair in shown])
            if shown else "<p>No pairs to compare.</p>"]


def _limits_section(results: list[SubmissionResult], policy: Grading) -> list[str]:
    limits = [f"at most {policy.max_submissions} graded submissions per student" if policy.max_submissions else
              "no limit on graded submissions",
              f"at least {policy.min_interval_minutes:g} minutes apart" if policy.min_interval_minutes else "no least interval"]
    refused = [result for result in results if result.status == "refused"]
    counts = Counter(result.attempt for result in results if result.attempt)
    return ["<h2>Submission limits</h2>",
            f"<p>{html.escape('; '.join(limits))} (c.Grading in nbgrader_config.py). {len(refused)} student"
            f"{'s' if len(refused) != 1 else ''} whose last submission was refused keep the grade of their last graded one.</p>",
            _table(["graded submissions", "students"], [[str(attempt), str(count)] for attempt, count in sorted(counts.items())],
                   numeric_from=0),
            _table(["student", "refused because"], [[result.student, result.reason] for result in refused]) if refused else ""]


def _discrimination(value: float | None):
    """The value as shown, marked weak below 0.1."""
    if value is None:
        return "-"
    return (f"{value:+.2f}", "n weak") if value < 0.1 else f"{value:+.2f}"


def _table(header: list[str], rows: list[list], numeric_from: int | None = None) -> str:
    """A table of text cells; a cell may be (text, CSS class). Every text is escaped."""
    def cell(index, value, tag="td"):
        text, css = value if isinstance(value, tuple) else (value, "n" if tag == "td" and numeric_from is not None
                                                             and index >= numeric_from else "")
        return f'<{tag}{f" class={css!r}" if css else ""}>{html.escape(text)}</{tag}>'
    head = "<tr>" + "".join(cell(i, h, "th") for i, h in enumerate(header)) + "</tr>"
    body = "".join("<tr>" + "".join(cell(i, value) for i, value in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _plot(draw, values, xlabel: str, ylabel: str, height: float = 3.0) -> str:
    """An inline PNG drawn by ``draw(axis, values)`` (nothing when there is nothing to draw)."""
    if len(values) == 0:
        return ""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.2, height), dpi=110, layout="tight")
    axis = figure.subplots()
    draw(axis, values)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if ylabel == "submissions":  # a count: whole numbers only
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(xlabel)}" src="data:image/png;base64,{encoded}">'


def _histogram(axis, values) -> None:
    axis.hist(values, bins=min(20, max(5, len(set(values)))), color="#4c78a8")


def _score_histogram(axis, totals) -> None:
    """One bar per whole point (scores with fractions fall into the bar below)."""
    axis.hist(totals, bins=np.arange(0, max(totals) + 2) - 0.5, color="#4c78a8", rwidth=0.9)


def _pass_rates(axis, statistics: list[ItemStatistics]) -> None:
    axis.barh([row.grade_id for row in statistics][::-1], [row.pass_rate for row in statistics][::-1], color="#4c78a8")
    axis.set_xlim(0, 1)
