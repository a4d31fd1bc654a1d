"""Calibrate an assignment's thresholds: run its reference notebook on several seeds and print
what the judges measured (autograder.judges.MEASUREMENTS), per seed and worst case.

    .venv/bin/python tools/calibrate.py 01 --seeds 0 1 2 3 4

The notebook's `SEED = ...` line is replaced for each run; outside a grading run its hidden tests
draw their inputs and run the judges in the kernel (`coursekit.evidence.collector`). Paste the
printed table next to the threshold in student/coursekit/checks/.
"""

import argparse
import json
import re
import time

import nbclient
import nbformat

from autograder.course import Course

REPORT_CELL = "import json as _json\nfrom autograder.judges import MEASUREMENTS as _m\nprint(_json.dumps(_m))"


def measure(notebook_path, seed: int) -> dict[str, float]:
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        cell.source = re.sub(r"^SEED = \d+", f"SEED = {seed}", cell.source, flags=re.M)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    # allow_errors: a failing check still records what it measured before asserting.
    nbclient.NotebookClient(notebook, timeout=1200, allow_errors=True,
                            resources={"metadata": {"path": str(notebook_path.parent)}}).execute()
    return json.loads(notebook.cells[-1].outputs[-1]["text"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    arguments = parser.parse_args()
    course = Course.find()
    [assignment] = course.assignments([arguments.assignment])
    [notebook_name] = course.notebook_names(assignment)
    runs = {}
    for seed in arguments.seeds:
        start = time.monotonic()
        runs[seed] = measure(course.source_dir / assignment / notebook_name, seed)
        print(f"seed {seed} ({time.monotonic() - start:.0f} s): "
              + ", ".join(f"{name} {value:,.4g}" for name, value in sorted(runs[seed].items())), flush=True)
    for name in sorted({name for run in runs.values() for name in run}):
        values = [run[name] for run in runs.values() if name in run]
        print(f"{name}: min {min(values):,.6g}  max {max(values):,.6g}  values "
              + "  ".join(f"seed {seed}: {run[name]:,.6g}" for seed, run in runs.items() if name in run))


if __name__ == "__main__":
    main()
