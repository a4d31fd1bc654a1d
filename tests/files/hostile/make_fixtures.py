"""Writes the guarded fixture assignment's source notebook and one submission per hostile
scenario (``submissions/<scenario>.ipynb``), made from the built student version. Run it again
after changing a scenario: ``python tests/files/hostile/make_fixtures.py``."""

import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
ASSIGNMENT = "00_guarded"
SETUP = '''import numpy as np
from coursekit import evidence
data = np.load("public.npz")
x_train, y_train, x_valid, y_valid = (data[k] for k in ("x_train", "y_train", "x_valid", "y_valid"))


def predict(weights, x):
    return x @ weights[:-1] + weights[-1]'''
ANSWERS = {
    "mse": '''def mean_squared_error(y_true, y_pred):
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))''',
    "fit": '''def fit_linear(x, y):
    design = np.hstack([x, np.ones((len(x), 1))])
    return np.linalg.lstsq(design, y, rcond=None)[0]''',
    "model": '''import keras


def train_linear_model(x, y):
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    model.fit(x, y, epochs=200, batch_size=len(x), verbose=0)
    return model''',
}
WRONG = dict(ANSWERS, fit='''def fit_linear(x, y):
    return np.zeros(x.shape[1] + 1)''', model='''import keras


def train_linear_model(x, y):
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model''')
TESTS = {
    "test_mse": (2, '''assert mean_squared_error([1, 2], [1, 4]) == 2.0
### BEGIN HIDDEN TESTS
a, b = np.random.default_rng(7).normal(size=(2, 50))
evidence.save("test_mse", {"value": mean_squared_error(a, b)})
assert np.isclose(mean_squared_error(a, b), np.mean((a - b) ** 2))
### END HIDDEN TESTS'''),
    "test_fit": (3, '''weights = fit_linear(x_train, y_train)
assert np.shape(weights) == (x_train.shape[1] + 1,)
assert np.mean((predict(weights, x_valid) - y_valid) ** 2) < 0.05
### BEGIN HIDDEN TESTS
evidence.save("test_fit", {"weights": weights})
reference = np.linalg.lstsq(np.hstack([x_train, np.ones((len(x_train), 1))]), y_train, rcond=None)[0]
assert np.allclose(weights, reference)
assert max(abs(w - r) for w, r in zip(weights, reference)) < 1e-6
### END HIDDEN TESTS'''),
    "test_keras_model": (3, '''model = train_linear_model(x_train, y_train)
loss = model.evaluate(x_valid, y_valid, verbose=0)
assert loss < 0.05, f"validation MSE {loss:.3f}"
### BEGIN HIDDEN TESTS
kernel, bias = model.layers[-1].get_weights()
evidence.save("test_keras_model", {"weights": np.append(kernel.ravel(), bias)})
### END HIDDEN TESTS'''),
}


def _cell(source, grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return new_code_cell(source, metadata={"nbgrader": meta})


def _solution(grade_id):
    head, _, body = ANSWERS[grade_id].partition("\n")
    if grade_id == "model":  # keep the import outside the solution region
        imports, _, definition = ANSWERS[grade_id].partition("\n\n\n")
        head, _, body = definition.partition("\n")
        return f"{imports}\n\n\n{head}\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"
    return f"{head}\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"


def source_notebook():
    cells = [new_markdown_cell("# Guarded assignment\nA tiny assignment that the hostile-submission suite attacks."),
             _cell(SETUP, "setup", locked=True)]
    for answer, test in (("mse", "test_mse"), ("fit", "test_fit"), ("model", "test_keras_model")):
        points, source = TESTS[test]
        cells += [_cell(_solution(answer), answer, solution=True), _cell(source, test, grade=True, locked=True, points=points)]
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})


def build_course(root: Path) -> Path:
    """The fixture course in ``root``: the kit's nbgrader_config.py with the fixture's judges, data, built."""
    sys.path.insert(0, str(HERE))
    import guarded_checks

    from autograder.course import Course
    from autograder.pipeline import build

    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    config = (REPO / "nbgrader_config.py").read_text()
    config += f"\nimport sys\nsys.path.insert(0, {str(HERE)!r})\nimport guarded_checks  # registers its judges\n"
    (root / "nbgrader_config.py").write_text(config)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    guarded_checks.write_public_data(root / "source" / ASSIGNMENT / "public.npz")
    course = Course(root)
    build(course)
    return course


# --- scenarios ----------------------------------------------------------------------------------

def _find(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def answered(student_version, answers=ANSWERS):
    notebook = copy.deepcopy(student_version)
    for grade_id, source in answers.items():
        notebook.cells[_find(notebook, grade_id)].source = source
    return notebook


def with_cell(notebook, before: str, source: str):
    """``notebook`` with a student cell holding ``source`` inserted before the cell ``before``."""
    notebook.cells.insert(_find(notebook, before), new_code_cell(source))
    return notebook


def _edit_tests(notebook, edit):
    for grade_id in TESTS:
        edit(notebook.cells[_find(notebook, grade_id)])
    return notebook


def _delete_tests(notebook):
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in TESTS]
    return notebook


