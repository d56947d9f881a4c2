"""Field types every contract uses, so a time (or a run of bytes) means the same thing on both
sides of the wire."""
import base64
from datetime import datetime, timezone

from marshmallow import ValidationError, fields

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


class Base64Bytes(fields.Field):
    """Base64 text on the wire; bytes in Python."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else base64.b64encode(value).decode("ascii")

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):  # binascii.Error is a ValueError
            raise ValidationError("expected base64 text") from None
