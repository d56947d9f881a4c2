"""Time as the platform keeps it: naive UTC datetimes, to the millisecond. Standard library
only, so every module (a domain too) can use it."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time as the platform stores it: naive UTC, to the millisecond (what MongoDB
    and the embedded store keep), so an answer given before a write and one read after it
    say the same time."""
    now = datetime.now(timezone.utc)
    return now.replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)


def naive_utc(moment: datetime) -> datetime:
    """`moment` as naive UTC: an aware datetime converted, a naive one taken as UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 of a naive UTC datetime."""
    return int(moment.replace(tzinfo=timezone.utc).timestamp())
