"""Field types every contract uses, so a time means the same thing on both sides of the wire."""
from datetime import datetime, timezone

from marshmallow import fields

from .clock import naive_utc, utcnow  # noqa: F401  (utcnow: where services import it from)


class UtcDateTime(fields.DateTime):
    """ISO 8601 on the wire (always with a UTC offset); a naive UTC datetime in Python."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        return naive_utc(super()._deserialize(value, attr, data, **kwargs))



