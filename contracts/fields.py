"""Field types every contract uses, so a time means the same thing on both sides of the wire."""
from datetime import datetime, timezone

from marshmallow import fields


class UtcDateTime(fields.DateTime):
    """ISO 8601 on the wire (always with a UTC offset); a naive UTC datetime in Python."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed


def utcnow() -> datetime:
    """The current time as the platform stores it: naive UTC, to the millisecond (what MongoDB
    and the embedded store keep), so an answer given before a write and one read after it
    say the same time."""
    now = datetime.now(timezone.utc)
    return now.replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)
