"""The committed event catalogue and the event schemas must not disagree."""
import json
from datetime import datetime

import jsonschema
import pytest

from contracts import catalogue
from contracts.envelope import make_envelope, open_envelope
from contracts.events import CATALOGUE, EVENT_SCHEMAS, REGISTRY_EVENTS
from services.enterprise.domain import Enterprise


def test_committed_catalogue_is_what_the_schemas_generate():
    committed = catalogue.PATH.read_text()
    assert committed == catalogue.render(), (
        "contracts/asyncapi.json is stale: run `python -m contracts.catalogue`")


def test_catalogue_lists_every_event_type_with_its_exchange():
    document = json.loads(catalogue.PATH.read_text())
    assert set(document["components"]["messages"]) == set(EVENT_SCHEMAS)
    for service, events in CATALOGUE.items():
        for event_type in events:
            channel = document["channels"][f"{service}.events/{event_type}"]
            assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{service}.events"


def test_catalogue_refuses_an_envelope_that_breaks_the_schema():
    enterprise = Enterprise("e1", "恒盛纺织", "91350100M000100Y43", "enterprise", "other",
                            "production", "g1", "s1")
    envelope = make_envelope("enterprise.registered", "/services/enterprise", "e1", enterprise,
                             REGISTRY_EVENTS, now=datetime(2026, 5, 1, 9, 30))
    schema = catalogue.payload_schema("enterprise.registered")
    jsonschema.validate(envelope, schema)
    assert open_envelope(envelope, REGISTRY_EVENTS)["data"]["credit_code"] == "91350100M000100Y43"

    broken = dict(envelope, data=dict(envelope["data"], level="provincial"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    missing = dict(envelope, data={k: v for k, v in envelope["data"].items() if k != "grid_id"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, schema)
