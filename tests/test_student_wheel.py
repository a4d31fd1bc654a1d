"""Does installing the students' wheel keep a platform's own builds? Colab and most JupyterHubs already
have TensorFlow, Keras, NumPy, pandas, matplotlib and a Jupyter kernel. The wheel declares version
ranges (student/pyproject.toml, calibrated at both ends), so pip replaces none of them where they lie
in the ranges; the bundle's requirements.txt and requirements-gpu.txt pin the instructor's versions."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from autograder import release
from autograder.course import Course
from conftest import report_figures

COURSE = Course.find(__file__)
PLATFORM = {"numpy": "2.1.3", "pandas": "2.2.3", "matplotlib": "3.10.0", "keras": "3.10.0", "ipykernel": "6.17.1"}
"""A platform's own builds, roughly Colab's in 2025-26: inside the wheel's ranges, none of them the instructor's
pin (pandas 2.2.3 rather than Colab's 2.2.2, which has no wheel for Python 3.13)."""
PLATFORM_TENSORFLOW = "2.19.0"
"""Colab's TensorFlow in 2025, stood in for by its metadata alone (tensorflow-cpu is 270 MB)."""
PLATFORM_LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "pandas", "matplotlib", "ipykernel")

pytestmark = pytest.mark.slow  # builds the wheel and a virtual environment from the package index


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The students' wheel, built as `autograder release` builds it (here without a data manifest)."""
    return release._student_wheel(COURSE, [], tmp_path_factory.mktemp("wheel") / "wheels")


def _requirements(wheel: Path) -> dict[str, Requirement]:
    return {canonicalize_name(requirement.name): requirement
            for requirement in map(Requirement, release.wheel_requirements(wheel))}


def test_the_wheel_declares_ranges_and_the_bundle_pins_the_instructors_versions_inside_them(wheel):
    required = _requirements(wheel)
    pinned = {name: str(required[name].specifier) for name in PLATFORM_LIBRARIES if "==" in str(required[name].specifier)}
    assert pinned == {}, "the students' wheel pins what platforms already have: replacing their builds"
    always = {name for name, requirement in required.items() if requirement.marker is None}
    for extra, tensorflow in (("cpu", "tensorflow-cpu"), ("gpu", "tensorflow")):
        pins = {canonicalize_name(pin.name): pin for pin in map(Requirement, release.calibrated_pins(wheel, extra))}
        assert set(pins) == always | {tensorflow}
        for name, pin in pins.items():
            [version] = [specifier.version for specifier in pin.specifier if specifier.operator == "=="]
            assert required[name].specifier.contains(version), (
                f"the instructor's {pin} lies outside the students' range {required[name]}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A fresh virtual environment holding a platform's own builds (PLATFORM, and TensorFlow's metadata):
    (python, environment variables, seconds it took)."""
    start = time.monotonic()
    home = tmp_path_factory.mktemp("platform")
    subprocess.run([sys.executable, "-m", "venv", str(home / "env")], check=True)
    python = home / "env" / "bin" / "python"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    _pip(python, env, "install", *(f"{name}=={version}" for name, version in PLATFORM.items()))
    _stand_in_distribution(python, env, "tensorflow-cpu", PLATFORM_TENSORFLOW)
    return python, env, time.monotonic() - start


def _pip(python, env, *arguments) -> str:
    completed = subprocess.run([str(python), "-m", "pip", "--quiet", *arguments], env=env, capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def _stand_in_distribution(python, env, name: str, version: str) -> None:
    """Metadata alone of ``name`` ``version`` in the environment's site-packages: installed, as far as pip knows."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    for old in Path(site).glob(f"{name.replace('-', '_')}-*.dist-info"):
        for path in old.iterdir():
            path.unlink()
        old.rmdir()
    info = Path(site) / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


def _versions(python, env) -> dict[str, str]:
    script = ("import importlib.metadata as m, json, re\n"
              "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version for d in m.distributions()}))")
    return json.loads(subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True,
                                     check=True).stdout)


def test_installing_the_wheel_with_its_cpu_extra_replaces_none_of_a_platforms_builds(platform, wheel):
    python, env, made_in = platform
    before = _versions(python, env)
    assert {name: before[name] for name in PLATFORM} == PLATFORM and before["tensorflow-cpu"] == PLATFORM_TENSORFLOW
    start = time.monotonic()
    _pip(python, env, "install", f"{wheel}[cpu]")
    installed_in = time.monotonic() - start
    after = _versions(python, env)
    replaced = {name: f"{version} -> {after.get(name)}" for name, version in before.items() if after.get(name) != version}
    assert replaced == {}, "pip replaced a platform's own builds"
    assert after["keras-course-student"] == "0.1.0"
    report_figures(f"the platform's environment: {made_in:.0f} s; the wheel installed over it in {installed_in:.0f} s, "
                   f"adding {', '.join(sorted(set(after) - set(before)))}")


def test_a_tensorflow_below_the_range_would_be_replaced(platform, wheel):
    """The other side: the ranges are not so wide that the check above could not fail."""
    python, env, _ = platform
    _stand_in_distribution(python, env, "tensorflow-cpu", "2.17.1")
    try:
        report = json.loads(_pip(python, env, "install", "--dry-run", "--report", "-", f"{wheel}[cpu]"))
    finally:
        _stand_in_distribution(python, env, "tensorflow-cpu", PLATFORM_TENSORFLOW)
    planned = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    assert "tensorflow-cpu" in planned and Version(planned["tensorflow-cpu"]) >= Version("2.18"), planned
