"""The catalogue of every event type, as an AsyncAPI 2.6 document generated from the schemas.

`python -m contracts.catalogue` rewrites contracts/asyncapi.json; a test fails when the
committed file and the schemas disagree. Payload schemas are JSON Schema (2020-12 dialect, as
OpenAPI 3.1 uses), so a consumer can validate what it receives without our Python code.
"""
import json
import sys
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .envelope import DATACONTENTTYPE, SPECVERSION
from .events import CATALOGUE

PATH = Path(__file__).with_name("asyncapi.json")


def data_schemas():
    """JSON Schema of each event type's data, nested schemas inlined."""
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    APISpec(title="events", version="1", openapi_version="3.1.0", plugins=[plugin])
    return {etype: plugin.converter.schema2jsonschema(schema)
            for events in CATALOGUE.values() for etype, schema in events.items()}


def envelope(event_type, source_service, data_schema):
    """JSON Schema of the CloudEvents envelope of `event_type`, its data being `data_schema`."""
    return {
        "type": "object",
        "required": ["id", "source", "specversion", "type", "time", "subject",
                     "datacontenttype", "data"],
        "properties": {
            "id": {"type": "string"},
            "source": {"type": "string", "const": f"/services/{source_service}"},
            "specversion": {"type": "string", "const": SPECVERSION},
            "type": {"type": "string", "const": event_type},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "datacontenttype": {"type": "string", "const": DATACONTENTTYPE},
            "data": data_schema,
        },
    }


def message(event_type, schema_cls, payload):
    """The AsyncAPI message of `event_type`: its schema's name and summary, and `payload`."""
    return {
        "name": event_type,
        "title": schema_cls.__name__,
        "contentType": DATACONTENTTYPE,
        "summary": (schema_cls.__doc__ or "").strip().split("\n")[0],
        "payload": payload,
    }


def build():
    data = data_schemas()
    channels, messages = {}, {}
    for service, events in sorted(CATALOGUE.items()):
        for event_type in sorted(events):
            messages[event_type] = message(event_type, events[event_type],
                                           envelope(event_type, service, data[event_type]))
            channels[f"{service}.events/{event_type}"] = {
                "description": f"Published on exchange {service}.events, routing key "
                               f"{event_type}, as a CloudEvents {SPECVERSION} structured "
                               f"JSON envelope.",
                "bindings": {"amqp": {"is": "routingKey", "exchange": {
                    "name": f"{service}.events", "type": "topic", "durable": True,
                    "vhost": "/"}}},
                "subscribe": {"operationId": f"on_{event_type.replace('.', '_')}",
                              "message": {"$ref": f"#/components/messages/{event_type}"}},
            }
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "Police-enterprise liaison platform events", "version": "1",
                 "description": "Every event the platform publishes. Delivery is at least "
                                "once: deduplicate on the envelope id."},
        "defaultContentType": DATACONTENTTYPE,
        "channels": channels,
        "components": {"messages": messages},
    }


def render():
    return json.dumps(build(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def payload_schema(event_type):
    """The JSON Schema a consumer validates an envelope of `event_type` against."""
    return json.loads(PATH.read_text())["components"]["messages"][event_type]["payload"]


if __name__ == "__main__":
    PATH.write_text(render())
    sys.stdout.write(f"wrote {PATH.name} ({len(build()['channels'])} event types)\n")
