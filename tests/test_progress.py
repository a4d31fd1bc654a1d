"""What a grading run shows while it goes, on a terminal and in a log."""

import io

from autograder.progress import Progress
from autograder.results import CellScore, SubmissionResult


def finished(student, points, status="graded", reason=""):
    return SubmissionResult(student, status, reason, [CellScore("test_add", points, 4)], wall_seconds=12,
                            worker="node-7")


def test_a_log_gets_one_line_per_event_with_done_total_elapsed_and_remaining():
    log = io.StringIO()
    with Progress("01_regression_baselines", total=3, already_graded=1, stream=log) as progress:
        progress.waiting("ann")
        progress.running("ann", "node-7")
        progress.scoring("ann")
        progress.finish(finished("ann", 4))
        progress.finish(finished("bob", 0, "rejected", "01_regression_baselines.ipynb is not valid notebook JSON"))
    lines = log.getvalue().splitlines()
    assert lines[:4] == ["01_regression_baselines: 3 submissions (1 already graded)",
                         "01_regression_baselines: ann: waiting for a worker",
                         "01_regression_baselines: ann: running on node-7", "01_regression_baselines: ann: scoring"]
    assert lines[4].startswith("01_regression_baselines: [2/3] ann: graded 4/4, 12 s on node-7 · elapsed ")
    assert lines[4].endswith(" left")
    assert lines[5].startswith("01_regression_baselines: [3/3] bob: rejected 0/4 (01_regression_baselines.ipynb is not "
                               "valid notebook JSON)") and lines[5].endswith(", done")


def test_a_terminal_gets_a_live_table_of_the_submissions_in_flight():
    screen = io.StringIO()
    progress = Progress("05_shakespeare_lstm", total=40, stream=screen)
    progress._console.force_terminal = True  # as on a terminal
    table = progress._table()
    progress.running("ann", "node-3")
    progress.finish(finished("bob", 4))
    rows = progress._table()
    assert table.title.startswith("05_shakespeare_lstm: 0/40 done · elapsed ")
    assert rows.title.startswith("05_shakespeare_lstm: 1/40 done · elapsed ") and rows.row_count == 2
    assert [cell for cell in rows.columns[1].cells] == ["running on node-3", "graded 4/4"]


def test_quiet_progress_writes_nothing():
    log = io.StringIO()
    with Progress("01_regression_baselines", total=1, stream=log, quiet=True) as progress:
        progress.finish(finished("ann", 4))
    assert log.getvalue() == ""
