"""release: what students get, and a scan that proves it holds nothing they must not have.

The bundle holds the student notebooks (`assignments/`, as `build` generates them), the students'
wheel (`student/`, built with the manifest of the students' data written into it; it declares
version ranges), requirements files (two pinning the versions the thresholds were calibrated with,
as the instructor's kit pins them, and one for Colab that keeps the platform's own builds) and a
README; beside it, optionally, the students' data mirror (the course data without the held-out
answers, `data.student_data`), which the instructor publishes for ``coursekit data fetch``.
Everything written is scanned (`scan`) for hidden-test source, solution code, the grader's code
(judges, reference implementations, hidden-input generators) and held-out answers; a release with
any of them is refused.
"""

import dataclasses
import email.parser
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import autograder
import coursekit

from . import data
from .course import Course
from .errors import ReleaseError
from .pipeline import build
from .results import ReleaseResult

STUDENT_PACKAGE = "student"
"""The students' distribution (keras-course-student) in the course folder."""
MANIFEST_IN_WHEEL = "student_manifest.json"
SHORTEST_CODE_LINE = 30
"""Solution and grader lines at least this long are looked for in what students get (shorter ones,
such as ``return model``, are not distinctive)."""


def release(course: Course, assignments=None, output=None, data_mirror=None, data_url: str | None = None) -> ReleaseResult:
    """Write the student bundle of ``assignments`` (default: all) into ``output`` (replacing what is
    there), and with ``data_mirror`` the students' data mirror; ``data_url`` is the address the
    README tells students to fetch the data from."""
    chosen = course.assignments(assignments)
    build(course, chosen)
    output = Path(output or course.root / "release").resolve()
    files = data.student_data()
    manifest = data.student_manifest(files)
    with tempfile.TemporaryDirectory(prefix="autograder-release-", dir=output.parent if output.parent.exists() else None) as scratch:
        bundle = Path(scratch) / "bundle"
        wheel = _student_wheel(course, manifest, bundle / "wheels")
        for assignment in chosen:
            shutil.copytree(course.release_dir / assignment, bundle / assignment,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        _write_requirements(bundle, wheel)
        (bundle / "README.md").write_text(student_readme(chosen, wheel.name, data_url), encoding="utf-8")
        problems = scan([bundle], Forbidden.of(course, manifest))
        if problems:
            raise ReleaseError("refusing to release a bundle that holds what students must not get:\n- " + "\n- ".join(problems))
        shutil.rmtree(output, ignore_errors=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(bundle, output)
    mirror = _write_data_mirror(files, manifest, Path(data_mirror).resolve()) if data_mirror else None
    return ReleaseResult(output, output / "wheels" / wheel.name, chosen, _size(output), mirror,
                         _size(mirror) if mirror else 0, len(manifest) if mirror else 0)


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _student_wheel(course: Course, manifest, folder: Path) -> Path:
    """The students' wheel, built from a copy of student/ with ``manifest`` written into its data package."""
    source = course.root / STUDENT_PACKAGE
    if not (source / "pyproject.toml").exists():
        raise ReleaseError(f"the students' package is not at {source} (it needs its pyproject.toml)")
    with tempfile.TemporaryDirectory(prefix="autograder-wheel-") as scratch:
        copy = Path(scratch) / STUDENT_PACKAGE
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"))
        (copy / "coursekit" / "data" / MANIFEST_IN_WHEEL).write_text(
            json.dumps([dataclasses.asdict(entry) for entry in manifest], indent=1), encoding="utf-8")
        _enable_package_data(copy / "pyproject.toml")
        folder.mkdir(parents=True)
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder),
                                str(copy)], capture_output=True, text=True)
    if built.returncode != 0:
        raise ReleaseError(f"pip could not build the students' wheel:\n{built.stderr[-2000:]}")
    [wheel] = folder.glob("*.whl")
    return wheel


def _enable_package_data(pyproject: Path) -> None:
    """Ship the manifest in the wheel (setuptools leaves out files that are not Python modules)."""
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text + f'\n[tool.setuptools.package-data]\n"coursekit.data" = ["{MANIFEST_IN_WHEEL}"]\n',
                         encoding="utf-8")


