"""How far back each periodic sweep of the deadline rows looks."""
from datetime import datetime, timedelta

from kit.deadlines import DeadlineClock

T0 = datetime(2025, 4, 15, 12, 0)
FULL = timedelta(seconds=60)


def test_the_first_sweep_reads_everything_then_each_reads_from_just_before_the_last():
    clock = DeadlineClock()
    assert clock.sweep_from(T0, FULL) is None
    assert clock.sweep_from(T0 + timedelta(seconds=2), FULL) == T0 - timedelta(seconds=1)
    assert clock.sweep_from(T0 + timedelta(seconds=4), FULL) == T0 + timedelta(seconds=1)


def test_every_full_period_a_sweep_reads_everything_again():
    clock = DeadlineClock()
    clock.sweep_from(T0, FULL)
    moments = [T0 + timedelta(seconds=s) for s in range(2, 130, 2)]
    full = [m for m in moments if clock.sweep_from(m, FULL) is None]
    assert full == [T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)]
