"""The grader's course data: the full data folder (fetch, verify against `MANIFEST`), the students'
data made from it without the held-out answers (`student_data`, `grading_view`), and the loaders
of `coursekit.data`, which read the held-out answers here because this folder has them."""

from coursekit.data import *  # noqa: F403 (the loaders are the students')
from coursekit.data import __all__ as _loaders
from coursekit.data import store as _store

from .manifest import MANIFEST
from .view import grading_view, student_data, student_manifest

__all__ = [name for name in _loaders if name not in ("fetch", "verify", "STUDENT_MANIFEST")] + [
    "MANIFEST", "fetch", "verify", "grading_view", "student_data", "student_manifest"]


def fetch(mirror: str | None = None, manifest=MANIFEST):
    """Fill the data folder with every file of the full course data (see `coursekit.data.fetch`)."""
    return _store.fetch(mirror, manifest)


def verify(manifest=MANIFEST):
    """Check every file of the full course data (see `coursekit.data.verify`)."""
    return _store.verify(manifest)