def _copy_tests(notebook):
    for grade_id in TESTS:
        index = _find(notebook, grade_id)
        notebook.cells.insert(index, copy.deepcopy(notebook.cells[index]))
    return notebook


def _prefill(cell):
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]


def _to_markdown(cell):
    cell.cell_type = "markdown"
    cell.pop("outputs"), cell.pop("execution_count")


def _comment_out(cell):
    cell.source = "\n".join("# " + line for line in cell.source.splitlines())


def _set_points(cell):
    cell.metadata.nbgrader["points"] = 100


def _schema_99(notebook):
    notebook.cells[_find(notebook, "test_mse")].metadata.nbgrader["schema_version"] = 99
    return notebook


FORGE_EXECUTED = '''import atexit, json
def _forge():  # at kernel exit, rewrite the runner's output so that every cell looks clean
    try:
        notebook = json.load(open("executed.ipynb"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], 1
        json.dump(notebook, open("executed.ipynb", "w"))
    except Exception:
        pass
atexit.register(_forge)'''
SNOOP = '''import os
wanted = ("gradebook.db", "ledger.jsonl", "guarded_checks.py", "nbgrader_config.py")
found = []
for folder, subfolders, files in os.walk("/"):
    # skip the system, the Python install and this notebook's own folder
    subfolders[:] = [d for d in subfolders if d not in ("proc", "sys", "dev", "usr", "lib", "site-packages")]
    if not folder.startswith("/submission"):
        found += [os.path.join(folder, f) for f in files if f in wanted or f.endswith(".ipynb")]
print("found:", found)
for path in found:
    try:
        print(path, open(path, "rb").read(100))
    except OSError as error:
        print(path, error)'''
WRITE_GRADEBOOK = '''import os, sqlite3
reachable = []
for folder, subfolders, files in os.walk("/"):
    subfolders[:] = [d for d in subfolders if d not in ("proc", "sys", "dev", "usr", "lib", "site-packages")]
    reachable += [os.path.join(folder, f) for f in files if f == "gradebook.db"]
for path in reachable:
    sqlite3.connect(path).execute("update grade set manual_score = 100")
print("gradebooks reachable:", reachable)'''
NETWORK = '''import socket
try:
    socket.create_connection(("151.101.0.223", 443), timeout=5)
    print("network: connected")
except OSError as error:
    print("network:", error)'''
DAEMON_LOOP = "while True: time.sleep(1)"
DAEMON = f'''import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\n{DAEMON_LOOP}"], start_new_session=True)'''
MEMORY_BOMB = '''hoard = []
while True:
    hoard.append(bytearray(256 * 2**20))
    hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])'''
FORK_BOMB = '''import os
while True:
    try:
        os.fork()
    except OSError:
        pass'''
SHADOW_NUMPY = 'raise SystemExit("the shadowing numpy.py was imported")\n'
# After the cell of test_mse (so that the runner sees that cell write it), its export replaced:
REPLACE_EXPORT = '''import os
def _replace(result):
    if os.path.exists("exports/test_mse.npz") and not os.path.exists("replaced"):
        open("replaced", "w").close()
        write_export("exports/test_mse.npz")
get_ipython().events.register("post_run_cell", _replace)'''
ZIP_BOMB = '''import zipfile, numpy as np
def write_export(path):  # 1 GB of zeros in a megabyte, its header honest
    token = open("inputs/run_token").read()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("value.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (2**27,)})
            for _ in range(2**10):
                member.write(bytes(2**20))
        with archive.open("_run_token.npy", "w") as member:
            np.lib.format.write_array(member, np.asarray(token))
''' + REPLACE_EXPORT
ENORMOUS_STRING = '''import numpy as np
def write_export(path):
    np.savez(path, value=np.asarray("x" * 20_000_000), _run_token=open("inputs/run_token").read())
''' + REPLACE_EXPORT
EXPORTS_FIFO = '''import os
os.mkfifo("exports")  # opened for reading, it would wait for a writer forever'''
DISK_FILLER = '''block = bytes(200 * 2**20)  # each file under the file-size limit, together past the disk quota
for n in range(20):
    with open(f"filler-{n}", "wb") as stream:
        stream.write(block)'''

