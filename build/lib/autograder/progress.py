"""How a grading run shows itself while it goes: on a terminal a live table (what each student's
submission is doing, done/total, elapsed and remaining time), elsewhere one log line per event."""

import sys
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .results import SubmissionResult

SHOWN_FINISHED = 5
"""Finished submissions the live table keeps showing, newest first."""


class Progress:
    def __init__(self, assignment: str, total: int, already_graded: int = 0, stream=None, quiet: bool = False):
        self.assignment, self.total = assignment, total
        self.done = already_graded
        self.graded_here = 0
        self.states: dict[str, str] = {}
        """student -> what their submission is doing now (until it is finished)."""
        self.finished: list[str] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()  # workers' start events arrive on another thread
        self._console = Console(file=stream or sys.stderr, highlight=False, quiet=quiet)
        self._live = Live(self._table(), console=self._console, refresh_per_second=2, transient=False) \
            if self._console.is_terminal and not quiet else None

    def __enter__(self) -> "Progress":
        if self._live:
            self._live.start()
        else:
            self._line(f"{self.total} submissions ({self.done} already graded)")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._live:
            self._live.update(self._table())
            self._live.stop()

    def waiting(self, student: str) -> None:
        self._set(student, "waiting for a worker")

    def running(self, student: str, worker: str) -> None:
        self._set(student, f"running on {worker}")

    def scoring(self, student: str) -> None:
        self._set(student, "scoring")

    def finish(self, result: SubmissionResult) -> None:
        with self._lock:
            self.states.pop(result.student, None)
            self.done += 1
            self.graded_here += 1
            summary = f"{result.status} {result.score:g}/{result.max_score:g}" + (f" ({result.reason[:80]})" if result.reason else "")
            self.finished.insert(0, f"{result.student}: {summary}")
        self._show(f"[{self.done}/{self.total}] {result.student}: {summary}, {result.wall_seconds:.0f} s"
                   + (f" on {result.worker}" if result.worker else "") + f" · {self._timing()}")

    def _set(self, student: str, state: str) -> None:
        with self._lock:
            self.states[student] = state
        self._show(f"{student}: {state}")

    def _show(self, line: str) -> None:
        if self._live:
            self._live.update(self._table())
        else:
            self._line(line)

    def _line(self, text: str) -> None:
        self._console.print(f"{self.assignment}: {text}", soft_wrap=True)

    def _timing(self) -> str:
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        estimate = f"about {_duration(elapsed / self.graded_here * left)} left" if self.graded_here and left else \
            ("done" if not left else "remaining time unknown")
        return f"elapsed {_duration(elapsed)}, {estimate}"

    def _table(self) -> Table:
        with self._lock:
            table = Table(title=f"{self.assignment}: {self.done}/{self.total} done · {self._timing()}",
                          title_justify="left", show_edge=False)
            table.add_column("student")
            table.add_column("status")
            for student, state in sorted(self.states.items()):
                table.add_row(student, state)
            for line in self.finished[:SHOWN_FINISHED]:
                student, _, summary = line.partition(": ")
                table.add_row(student, summary, style="dim")
        return table


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
