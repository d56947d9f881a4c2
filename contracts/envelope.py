"""The CloudEvents 1.0 structured envelope every event travels in.

An envelope is a plain dict (it crosses the broker as JSON). `make_envelope` dumps the data
through the event type's schema; `open_envelope` loads it back through the same schema, so a
producer and a consumer cannot disagree about a field without one of them failing loudly.
"""
import json
import uuid
from functools import cache

from marshmallow import Schema, fields, validate

from .fields import UtcDateTime, utcnow

SPECVERSION = "1.0"
DATACONTENTTYPE = "application/json"
# The message's own content type: CloudEvents structured mode, JSON format.
CONTENT_TYPE = "application/cloudevents+json"


def encode(envelope):
    """The message body of an envelope (kombu serializer `cloudevents`)."""
    return json.dumps(envelope, ensure_ascii=False)


def decode(body):
    return json.loads(body)


class EnvelopeSchema(Schema):
    id = fields.String(required=True)
    source = fields.String(required=True)
    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    type = fields.String(required=True)
    time = UtcDateTime(required=True)
    subject = fields.String(required=True)
    datacontenttype = fields.String(required=True, validate=validate.Equal(DATACONTENTTYPE))
    data = fields.Dict(required=True)


_TIME = EnvelopeSchema._declared_fields["time"]


class UnknownEventType(Exception):
    pass


def make_envelope(event_type, source, subject, data, schemas, now=None, event_id=None):
    """A CloudEvents envelope with `data` dumped through the schema registered for the type."""
    schema = _schema_for(event_type, schemas)
    return {  # as EnvelopeSchema dumps it, its fields being plain but for the time
        "id": str(event_id or uuid.uuid4()),
        "source": str(source),
        "specversion": SPECVERSION,
        "type": str(event_type),
        "time": _TIME._serialize(now or utcnow(), "time", None),
        "subject": str(subject),
        "datacontenttype": DATACONTENTTYPE,
        "data": schema.dump(data),
    }


def open_envelope(envelope, schemas):
    """(envelope fields, data loaded through its type's schema); raises ValidationError."""
    loaded = _instance(EnvelopeSchema).load(envelope)
    loaded["data"] = _schema_for(loaded["type"], schemas).load(loaded["data"])
    return loaded


def _schema_for(event_type, schemas):
    try:
        return _instance(schemas[event_type])
    except KeyError:
        raise UnknownEventType(event_type) from None


@cache
def _instance(schema_cls):
    return schema_cls()