# name: (how the submission is made from the student version, extra files beside it)
SCENARIOS = {
    "correct": lambda nb: answered(nb),
    "correct-logging-to-stderr": lambda nb: answered(nb, dict(ANSWERS, fit=ANSWERS["fit"].replace(
        "    design", "    import logging; logging.getLogger('fit').warning('fitting %d rows', len(x))\n    design"))),
    "untouched": lambda nb: nb,
    "wrong-answers": lambda nb: answered(nb, WRONG),
    "deleted-test-cells": lambda nb: _delete_tests(answered(nb)),
    "commented-out-test-cells": lambda nb: _edit_tests(nb, _comment_out),
    "changed-points": lambda nb: _edit_tests(answered(nb), _set_points),
    "test-cells-changed-to-markdown": lambda nb: _edit_tests(nb, _to_markdown),
    "copied-locked-test-cells": lambda nb: _copy_tests(answered(nb)),
    "schema-version-99": lambda nb: _schema_99(answered(nb)),
    "prefilled-passed-outputs": lambda nb: _edit_tests(nb, _prefill),
    "custom-exception-handler-swallows-errors": lambda nb: with_cell(
        nb, "mse", "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"),
    "overridden-showtraceback": lambda nb: with_cell(
        nb, "mse", "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None"),
    "input-transformer-empties-later-cells": lambda nb: with_cell(
        nb, "mse", "get_ipython().input_transformers_post.append(lambda lines: [])"),
    "ast-transformer-removes-asserts": lambda nb: with_cell(answered(nb, WRONG), "mse", '''import ast
class DropAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(DropAsserts())'''),
    "patched-numpy-allclose": lambda nb: with_cell(
        answered(nb, WRONG), "mse", "import numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True"),
    "patched-keras-model-evaluate": lambda nb: with_cell(
        answered(nb, WRONG), "model", "import keras\nkeras.Model.evaluate = lambda self, *a, **k: 0.0"),
    "patched-builtins": lambda nb: with_cell(
        answered(nb, WRONG), "mse", "import builtins\nbuiltins.max = lambda *a, **k: 0"),
    "lying-eq-result": lambda nb: answered(nb, dict(ANSWERS, mse='''class Anything(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__


def mean_squared_error(y_true, y_pred):
    return Anything(0.0)''')),
    "forged-executed-notebook": lambda nb: with_cell(nb, "mse", FORGE_EXECUTED),
    "shadowing-numpy-py": lambda nb: answered(nb),
    "sys-exit-before-tests": lambda nb: with_cell(answered(nb), "test_mse", "import sys\nsys.exit(0)"),
    "os-exit-before-tests": lambda nb: with_cell(answered(nb), "test_fit", "import os\nos._exit(0)"),
    "infinite-loop": lambda nb: with_cell(answered(nb), "model", "while True:\n    pass"),
    "loop-ignoring-sigint": lambda nb: with_cell(
        answered(nb), "model", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
    "memory-bomb": lambda nb: with_cell(answered(nb), "model", MEMORY_BOMB),
    "fork-bomb": lambda nb: with_cell(answered(nb), "model", FORK_BOMB),
    "daemon-outliving-the-kernel": lambda nb: with_cell(answered(nb), "mse", DAEMON),
    "reads-source-gradebook-and-other-submissions": lambda nb: with_cell(answered(nb), "mse", SNOOP),
    "writes-to-the-gradebook": lambda nb: with_cell(nb, "mse", WRITE_GRADEBOOK),
    "opens-a-network-connection": lambda nb: with_cell(answered(nb), "mse", NETWORK),
    "floods-100-mb-of-output": lambda nb: with_cell(answered(nb), "mse", 'print("x" * 100_000_000)'),
    "hard-coded-predictions-for-public-data": lambda nb: with_cell(answered(nb, WRONG), "test_fit", '''_public = dict(zip(map(bytes, x_valid), y_valid))
def predict(weights, x):  # the validation answers, memorised
    return np.array([_public.get(bytes(row), 0.0) for row in x])'''),
    "zip-bomb-export": lambda nb: with_cell(answered(nb), "mse", ZIP_BOMB),
    "enormous-string-export": lambda nb: with_cell(answered(nb), "mse", ENORMOUS_STRING),
    "exports-folder-is-a-fifo": lambda nb: with_cell(answered(nb), "mse", EXPORTS_FIFO),
    "fills-the-disk": lambda nb: with_cell(answered(nb), "model", DISK_FILLER),
    "grade-id-is-a-list": lambda nb: _grade_id_a_list(answered(nb)),
    "600-markdown-cells": lambda nb: _many_markdown_cells(answered(nb)),
    "links-fifo-and-sparse-file-beside-the-notebook": lambda nb: answered(nb),  # the test adds them
}
EXTRA_FILES = {"shadowing-numpy-py": {"numpy.py": SHADOW_NUMPY}}


def _grade_id_a_list(notebook):
    notebook.cells[_find(notebook, "test_mse")].metadata.nbgrader["grade_id"] = ["test_mse"]
    return notebook


def _many_markdown_cells(notebook):
    notebook.cells += [new_markdown_cell(f"note {n}") for n in range(600)]
    return notebook


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        course = build_course(Path(scratch) / "course")
        student_version = nbformat.read(course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    folder = HERE / "submissions"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, make in SCENARIOS.items():
        notebook = make(copy.deepcopy(student_version))
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1, sort_keys=True) + "\n")
        for file_name, text in EXTRA_FILES.get(name, {}).items():
            (folder / f"{name}.{file_name}").write_text(text)
    (folder / "malformed-json.ipynb").write_text(json.dumps(answered(student_version), indent=1)[:2000])
    (folder / "deeply-nested-json.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    lone_surrogate = json.dumps(answered(student_version), indent=1, sort_keys=True).replace('"source": "', '"source": "\\udc80', 1)
    (folder / "lone-surrogate.ipynb").write_text(lone_surrogate)


if __name__ == "__main__":
    main()