GRADER_DISTRIBUTION = "keras-course-kit"
"""The instructor's distribution (the repository root's pyproject.toml): its exact pins are the versions the
thresholds were calibrated with, and what requirements.txt and requirements-gpu.txt pin."""
def wheel_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of ``wheel``'s metadata."""
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode("utf-8")
    return email.parser.Parser().parsestr(text).get_all("Requires-Dist") or []


def calibrated_pins(wheel: Path, extra: str | None) -> list[str]:
    """The exact versions of what ``wheel`` (with ``extra``) requires, as the instructor's kit pins them: the
    students' wheel declares ranges (a platform's own builds are kept), the bundle's requirements the ends the
    thresholds were calibrated at."""
    try:
        grader = importlib.metadata.requires(GRADER_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise ReleaseError(f"the instructor's kit ({GRADER_DISTRIBUTION}) is not installed, and its pins are what the "
                           "bundle's requirements pin: pip install -e ./student -e '.[cpu]'") from None
    pins = {}
    for text in grader:
        requirement = Requirement(text)
        [*specifiers] = requirement.specifier
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            pins[canonicalize_name(requirement.name)] = f"{canonicalize_name(requirement.name)}{extras}=={specifiers[0].version}"
    chosen = []
    for text in wheel_requirements(wheel):
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": extra or ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in pins:
            raise ReleaseError(f"the students' wheel requires {name} ({requirement.specifier or 'any version'}), but the "
                               f"instructor's kit ({GRADER_DISTRIBUTION}, pyproject.toml) pins no exact version of it for "
                               "requirements.txt")
        chosen.append(pins[name])
    return chosen


CALIBRATED = "# The Keras course's packages at the versions its thresholds were calibrated with (the grader's own)"
REQUIREMENTS = {
    "requirements.txt": ("cpu", f"{CALIBRATED};\n# TensorFlow's CPU build."),
    "requirements-gpu.txt": ("gpu", f"{CALIBRATED};\n# TensorFlow's NVIDIA GPU build (Linux)."),
    "requirements-colab.txt": (None, "# The Keras course's package alone, for Colab or a hub that has TensorFlow: it installs no\n"
                                     "# TensorFlow, and the wheel's version ranges keep the platform's own Keras, NumPy, pandas\n"
                                     "# and matplotlib where they lie in them."),
}
"""Each requirements file of the bundle: the wheel's extra (whose calibrated versions it pins), and its header."""


def _write_requirements(bundle: Path, wheel: Path) -> None:
    name, version = wheel.name.split("-")[:2]
    distribution = name.replace("_", "-")
    for file, (extra, header) in REQUIREMENTS.items():
        pins = calibrated_pins(wheel, extra) if extra else []
        lines = [header, f"# Install from this folder: pip install -r {file}", *pins, "--find-links wheels",
                 f"{distribution}{f'[{extra}]' if extra else ''}=={version}"]
        (bundle / file).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_data_mirror(files: dict[str, Path], manifest, mirror: Path) -> Path:
    """The students' data files laid out like the data folder, with their SHA256SUMS."""
    shutil.rmtree(mirror, ignore_errors=True)
    for relpath, path in files.items():
        (mirror / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, mirror / relpath)
    (mirror / "SHA256SUMS").write_text("".join(f"{entry.sha256}  {entry.path}\n" for entry in manifest), encoding="utf-8")
    problems = scan_data_mirror(mirror, manifest)
    if problems:
        raise ReleaseError("the students' data mirror does not hold what its manifest lists:\n- " + "\n- ".join(problems))
    return mirror


def scan_data_mirror(mirror: Path, manifest) -> list[str]:
    """Problems of a students' data mirror: files missing, changed, unlisted or withheld."""
    listed = {entry.path: entry.sha256 for entry in manifest}
    withheld = Forbidden.withheld_data(manifest)
    problems = []
    for path in sorted(p for p in mirror.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        relpath, sha256 = path.relative_to(mirror).as_posix(), data.sha256_of(path)
        if sha256 in withheld:
            problems.append(f"{relpath}: it is {withheld[sha256]}, whose answers are withheld from students")
        elif listed.get(relpath) != sha256:
            problems.append(f"{relpath}: not in the students' manifest as these bytes")
    problems += [f"{relpath}: missing" for relpath in listed if not (mirror / relpath).is_file()]
    return problems


# --- what students must not get -------------------------------------------------------------------

@dataclass(frozen=True)
class Forbidden:
    """What a student bundle must not contain, each by the text (or sha256) that gives it away."""

    lines: dict[str, str]
    """Distinctive code lines -> what they are (a hidden test, a solution, the grader's code)."""
    withheld: dict[str, str]
    """sha256 -> the course data file whose answers it holds."""

    MARKERS = {"### BEGIN SOLUTION": "a solution region", "### BEGIN HIDDEN TESTS": "a hidden-test region",
               "### BEGIN MARK SCHEME": "a mark scheme"}

    @classmethod
    def of(cls, course: Course, student_manifest=None) -> "Forbidden":
        """What the course's students must not get; ``student_manifest``: `data.student_manifest`
        of the data they get (made here if not given)."""
        allowed = _student_lines(course)
        lines = {}
        for assignment in course.assignments():
            for name in course.notebook_names(assignment):
                notebook = nbformat.read(course.source_dir / assignment / name, as_version=4)
                for cell in notebook.cells:
                    for region, what in (("HIDDEN TESTS", "hidden-test source"), ("SOLUTION", "solution code")):
                        for line in _region_lines(cell.source, region):
                            if line not in allowed and (region == "HIDDEN TESTS" or len(line) >= SHORTEST_CODE_LINE):
                                lines[line] = f"{what} of {assignment}"
        grader = Path(autograder.__file__).parent
        for path in sorted(grader.rglob("*.py")):
            for line in _code_lines(path.read_text(encoding="utf-8")):
                if len(line) >= SHORTEST_CODE_LINE and line not in allowed:
                    lines.setdefault(line, f"the grader's code ({path.relative_to(grader.parent).as_posix()})")
        return cls(lines, cls.withheld_data(student_manifest or data.student_manifest(data.student_data())))

    @staticmethod
    def withheld_data(student_manifest) -> dict[str, str]:
        """sha256 -> path of each course data file that students get only without its answers."""
        students = {entry.sha256 for entry in student_manifest}
        return {entry.sha256: entry.path for entry in data.MANIFEST if entry.sha256 not in students}

    def problems(self, name: str, body: bytes) -> list[str]:
        found = []
        sha256 = hashlib.sha256(body).hexdigest()
        if sha256 in self.withheld:
            found.append(f"{name}: it is {self.withheld[sha256]}, whose answers are withheld from students")
        if name.endswith((".npz", ".npy")):
            found.append(f"{name}: arrays (hidden inputs or answers?) have no place in a student bundle")
        text = _text_of(name, body)
        if text is None:
            return found
        found += [f"{name}: {what} ({marker!r})" for marker, what in self.MARKERS.items() if marker in text]
        seen = set()
        for line in _code_lines(text):
            if line in self.lines and self.lines[line] not in seen:
                seen.add(self.lines[line])
                found.append(f"{name}: {self.lines[line]}: {line[:80]!r}")
        return found


def _student_lines(course: Course) -> set[str]:
    """Lines students get anyway: the student notebooks', the students' package's and their README's."""
    lines = set(_code_lines(STUDENT_README))
    for notebook_path in course.release_dir.rglob("*.ipynb"):
        for cell in nbformat.read(notebook_path, as_version=4).cells:
            lines |= set(_code_lines(cell.source))
    for path in Path(coursekit.__file__).parent.rglob("*.py"):
        lines |= set(_code_lines(path.read_text(encoding="utf-8")))
    return lines


def _code_lines(text: str) -> list[str]:
    """The stripped lines of ``text`` that could give code away: not comments, not imports."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "import ", "from "))]


def _region_lines(source: str, region: str) -> list[str]:
    pattern = rf"### BEGIN {region}\n(.*?)### END {region}"
    return [line for block in re.findall(pattern, source, flags=re.S) for line in _code_lines(block)]


def _text_of(name: str, body: bytes) -> str | None:
    """The text to search in a file: a notebook's cell sources, or a text file's contents."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if name.endswith(".ipynb"):
        try:
            return "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        except Exception:
            return text
    return text


def scan(paths, forbidden: Forbidden) -> list[str]:
    """Everything ``forbidden`` that the files under ``paths`` (folders, files, wheels opened up) hold."""
    problems = []
    for root in map(Path, paths):
        for path in sorted([root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())):
            name = path.as_posix()
            if path.suffix in (".whl", ".zip"):
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        problems += forbidden.problems(f"{name}!{member}", archive.read(member))
            else:
                problems += forbidden.problems(name, path.read_bytes())
    return problems


STUDENT_README = """# {title}: the student bundle

This folder is everything you need for the course's graded notebooks: {count} assignments, the
course's Python package (`{wheel}`: the data loaders and the checks the notebooks run), the
requirements, and this README. The course data comes separately, from your instructor's mirror
(about 130 MB): the training data, and the held-out inputs without their answers (your models are
graded on those by the instructor's grader, which keeps the answers).

| assignment | notebook |
|---|---|
{table}

Each notebook says how long it takes on a laptop CPU and on a GPU. Fill in every `# YOUR CODE HERE`;
the check cells after each exercise run visible tests that say what is wrong. The hidden tests run
only when your notebook is graded, on inputs drawn anew for every grading run.

## On a laptop (Linux, macOS or Windows, Python 3.10-3.13)

```bash
python3 -m venv course-env
source course-env/bin/activate            # Windows: course-env\\Scripts\\activate
pip install -r requirements.txt           # requirements-gpu.txt with an NVIDIA GPU (Linux)
pip install jupyterlab
coursekit data fetch --mirror {data_url}
jupyter lab
```

`requirements.txt` installs the versions the course's thresholds were calibrated with; the package
itself accepts a range of versions of each (calibrated at both ends), so an environment that
already has them keeps its own.

The data goes to `~/course-data`; set `COURSE_DATA_DIR` to keep it elsewhere (set it again before
starting Jupyter). `coursekit data verify` checks every file's sha256.

## On JupyterHub

Your course's hub may already have the package and the data: open the assignment from the
Assignments tab (nbgrader) and start. Otherwise, in a terminal on the hub:

```bash
pip install --user -r requirements.txt
coursekit data fetch --mirror {data_url}
```

If the hub already has TensorFlow (2.18 or newer), install `requirements-colab.txt` instead: it
keeps the hub's own TensorFlow, and its Keras, NumPy, pandas and matplotlib where they lie in the
package's ranges.

(For the hub's administrator: `pip install -r requirements.txt` into the user image, and fill one
read-only data folder for everyone with `COURSE_DATA_DIR=/srv/course-data coursekit data fetch
--mirror ...`, then set `COURSE_DATA_DIR` in the user environment.)

## On Google Colab

Upload the notebook, and upload this folder's `wheels/` (or put them where a URL reaches them), then run
in a first cell:

```python
!pip install -q --find-links wheels keras-course-student
!coursekit data fetch --mirror {data_url}
```

Colab's own TensorFlow, Keras, NumPy, pandas and matplotlib are used (the package accepts ranges
of them; `requirements-colab.txt` installs no TensorFlow either). Colab forgets everything when the
session ends: run the cell again in a new session.

## Handing in

Hand in the notebook file (`.ipynb`) as your instructor asks (nbgrader's Assignments tab, or an
upload). A notebook that ran top to bottom without errors in your environment is what is graded.
"""


def student_readme(assignments: list[str], wheel: str, data_url: str | None) -> str:
    table = "\n".join(f"| {assignment.split('_', 1)[0]} | [{assignment}]({assignment}/{assignment}.ipynb) |"
                      for assignment in assignments)
    return STUDENT_README.format(title="Keras course", count=len(assignments), wheel=wheel, table=table,
                                 data_url=data_url or "ADDRESS-YOUR-INSTRUCTOR-GIVES")
