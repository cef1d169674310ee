"""Prints the chaos figures per fault at the end of every run, passed or
failed (test_chaos.RESULTS), with the load they were taken under; also
writes them to $FYNSYNC_CHAOS_REPORT when set (`./fynsync test` shows that
file at its end)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

COLUMNS = ["submitted", "accepted", "stored_once", "duplicated", "lost", "unanswered",
           "undrained", "resent", "unavailable", "ctl_asked", "ctl_errors", "errors_without_code",
           "late_answers", "sub_duplicates", "reconnects", "drops", "kicks", "refreshed", "stall_s", "recovery_s", "seconds"]


def figure_lines(results):
    from chaos import LONG, SETTINGS
    s = SETTINGS
    lines = [f"chaos figures, {'long' if LONG else 'short'} form: {s.restaurants} restaurants x {s.tills} tills "
             f"at {s.rate} events/s each, point faults x{s.repeats}, windows {s.window} s"]
    width = max(len(name) for name in results) + 2
    cell = [max(len(c), 6) for c in COLUMNS]
    lines.append("fault".ljust(width) + " ".join(c.rjust(w) for c, w in zip(COLUMNS, cell)))
    for name, figures in results.items():
        if isinstance(figures, Exception):
            lines.append(name.ljust(width) + f"run failed: {figures!r}")
        else:
            lines.append(name.ljust(width) + " ".join(str(figures.get(c)).rjust(w) for c, w in zip(COLUMNS, cell)))
    totals = [sum(f.get(c) or 0 for f in results.values() if isinstance(f, dict)) for c in COLUMNS[:6]]
    lines.append("all".ljust(width) + " ".join(str(t).rjust(w) for t, w in zip(totals, cell)))
    return lines


def pytest_terminal_summary(terminalreporter):
    results = getattr(sys.modules.get("test_chaos"), "RESULTS", None)
    if not results:
        return
    lines = figure_lines(results)
    terminalreporter.section("chaos figures")
    for line in lines:
        terminalreporter.write_line(line)
    report = os.environ.get("FYNSYNC_CHAOS_REPORT")
    if report:
        with open(report, "w") as f:
            f.write("\n".join(lines) + "\n")
