"""The AsyncAPI document an agency reads its feed by: the event types its subscription admits,
each with the envelope schema of the catalogue (contracts.catalogue) and `data` reduced to the
fields the agency receives, so the document promises nothing the projection withholds.
"""
from contracts.catalogue import data_schemas, envelope, message
from contracts.envelope import DATACONTENTTYPE, SPECVERSION
from contracts.events import CATALOGUE
from contracts.privacy import CLASSES

from .projection import admits, received

# The extension attribute the feeds service adds to every envelope it delivers.
SEQUENCE = {
    "type": "string",
    "description": "CloudEvents sequence extension, added by the feed: the event's position "
                   "in the platform's archive, increasing in the order events were archived.",
}


def asyncapi_for(agency, filters, purpose, queue):
    """An AsyncAPI 2.6 document of what `agency` receives on `queue`: one message per event
    type `filters` admit (oneOf), its data holding the open fields and those `purpose` grants."""
    messages = _messages(filters, purpose)
    channel = {
        "description": f"The queue {queue}: every event the subscription admits, as a "
                       f"CloudEvents {SPECVERSION} structured JSON envelope with a `sequence`.",
        "bindings": {"amqp": {"is": "queue", "queue": {"name": queue, "durable": True}}},
    }
    if messages:
        channel["subscribe"] = {"operationId": "on_event", "message": {"oneOf": [
            {"$ref": f"#/components/messages/{event_type}"} for event_type in messages]}}
    return {
        "asyncapi": "2.6.0",
        "info": {"title": f"Platform events for {agency}", "version": "1",
                 "description": _description(purpose)},
        "defaultContentType": DATACONTENTTYPE,
        "channels": {queue: channel},
        "components": {"messages": messages},
    }


def _description(purpose):
    granted = ("and the protected fields its recorded purpose grants (legal basis: "
               f"{purpose['basis']})" if purpose else "only: personal data and free text are "
               "withheld, no purpose being recorded")
    return (f"The events this agency's feed delivers. Each event's data holds the fields open "
            f"to every agency {granted}; every other field is left out. Each envelope carries "
            f"`sequence` (CloudEvents sequence extension): its position in the platform's "
            f"archive, increasing. Delivery is at least once: deduplicate on the envelope id.")


def _messages(filters, purpose):
    """{event type: message} of the admitted types, in the catalogue's order."""
    data = data_schemas()
    messages = {}
    for service, events in sorted(CATALOGUE.items()):
        for event_type in sorted(events):
            if admits(filters, event_type):
                reduced = _reduced(data[event_type], "", CLASSES[event_type],
                                   received(event_type, purpose))
                payload = envelope(event_type, service, reduced)
                payload["properties"]["sequence"] = SEQUENCE
                messages[event_type] = message(event_type, events[event_type], payload)
    return messages


def _reduced(schema, path, leaves, keep):
    """The JSON Schema of the object at `path` without the properties not received: a leaf
    is kept when in `keep`; an object (or a list of them) is kept with its own properties
    reduced; anything the classification does not know (`leaves`) is left out, as the
    projection drops it."""
    properties = {}
    for name, prop in schema["properties"].items():
        at = f"{path}.{name}" if path else name
        if at in leaves:
            if at in keep:
                properties[name] = prop
        elif "properties" in prop:
            properties[name] = _reduced(prop, at, leaves, keep)
        elif "properties" in prop.get("items", {}):
            properties[name] = dict(prop, items=_reduced(prop["items"], at, leaves, keep))
    reduced = dict(schema, properties=properties)
    required = [name for name in schema.get("required", []) if name in properties]
    if required:
        reduced["required"] = required
    else:
        reduced.pop("required", None)
    return reduced
