"""Executes one notebook inside the sandbox: ``python runner.py NOTEBOOK OUTPUT``.

The sandbox shows this one file of the grader (it imports nothing of the grader's). It runs with
the student's rights, so nothing it writes is trusted: the grader takes only the
outputs from OUTPUT and checks that the cells are the ones it sent. It saves OUTPUT after every
cell, so a run killed at the wall-clock or memory limit still shows which cells ran.
"""

import argparse
import json
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

STOPPED = "StoppedByLimit"
"""ename of the error output put on the cell that stopped the run."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--cell-timeout", type=float, required=True)
    parser.add_argument("--cell-output-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(notebook, timeout=args.cell_timeout, kernel_name="python3", allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": "."}})

    def save(cell, **_):
        _limit_output(cell, args.cell_output_bytes)
        nbformat.write(notebook, args.output)

    client.on_cell_executed = save
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    return _stop(notebook, cell, args, f"this cell ran past the {args.cell_timeout:g} s per-cell limit")
                except DeadKernelError:
                    return _stop(notebook, cell, args, "the kernel died while running this cell "
                                 "(it exited, or was killed at the memory limit)")
    except DeadKernelError:  # the kernel died outside a cell (while shutting down)
        pass
    nbformat.write(notebook, args.output)
    return 0


def _stop(notebook, cell, args, reason: str) -> int:
    cell.outputs.append(nbformat.v4.new_output("error", ename=STOPPED, evalue=reason, traceback=[f"{STOPPED}: {reason}"]))
    cell.execution_count = cell.execution_count or 0
    nbformat.write(notebook, args.output)
    return 0


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
