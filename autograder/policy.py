"""The course's grading policy (``c.Grading`` in nbgrader_config.py): due dates, which nbgrader's
late penalties count from, and how many submissions of an assignment each student may have graded.

A student who may resubmit without limit can use the held-out metrics as an oracle (submit,
read the measured accuracy, tweak, submit again). Every submission the grader sees is recorded in
the gradebook's database (table ``autograder_submissions``, beside nbgrader's own): a new
submission past ``max_submissions``, or sooner than ``min_interval_minutes`` after the last graded
one, is refused with a message and recorded as refused, and the grade of the last graded
submission stands.
"""

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from nbgrader.utils import parse_utc
from traitlets import Dict, Float, Integer
from traitlets.config import Configurable

GRADED, REFUSED = "graded", "refused"


class Grading(Configurable):
    due_dates = Dict(help="assignment -> its due date, e.g. '2026-12-01 23:59:00 Europe/Berlin' (nbgrader's "
                          "timestamp format; UTC without a zone)").tag(config=True)
    max_submissions = Integer(0, help="Submissions of an assignment graded per student (0: no limit)").tag(config=True)
    min_interval_minutes = Float(0, help="Least time between two graded submissions of a student").tag(config=True)


_METADATA = sa.MetaData()
SUBMISSIONS = sa.Table(
    "autograder_submissions", _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("assignment", sa.String(128), nullable=False, index=True),
    sa.Column("student", sa.String(128), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("submitted_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
)


@dataclass(frozen=True)
class Verdict:
    graded: bool
    attempt: int
    """The submission's number among the student's graded ones (this one, if graded, included)."""
    reason: str = ""


class SubmissionLog:
    """The submissions recorded in a gradebook database, and the limits applied to new ones."""

    def __init__(self, db_url: str, grading: Grading):
        self.engine = sa.create_engine(db_url)
        _METADATA.create_all(self.engine)
        self.grading = grading

    def admit(self, assignment: str, student: str, fingerprint: str, submitted_at: datetime.datetime) -> Verdict:
        """Record the submission and whether it may be graded under the limits."""
        with self.engine.begin() as connection:
            graded = connection.execute(
                sa.select(SUBMISSIONS.c.fingerprint, SUBMISSIONS.c.submitted_at)
                .where(SUBMISSIONS.c.assignment == assignment, SUBMISSIONS.c.student == student,
                       SUBMISSIONS.c.outcome == GRADED).order_by(SUBMISSIONS.c.submitted_at)).all()
            fingerprints = list(dict.fromkeys(row.fingerprint for row in graded))
            if fingerprint in fingerprints:  # regraded: not a new submission
                return Verdict(True, fingerprints.index(fingerprint) + 1)
            reason = self._refusal(assignment, len(fingerprints), graded[-1].submitted_at if graded else None, submitted_at)
            connection.execute(SUBMISSIONS.insert().values(
                assignment=assignment, student=student, fingerprint=fingerprint, submitted_at=submitted_at,
                outcome=REFUSED if reason else GRADED, reason=reason))
            return Verdict(not reason, len(fingerprints) + (0 if reason else 1), reason)

    def _refusal(self, assignment: str, graded: int, last: datetime.datetime | None, now: datetime.datetime) -> str:
        limit, interval = self.grading.max_submissions, self.grading.min_interval_minutes
        if limit and graded >= limit:
            return (f"refused: {assignment} allows {limit} graded submission{'s' if limit > 1 else ''} "
                    f"(c.Grading.max_submissions) and this is number {graded + 1}; the grade of the last one stands")
        if interval and last is not None and now - last < datetime.timedelta(minutes=interval):
            ready = last + datetime.timedelta(minutes=interval)
            return (f"refused: submissions of {assignment} are graded at least {interval:g} minutes apart "
                    f"(c.Grading.min_interval_minutes); the next is accepted from {ready:%Y-%m-%d %H:%M} UTC, "
                    "and the grade of the last one stands")
        return ""

    def attempts(self, assignment: str) -> dict[str, tuple[int, int]]:
        """student -> (submissions graded, submissions refused)."""
        counts = {}
        with self.engine.connect() as connection:
            for row in connection.execute(sa.select(SUBMISSIONS.c.student, SUBMISSIONS.c.outcome, SUBMISSIONS.c.fingerprint)
                                          .where(SUBMISSIONS.c.assignment == assignment)):
                graded, refused = counts.get(row.student, (set(), 0))
                counts[row.student] = (graded | {row.fingerprint}, refused) if row.outcome == GRADED else (graded, refused + 1)
        return {student: (len(graded), refused) for student, (graded, refused) in counts.items()}


def submission_time(folder) -> datetime.datetime:
    """When the submission was handed in: nbgrader's timestamp.txt (written by `nbgrader collect`),
    else now; naive UTC."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and stamp.read_text().strip():
        return parse_utc(stamp.read_text().strip())
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
