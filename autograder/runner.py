"""Executes one notebook inside the sandbox: ``python runner.py NOTEBOOK OUTPUT``.

The sandbox shows this one file of the grader (it imports nothing of the grader's). It runs with
the student's rights, so nothing it writes is trusted: the grader takes only the
outputs from OUTPUT and checks that the cells are the ones it sent. It saves OUTPUT after every
cell, so a run killed at a limit still shows which cells ran.

After each cell it notes, in the cell's metadata (``autograder.exports_written``), the digests of
the files in ``exports/`` that the cell wrote: the grader judges a hidden test's export only if
its own cell wrote it, and nothing changed it afterwards.

Each cell is limited by the CPU time the kernel's processes spend on it (a busy machine slows a
cell down but does not make it use more CPU), with a wall clock only as a generous backstop for
a cell that waits instead of computing. The whole notebook is limited the same way, from outside
the sandbox (`autograder.execution`).
"""

import argparse
import contextlib
import hashlib
import json
import os
import stat
import sys
import threading
import time

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

STOPPED = "StoppedByLimit"
"""ename of the error output put on the cell that a limit stopped (CPU time, memory)."""
STOPPED_BY_WALL_CLOCK = "StoppedByWallClock"
"""ename of the error output put on a cell stopped by the wall-clock backstop."""
EXIT_STOPPED, EXIT_STOPPED_BY_WALL_CLOCK = 3, 4
"""The runner's exit status when it stopped the run at a limit, or at the backstop: what the grader
trusts (the kernel can print an error named like the runner's, but cannot set the runner's exit
status); the grader regrades a run stopped at the backstop once more, alone."""
CPU_POLL_S = 0.5
"""How often the kernel's CPU time is measured while a cell runs."""
EXPORTS, EXPORTS_WRITTEN = "exports", "exports_written"
"""The collectors' folder (`coursekit.evidence.EXPORTS`), and the cell metadata key that lists what each cell wrote there."""
EXPORT_BYTES = 200 * 2**20
"""The largest export the grader reads (`autograder.exports.MAX_BYTES`); a larger one is not digested."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--cell-cpu", type=float, required=True, help="CPU seconds per cell")
    parser.add_argument("--cell-timeout", type=float, required=True, help="wall-clock backstop per cell, seconds")
    parser.add_argument("--cell-output-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(notebook, timeout=args.cell_timeout, kernel_name="python3", allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": "."}})

    exports = export_digests()

    def save(cell, **_):  # after each cell: saved at once, so that a run killed later keeps it
        nonlocal exports
        _limit_output(cell, args.cell_output_bytes)
        exports = _note_exports_written(cell, exports)
        nbformat.write(notebook, args.output)

    client.on_cell_executed = save
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                try:
                    with CellCpuLimit(args.cell_cpu) as cpu:
                        client.execute_cell(cell, index)
                    if cell.cell_type == "code":  # for the run's log: what each cell cost
                        print(f"cell {index + 1}: {cpu.used:.1f} s of CPU time, {cpu.wall_seconds:.1f} s", flush=True)
                except CellTimeoutError:
                    return _stop(notebook, cell, args, f"this cell ran past the {args.cell_timeout:g} s per-cell "
                                 "wall-clock backstop (it waited rather than computed, or the machine was very busy)",
                                 STOPPED_BY_WALL_CLOCK)
                except DeadKernelError:
                    if cpu.exceeded:
                        return _stop(notebook, cell, args, f"this cell used {cpu.used:.0f} s of CPU time, past "
                                     f"the {args.cell_cpu:g} s per-cell limit")
                    return _stop(notebook, cell, args, "the kernel died while running this cell "
                                 "(it exited, or was killed at the memory limit)")
    except DeadKernelError:  # the kernel died outside a cell (while shutting down)
        pass
    nbformat.write(notebook, args.output)
    return 0


def export_digests() -> dict[str, tuple[int, str]]:
    """{file name: (modification time in ns, sha256)} of the regular files in EXPORTS (links, FIFOs
    and oversized files left out): a file written again with the same bytes counts as written."""
    digests = {}
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(EXPORTS))[:1000]:
            with contextlib.suppress(OSError):
                descriptor = os.open(os.path.join(EXPORTS, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(descriptor, "rb") as stream:
                    info = os.fstat(descriptor)
                    if stat.S_ISREG(info.st_mode) and info.st_size <= EXPORT_BYTES:
                        digests[name] = info.st_mtime_ns, hashlib.sha256(stream.read(EXPORT_BYTES + 1)).hexdigest()
    return digests


def _note_exports_written(cell, before: dict) -> dict:
    """Note in ``cell``'s metadata the exports it wrote (new or written again), with their sha256;
    return the digests now."""
    after = export_digests()
    written = {name: digest for name, (mtime, digest) in after.items() if before.get(name) != (mtime, digest)}
    if cell.cell_type == "code":
        cell.metadata.setdefault("autograder", {})[EXPORTS_WRITTEN] = written
    return after


def cpu_seconds(processes) -> float:
    """CPU time of ``processes`` (psutil's), each with the children it waited for; those gone meanwhile count nothing."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def kernel_cpu_seconds() -> float:
    """CPU time of this runner's descendants (the kernel and what it started)."""
    with contextlib.suppress(psutil.Error):
        return cpu_seconds(psutil.Process(os.getpid()).children(recursive=True))
    return 0.0


class CellCpuLimit(threading.Thread):
    """While one cell runs: kills the kernel's processes once they have used ``limit_s`` of CPU
    time since the cell started (nbclient then reports a dead kernel)."""

    def __init__(self, limit_s: float):
        super().__init__(daemon=True)
        self.limit_s, self.used, self.exceeded, self.wall_seconds = limit_s, 0.0, False, 0.0
        self._cpu_at_start, self._wall_at_start = kernel_cpu_seconds(), time.monotonic()
        self._done = threading.Event()

    def __enter__(self) -> "CellCpuLimit":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self.join()
        self.used = max(self.used, kernel_cpu_seconds() - self._cpu_at_start)
        self.wall_seconds = time.monotonic() - self._wall_at_start

    def run(self) -> None:
        while not self._done.wait(CPU_POLL_S):
            self.used = max(self.used, kernel_cpu_seconds() - self._cpu_at_start)
            if self.used > self.limit_s:
                self.exceeded = True
                for process in psutil.Process(os.getpid()).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        process.kill()
                return


def _stop(notebook, cell, args, reason: str, ename: str = STOPPED) -> int:
    """The stopped cell's last output says why; the exit status says that the runner stopped it."""
    cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=reason, traceback=[f"{ename}: {reason}"]))
    cell.execution_count = cell.execution_count or 0
    nbformat.write(notebook, args.output)
    return EXIT_STOPPED_BY_WALL_CLOCK if ename == STOPPED_BY_WALL_CLOCK else EXIT_STOPPED


def _limit_output(cell, limit: int) -> None:
    """Keep outputs up to ``limit`` bytes of JSON; replace the rest with one line saying so."""
    if cell.cell_type != "code":
        return
    kept, size = [], 0
    for output in cell.outputs:
        size += len(json.dumps(output))
        if size > limit:
            kept.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=f"\n[output cut: this cell wrote more than {limit:,} bytes]\n"))
            break
        kept.append(output)
    cell.outputs = kept


if __name__ == "__main__":
    sys.exit(main())
