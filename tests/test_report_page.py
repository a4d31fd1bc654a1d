"""The instructor's report of a grading run: per-test statistics, the HTML page and its CSV."""

import csv
import re
import shutil
import subprocess

import pytest

from autograder.ledger import Ledger
from autograder.report_page import item_statistics, write_report
from autograder.results import CellScore, SubmissionResult


def result(student, ability, status="graded", flags=(), seconds=30.0, device="CPU", worker="node-1"):
    """A submission of four tests, of a student of ``ability`` 0-11: everyone passes `test_easy`,
    the abler half `test_hard`, the abler three quarters `test_medium`, and the two least able
    alone `test_rare`."""
    cells = [CellScore("test_easy", 2, 2), CellScore("test_medium", 2 * (ability >= 3), 2),
             CellScore("test_hard", 3 * (ability >= 6), 3), CellScore("test_rare", 1 * (ability < 2), 1)]
    return SubmissionResult(student, status, "; ".join(flags), cells, flags=list(flags), wall_seconds=seconds,
                            peak_memory_mb=500 + seconds, device=device, worker=worker)


BATCH = [result(f"student{ability:02d}", ability, seconds=20 + ability) for ability in range(12)]


def test_a_test_passed_by_the_strong_alone_discriminates_and_one_passed_by_all_does_not():
    statistics = {row.grade_id: row for row in item_statistics(BATCH)}
    assert statistics["test_easy"].pass_rate == 1 and statistics["test_easy"].item_total_correlation is None
    assert statistics["test_easy"].upper_lower_index == 0
    assert statistics["test_hard"].pass_rate == 0.5 and statistics["test_hard"].item_total_correlation > 0.5
    assert statistics["test_hard"].upper_lower_index == 1
    assert statistics["test_rare"].item_total_correlation < 0 and statistics["test_rare"].upper_lower_index == -2 / 3, (
        "passed by weak submissions only")


def test_rejected_and_failed_submissions_do_not_count_in_the_statistics():
    statistics = item_statistics(BATCH + [result("broken", 0, status="rejected")])
    assert statistics == item_statistics(BATCH)


@pytest.fixture
def graded_run(tmp_path):
    """A grading folder whose ledger holds the batch, a timed-out and a flagged submission."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for entry in BATCH + [result("slow", 4, status="timed out", flags=["the notebook ran past its 1800 s limit"]),
                          result("<b>sneaky</b>", 4, flags=["test_hard: passed in the notebook, but the grader "
                                                            "cannot judge it"], device="GPU: H200")]:
        ledger.record(entry, "fingerprint")
    return tmp_path


def test_the_report_shows_scores_tests_runtimes_devices_and_flagged_submissions(graded_run):
    page, table = write_report(graded_run, "01_regression_baselines")
    text = page.read_text()
    for heading in ("Scores", "Tests", "Runtime and memory", "Where the notebooks ran", "Flagged submissions (2)"):
        assert f"<h2>{heading}</h2>" in text
    assert "&lt;b&gt;sneaky&lt;/b&gt;" in text and "<b>sneaky" not in text, "student names are escaped"
    assert "GPU: H200" in text and "the notebook ran past its 1800 s limit" in text
    assert not re.search(r"""(src|href)=["'](?!data:)""", text), "the page is self-contained"
    with open(table) as stream:
        rows = {row["grade_id"]: row for row in csv.DictReader(stream)}
    assert list(rows) == ["test_easy", "test_medium", "test_hard", "test_rare"]
    assert rows["test_easy"]["item_total_correlation"] == ""
    assert rows["test_hard"]["pass_rate"] == f"{6 / 14:.3f}", "the abler half of 12, and neither of the two added"


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium (installed by .ci/run)")
def test_the_report_renders_in_headless_chromium(graded_run, tmp_path):
    page, _ = write_report(graded_run, "01_regression_baselines")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(["chromium", *flags, f"--screenshot={screenshot}", "--window-size=1280,2600", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and screenshot.stat().st_size > 20_000, shot.stderr[-2000:]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "Flagged submissions (2)" in dom.stdout and dom.stdout.count("<img") == 4, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "ERR_" not in dom.stderr
    print(f"\nscreenshot: {screenshot}")
