"""kit.testing.eventually: what tests of running processes wait with."""
import itertools

from kit.testing import eventually


def test_the_first_true_value_is_returned_as_soon_as_it_comes():
    calls = itertools.count()
    assert eventually(lambda: next(calls) >= 2 and "ready", 5, every=0.001) == "ready"
    assert next(calls) == 3  # asked no more after it held


def test_the_last_value_is_returned_when_the_time_is_up():
    assert eventually(lambda: 0, 0.01, every=0.001) == 0


def test_an_exception_ignored_counts_as_not_yet_and_others_go_through():
    calls = itertools.count()

    def flaky():
        if next(calls) < 2:
            raise ConnectionError("not up")
        return True
    assert eventually(flaky, 5, every=0.001, ignoring=(ConnectionError,)) is True
    try:
        eventually(lambda: 1 / 0, 1, ignoring=(ConnectionError,))
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("an exception not ignored was swallowed")
