"""The fault suite's table of times to ready, in the terminal summary too, so a CI log that
captured the test's output still shows it."""
from .support import SUMMARY


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.write_sep("-", "platform faults")
        for line in SUMMARY:
            terminalreporter.write_line(line)
