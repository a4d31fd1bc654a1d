"""Calibrate an assignment's thresholds: run its reference notebook on several seeds and print
what the judges measured (autograder.judges.MEASUREMENTS), per seed and worst case.

    .venv/bin/python tools/calibrate.py 01 --seeds 0 1 2 3 4

The notebook's `SEED = ...` line is replaced for each run; outside a grading run its hidden tests
draw their inputs and run the judges in the kernel (`coursekit.evidence.collector`). Paste the
printed table next to the threshold in student/coursekit/checks/. Cells that raised are printed
under their seed (a failed check still records what it measured; an error before it records nothing).

The low ends of the students' version ranges (student/pyproject.toml) are calibrated the same way,
under a virtual environment that holds them: install the low ends, then the rest of the
instructor's pins (pyproject.toml) without the libraries the ranges cover, put this repository and
student/ on the environment's path with a .pth file rather than installing the kit (its pins would
replace the low ends), and run this script with that environment's Python:

    python3 -m venv /tmp/low && /tmp/low/bin/pip install tensorflow-cpu==2.18.0 keras==3.8.0 \
        numpy==2.0.0 pandas==2.2.2 matplotlib==3.8.4 ipykernel==6.17.1 gmpy2==2.1.5 phe==1.5.0 \
        nbgrader==0.9.6 nbclient==0.11.0 ...    # the rest of pyproject.toml's dependencies
    printf '%s\n' "$PWD" "$PWD/student" > /tmp/low/lib/python3.11/site-packages/course-kit.pth
    /tmp/low/bin/python tools/calibrate.py 04 --seeds 0
"""

import argparse
import json
import re
import time

import nbclient
import nbformat

from autograder.course import Course

REPORT_CELL = "import json as _json\nfrom autograder.judges import MEASUREMENTS as _m\nprint(_json.dumps(_m))"


def measure(notebook_path, seed: int) -> tuple[dict[str, float], list[str]]:
    """What the judges measured in the reference notebook run with ``seed``, and the errors its cells raised."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        cell.source = re.sub(r"^SEED = \d+", f"SEED = {seed}", cell.source, flags=re.M)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    # allow_errors: a failing check still records what it measured before asserting.
    nbclient.NotebookClient(notebook, timeout=1200, allow_errors=True,
                            resources={"metadata": {"path": str(notebook_path.parent)}}).execute()
    errors = [f"cell {index}: {output.ename}: {output.evalue}".splitlines()[0][:200]
              for index, cell in enumerate(notebook.cells) for output in cell.get("outputs", [])
              if output.output_type == "error"]
    return json.loads(notebook.cells[-1].outputs[-1]["text"]), errors


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
        runs[seed], errors = measure(course.source_dir / assignment / notebook_name, seed)
        print(f"seed {seed} ({time.monotonic() - start:.0f} s): "
              + ", ".join(f"{name} {value:,.4g}" for name, value in sorted(runs[seed].items())), flush=True)
        for error in errors:
            print(f"  seed {seed}: {error}", flush=True)
    for name in sorted({name for run in runs.values() for name in run}):
        values = [run[name] for run in runs.values() if name in run]
        print(f"{name}: min {min(values):,.6g}  max {max(values):,.6g}  values "
              + "  ".join(f"seed {seed}: {run[name]:,.6g}" for seed, run in runs.items() if name in run))


if __name__ == "__main__":
    main()
