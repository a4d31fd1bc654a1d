"""Tables and files made from grading results."""

import csv
from pathlib import Path

from .results import GradingRun, SubmissionResult, ValidationResult
from .sandbox import Protection


def write_grades_csv(results: list[SubmissionResult], path: Path) -> Path:
    """One row per student: status, total, points per graded cell, reason, flags (every limit the
    run hit and every integrity problem, joined by " | "), time, CPU time, memory, device, worker, and
    which of the student's graded submissions it is."""
    cell_ids = [cell.grade_id for cell in results[0].cells] if results else []
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", "status", "score", "max_score", *cell_ids, "reason", "flags",
                         "wall_seconds", "cpu_seconds", "peak_memory_mb", "device", "worker", "submission"])
        for result in results:
            points = {cell.grade_id: cell.points for cell in result.cells}
            writer.writerow([result.student, result.status, f"{result.score:g}", f"{result.max_score:g}",
                             *(f"{points.get(cell_id, 0):g}" for cell_id in cell_ids), result.reason,
                             " | ".join(result.flags), f"{result.wall_seconds:.1f}", f"{result.cpu_seconds:.1f}",
                             f"{result.peak_memory_mb:.0f}", result.device, result.worker,
                             result.attempt or ""])
    return path


def grading_table(run: GradingRun) -> str:
    """Points per student and per graded cell, then the reasons for ungraded submissions."""
    cell_ids = [cell.grade_id for cell in run.results[0].cells] if run.results else []
    header = ["student", *cell_ids, "total", "status", "time", "CPU", "memory", "device"]
    rows = [[r.student, *(f"{c.points:g}/{c.max_points:g}" for c in r.cells), f"{r.score:g}/{r.max_score:g}",
             r.status, f"{r.wall_seconds:.0f} s", f"{r.cpu_seconds:.0f} s", f"{r.peak_memory_mb:.0f} MB", r.device or "-"]
            for r in run.results]
    lines = [f"{run.assignment}: {len(run.results)} submissions"] + _align([header, *rows])
    lines += [f"  {r.student}: {r.status}: {r.reason}" for r in run.results if r.reason]
    lines.append(f"grades: {run.grades_csv}")
    lines += [f"feedback: {r.student}: {r.feedback}" for r in run.results if r.feedback]
    return "\n".join(lines)


def validation_table(results: list[ValidationResult]) -> str:
    rows = [["assignment", "notebook", "points", "time", "peak memory", "device"]]
    for result in results:
        for run in (result.solution, result.untouched):
            rows.append([result.assignment, run.student, f"{run.score:g}/{run.max_score:g}",
                         f"{run.wall_seconds:.0f} s", f"{run.peak_memory_mb:.0f} MB", run.device or "-"])
    lines = _align(rows)
    for result in results:
        lines.append(f"{result.assignment}: " + ("ok" if result.ok else "FAILED\n  - " + "\n  - ".join(result.problems)))
    return "\n".join(lines)


def protections_table(places: dict[str, list[Protection]]) -> str:
    """Per place: each limit, whether and how it is enforced, and the fix for what is missing or weak."""
    lines = []
    for place, found in places.items():
        missing = [protection.limit for protection in found if not protection.enforced]
        lines.append(f"{place}: " + (f"cannot grade untrusted notebooks (missing: {', '.join(missing)})" if missing
                                     else "grades untrusted notebooks"))
        for protection in found:
            lines.append(f"  {'ok' if protection.enforced else 'MISSING':8} {protection.limit}: "
                         f"{protection.how or 'not enforced'}")
            if protection.fix:
                lines.append(f"  {'':8} fix: {protection.fix}")
    return "\n".join(lines)


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
