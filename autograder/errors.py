"""Exceptions raised by the grader. The tree's root and its data errors are the students' package's
(`coursekit.errors`), so one ``except CourseKitError`` catches any kit error:

CourseKitError                  root (coursekit.errors)
├── DatasetError, ...           the data folder and its archives (coursekit.errors)
├── HiddenInputsMissing         a hidden test ran outside a grading run (coursekit.errors)
└── AutograderError             the grader's own errors
    ├── CourseError             the course folder is missing or malformed
    ├── BuildError              nbgrader could not generate a student or solution version
    ├── ReleaseError            a student bundle would carry what students must not get
    └── SubmissionError         one student's submission cannot be graded (never aborts a batch)

Check failures inside notebooks are plain ``AssertionError``s: nbgrader scores them.
"""

from coursekit.errors import (
    CourseKitError, DatasetCorruptError, DatasetError, DatasetNotFoundError, DatasetUnavailableError,
    DatasetWithheldError, HiddenInputsMissing, UnsafeArchiveError,
)

__all__ = [
    "CourseKitError",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "DatasetUnavailableError",
    "DatasetWithheldError",
    "UnsafeArchiveError",
    "HiddenInputsMissing",
    "AutograderError",
    "CourseError",
    "BuildError",
    "ReleaseError",
    "SubmissionError",
]


class AutograderError(CourseKitError):
    """Root of the grader's own errors."""


class CourseError(AutograderError):
    pass


class BuildError(AutograderError):
    pass


class ReleaseError(AutograderError):
    pass


class SubmissionError(AutograderError):
    pass
