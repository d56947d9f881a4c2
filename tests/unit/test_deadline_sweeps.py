"""How far back each periodic sweep of the deadline rows looks, and when a deadline whose
worker failed is tried again."""
from datetime import datetime, timedelta

from contracts.fields import utcnow
from kit.deadlines import RETRY_AFTER, DeadlineClock, DeadlineReached

T0 = datetime(2025, 4, 15, 12, 0)
FULL = timedelta(seconds=60)


def sweep(clock, now):
    since = clock.sweep_from(now, FULL)
    clock.swept(now, since)
    return since


def test_the_first_sweep_reads_everything_then_each_reads_from_just_before_the_last():
    clock = DeadlineClock()
    assert sweep(clock, T0) is None
    assert sweep(clock, T0 + timedelta(seconds=2)) == T0 - timedelta(seconds=1)
    assert sweep(clock, T0 + timedelta(seconds=4)) == T0 + timedelta(seconds=1)


def test_every_full_period_a_sweep_reads_everything_again():
    clock = DeadlineClock()
    sweep(clock, T0)
    moments = [T0 + timedelta(seconds=s) for s in range(2, 130, 2)]
    full = [m for m in moments if sweep(clock, m) is None]
    assert full == [T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)]


def test_a_sweep_that_failed_is_covered_by_the_next_one():
    clock = DeadlineClock()
    sweep(clock, T0)
    assert clock.sweep_from(T0 + timedelta(seconds=2), FULL) == T0 - timedelta(seconds=1)
    # ... the store failed: swept() was not called
    assert sweep(clock, T0 + timedelta(seconds=4)) == T0 - timedelta(seconds=1)
    clock = DeadlineClock()
    assert clock.sweep_from(T0, FULL) is None  # a first, full sweep that failed
    assert sweep(clock, T0 + timedelta(seconds=2)) is None


def test_a_full_sweep_arms_every_pending_deadline_and_the_next_reminds_what_came_due():
    clock = DeadlineClock()
    clock.in_flight.add("running")
    asked = []
    pending = [("a", T0 + timedelta(hours=1)), ("b", T0 - timedelta(hours=1)),
               ("running", T0)]
    clock.sweep(T0, FULL, lambda: pending, lambda now, since: asked.append(since) or [])
    assert clock.waiting == {"a": T0 + timedelta(hours=1), "b": T0 - timedelta(hours=1)}
    assert asked == []  # a full sweep reads what is pending, not what came due
    later = T0 + timedelta(seconds=5)
    clock.sweep(later, FULL, lambda: pending,
                lambda now, since: asked.append(since) or ["c", "a", "running"])
    assert asked == [T0 - timedelta(seconds=1)]
    assert clock.waiting["c"] == later  # newly due: now
    assert clock.waiting["a"] == T0 + timedelta(hours=1)  # already on the clock: as it was
    assert "running" not in clock.waiting


class _Worker:
    args = ("i1",)


def test_a_deadline_whose_worker_failed_is_tried_again_soon():
    entrypoint = DeadlineReached()
    entrypoint.clock = DeadlineClock()
    entrypoint.clock.in_flight.add("i1")
    before = utcnow()

    entrypoint._done(_Worker(), None, (OSError, OSError("store away"), None))

    assert "i1" not in entrypoint.clock.in_flight
    assert before + RETRY_AFTER <= entrypoint.clock.waiting["i1"] <= before + 2 * RETRY_AFTER


def test_a_deadline_whose_worker_succeeded_is_not_tried_again():
    entrypoint = DeadlineReached()
    entrypoint.clock = DeadlineClock()
    entrypoint.clock.in_flight.add("i1")
    entrypoint._done(_Worker(), "done", None)
    assert entrypoint.clock.waiting == {} and entrypoint.clock.in_flight == set()


def test_arming_from_the_store_puts_a_deadline_on_the_clock_at_its_due_time():
    clock = DeadlineClock()
    clock.arm("i1", T0 + timedelta(seconds=5))
    clock.arm("i2", T0 - timedelta(seconds=5))  # already due: first in line
    assert clock.waiting == {"i1": T0 + timedelta(seconds=5), "i2": T0 - timedelta(seconds=5)}
    assert [key for _, _, key in sorted(clock.heap)] == ["i2", "i1"]


def test_arming_keeps_an_earlier_wait_and_leaves_a_running_deadline_alone():
    clock = DeadlineClock()
    clock.schedule("i1", T0)
    clock.arm("i1", T0 + timedelta(seconds=5))
    assert clock.waiting == {"i1": T0}
    clock.arm("i1", T0 - timedelta(seconds=1))  # the store knows an earlier one
    assert clock.waiting == {"i1": T0 - timedelta(seconds=1)}
    clock.in_flight.add("i2")
    clock.arm("i2", T0)
    assert "i2" not in clock.waiting
