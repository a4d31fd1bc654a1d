"""Does the kit's code run on the oldest Python it promises (requires-python: 3.10)? CI runs one
Python, so vermin reads the code of both packages and the tools and names anything newer."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLDEST = "3.10"
CHECKED = ["autograder", "student/coursekit", "tools"]

# What vermin cannot see: arguments that came in a patch release. tarfile's
# `extractall(filter=...)` came in 3.12, 3.11.4 and 3.10.12, but vermin (1.9.2) knows versions only
# to the minor release (its rule says 3.12), and it applies the rule only where it can tell that
# the receiver is a TarFile (`tarfile.TarFile(...).extractall`), never to what `tarfile.open(...)`
# returns or to a parameter: it passes `with tarfile.open(path) as tar: tar.extractall(path,
# filter="data")`, which fails with TypeError on Debian 12's Python 3.11.2. tests/test_safe_extract.py
# guards that one: `coursekit.archives.safe_extract` is tested with the filter taken away, and
# under /usr/bin/python3 where that Python lacks it.


def vermin(*paths: str) -> subprocess.CompletedProcess:
    """vermin's violations of the oldest Python in ``paths``, one per line (file:line:column:py2:py3:feature)."""
    return subprocess.run([sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", f"-t={OLDEST}-",
                           "--violations", "--eval-annotations", "--no-tips", "--format", "parsable", *paths],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_vermin_is_installed():
    completed = subprocess.run([sys.executable, "-c", "import vermin"], capture_output=True, text=True)
    assert completed.returncode == 0, "vermin is missing: pip install -e '.[dev]' (pyproject.toml's dev extra)"


def test_nothing_in_the_kit_needs_a_python_newer_than_the_oldest_it_supports():
    checked = vermin(*CHECKED)
    assert checked.returncode == 0, f"needs a Python newer than {OLDEST}:\n{checked.stdout}{checked.stderr}"


def test_the_check_names_what_a_newer_python_brought(tmp_path):
    (tmp_path / "newer.py").write_text("import tomllib\nfrom typing import Self\n")
    checked = vermin(str(tmp_path / "newer.py"))
    assert checked.returncode == 1
    assert f"{tmp_path / 'newer.py'}:1:7:!2:3.11:'tomllib' module" in checked.stdout.splitlines()
    assert f"{tmp_path / 'newer.py'}:2:5:!2:3.11:'typing.Self' member" in checked.stdout.splitlines()
