"""An agency's projection of the platform's events: the classification covers every field of
every event type, and an event whose every protected field holds planted personal data reaches
an agency without a trace of it unless a recorded purpose names the field; the agency's
AsyncAPI document describes exactly what it receives."""
import copy
import itertools
import json
from datetime import datetime

import jsonschema
import pytest
from marshmallow import fields, validate

from contracts.envelope import EnvelopeSchema, make_envelope
from contracts.events import CATALOGUE, EVENT_SCHEMAS, IncidentReported
from contracts.privacy import (BY_SCHEMA, CLASSES, NAMED, OPEN, PERSONAL, TEXT, classes_of,
                               leaf_paths, protected)
from contracts.vocabulary import LEGAL_BASES
from services.feeds.documents import asyncapi_for
from services.feeds.projection import admits, check_purpose, granted, project, received

SERVICE_OF = {event_type: service for service, events in CATALOGUE.items()
              for event_type in events}

NAME, PHONE, ID_NUMBER = "张伟", "13812345678", "11010119900307123X"
FREE_TEXT = "请联系13812345678"
PLANTED = (NAME, PHONE, ID_NUMBER, FREE_TEXT)
PLANTED_TIME, PLANTED_TIME_TEXT = datetime(1990, 3, 7, 1, 2, 3), "1990-03-07T01:02:03Z"
OPEN_TIME = datetime(2026, 5, 1, 9, 30)
QUEUE = "feed.market-regulation"


# --- a planted event of each type ------------------------------------------------------------

def planted_data(schema, classes, prefix="", people=None):
    """Every field of `schema` present (lists with two elements): protected leaves hold
    planted personal data or free text, open ones plausible ids, codes and times."""
    people = people if people is not None else itertools.cycle((NAME, PHONE, ID_NUMBER))
    return {name: _planted_value(field, prefix + name, classes, people)
            for name, field in schema.fields.items()}


def _planted_value(field, path, classes, people):
    if isinstance(field, fields.List):
        return [_planted_value(field.inner, path, classes, people) for _ in range(2)]
    if isinstance(field, fields.Nested):
        return planted_data(field.schema, classes, path + ".", people)
    cls = classes[path]
    if isinstance(field, fields.DateTime):
        return OPEN_TIME if cls == OPEN else PLANTED_TIME
    if cls == PERSONAL:
        return next(people)
    if cls == TEXT:
        return FREE_TEXT
    return _open_value(field, path)


def _open_value(field, path):
    choices = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
    if choices:
        return list(choices[0])[-1]
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 3
    if isinstance(field, fields.Float):
        return 12.5
    return f"{path.replace('.', '-')}-1"


def planted_envelope(event_type):
    schema = EVENT_SCHEMAS[event_type]
    data = planted_data(schema(), CLASSES[event_type])
    return make_envelope(event_type, f"/services/{SERVICE_OF[event_type]}", "subject-1", data,
                         EVENT_SCHEMAS, now=OPEN_TIME, event_id="event-1")


def values_at(value, path):
    """The values at a dotted path, through lists of objects; KeyError when one is missing."""
    if not path:
        return [value]
    if isinstance(value, list):
        return [found for item in value for found in values_at(item, path)]
    return values_at(value[path[0]], path[1:])


def paths_in(schema, prefix=""):
    """The leaf paths a JSON Schema of an object describes."""
    for name, prop in schema["properties"].items():
        nested = prop if "properties" in prop else prop.get("items", {})
        if "properties" in nested:
            yield from paths_in(nested, f"{prefix}{name}.")
        else:
            yield prefix + name


def test_the_planted_envelopes_hold_the_planted_data():
    text = json.dumps([planted_envelope(t) for t in EVENT_SCHEMAS], ensure_ascii=False)
    for planted in PLANTED + (PLANTED_TIME_TEXT,):
        assert planted in text


# --- the classification is total ---------------------------------------------------------

def test_every_catalogued_type_is_classified():
    assert set(CLASSES) == set(EVENT_SCHEMAS)


@pytest.mark.parametrize("event_type", sorted(EVENT_SCHEMAS))
def test_every_leaf_of_a_type_is_classified(event_type):
    leaves = leaf_paths(EVENT_SCHEMAS[event_type])
    unclassified = sorted(set(leaves) - set(CLASSES[event_type]))
    assert not unclassified, (
        f"{event_type}: classify {unclassified} in contracts.privacy (NAMED or BY_SCHEMA)")
    assert sorted(CLASSES[event_type]) == leaves
    assert set(CLASSES[event_type].values()) <= {OPEN, PERSONAL, TEXT}


def test_a_field_added_to_a_schema_is_unclassified_until_someone_decides():
    class WithWitness(IncidentReported):
        witness_phone = fields.String(required=True)

    assert "witness_phone" in leaf_paths(WithWitness)
    assert "witness_phone" not in classes_of(WithWitness)


def test_every_classified_schema_path_exists():
    for schema, paths in BY_SCHEMA.items():
        assert schema in EVENT_SCHEMAS.values(), schema.__name__
        stale = set(paths) - set(leaf_paths(schema))
        assert not stale, f"{schema.__name__} has no {sorted(stale)}"


def test_every_classified_name_is_a_field():
    names = {path.rsplit(".", 1)[-1] for schema in EVENT_SCHEMAS.values()
             for path in leaf_paths(schema)}
    for cls, named in NAMED.items():
        stale = named - names
        assert not stale, f"no event has a field {sorted(stale)} ({cls})"


def test_each_leaf_is_classified_exactly_once():
    for one, other in itertools.combinations(NAMED.values(), 2):
        assert not one & other
    every_name = frozenset().union(*NAMED.values())
    for schema, paths in BY_SCHEMA.items():
        for path in paths:
            assert path.rsplit(".", 1)[-1] not in every_name, (schema.__name__, path)


def test_leaf_paths_walk_nested_objects_and_lists_of_them():
    assert leaf_paths(EVENT_SCHEMAS["officer.availability_changed"]) == [
        "absences.end", "absences.kind", "absences.note", "absences.start", "badge_number",
        "officer_id"]
    assert "previous.changed_by" in leaf_paths(EVENT_SCHEMAS["assignment.changed"])
    assert "participants" in leaf_paths(EVENT_SCHEMAS["visit.planned"])


@pytest.mark.parametrize("event_type, path, cls", [
    ("officer.registered", "name", PERSONAL),
    ("officer.registered", "badge_number", PERSONAL),
    ("station.created", "name", OPEN),
    ("enterprise.registered", "address", OPEN),
    ("enterprise.registered", "credit_code", OPEN),
    ("notification.issued", "recipient.name", PERSONAL),
    ("notification.issued", "recipient.id", OPEN),
    ("incident.reported", "reporter_id", PERSONAL),
    ("incident.reported", "description", TEXT),
    ("incident.reported", "location", TEXT),
    ("incident.acknowledged", "detail", TEXT),
    ("dispute.escalated", "detail", OPEN),
    ("dispute.escalated", "actor", PERSONAL),
    ("assignment.changed", "previous.changed_by", PERSONAL),
    ("officer.availability_changed", "absences.start", PERSONAL),
    ("officer.availability_changed", "absences.note", TEXT),
    ("visit.planned", "participants", PERSONAL),
    ("visit.planned", "purpose", TEXT),
    ("visit.planned", "start", OPEN),
    ("referral.done", "result", TEXT),
])
def test_the_classification_of(event_type, path, cls):
    assert CLASSES[event_type][path] == cls
    assert (path in protected(event_type)) == (cls != OPEN)


# --- projection --------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", sorted(EVENT_SCHEMAS))
def test_no_planted_data_reaches_an_agency_without_a_purpose(event_type):
    envelope = planted_envelope(event_type)

    projected = project(envelope, None)

    text = json.dumps(projected, ensure_ascii=False)
    for planted in PLANTED + (PLANTED_TIME_TEXT,):
        assert planted not in text, (event_type, planted)
    for path, cls in CLASSES[event_type].items():
        if cls == OPEN:
            segments = path.split(".")
            assert values_at(projected["data"], segments) == values_at(envelope["data"],
                                                                       segments), path
    assert {k: v for k, v in projected.items() if k != "data"} == {
        k: v for k, v in envelope.items() if k != "data"}
    EnvelopeSchema().load(projected)
    EVENT_SCHEMAS[event_type]().load(projected["data"], partial=True)


@pytest.mark.parametrize("event_type", sorted(EVENT_SCHEMAS))
def test_a_projection_is_what_the_agencys_document_describes(event_type):
    document = asyncapi_for("market-regulation", [{"exact": event_type}], None, QUEUE)
    payload = document["components"]["messages"][event_type]["payload"]

    projected = project(planted_envelope(event_type), None)

    jsonschema.validate(dict(projected, sequence="42"), payload)


def test_a_purpose_granting_the_description_lets_only_the_description_through():
    envelope = planted_envelope("incident.reported")
    purpose = {"basis": "statutory_duty", "description": "safety inspections of the premises",
               "fields": ["description"]}

    projected = project(envelope, purpose)

    assert projected["data"]["description"] == FREE_TEXT
    assert "location" not in projected["data"] and "reporter_id" not in projected["data"]
    for planted in (NAME, PHONE, ID_NUMBER):
        assert planted not in json.dumps(projected, ensure_ascii=False).replace(FREE_TEXT, "")
    document = asyncapi_for("market-regulation", [{"exact": "incident.reported"}], purpose,
                            QUEUE)
    jsonschema.validate(dict(projected, sequence="1"),
                        document["components"]["messages"]["incident.reported"]["payload"])


def test_granted_counts_only_the_types_protected_paths():
    purpose = {"basis": "consent", "description": "x",
               "fields": ["description", "recipient.name", "enterprise_id", "nonsense"]}
    assert granted("incident.reported", purpose) == {"description"}
    assert granted("notification.issued", purpose) == {"description", "recipient.name"}
    assert granted("station.created", purpose) == frozenset()
    assert granted("incident.reported", None) == frozenset()


def test_objects_whose_fields_are_all_dropped_are_empty_and_a_grant_fills_them():
    envelope = planted_envelope("officer.availability_changed")

    assert project(envelope, None)["data"] == {"officer_id": "officer_id-1",
                                               "absences": [{}, {}]}
    purpose = {"basis": "statutory_duty", "description": "x", "fields": ["absences.note"]}
    assert project(envelope, purpose)["data"]["absences"] == [{"note": FREE_TEXT}] * 2


def test_null_stays_null_and_an_object_keeps_its_open_fields():
    envelope = planted_envelope("assignment.changed")
    envelope["data"]["previous"] = None
    assert project(envelope, None)["data"]["previous"] is None

    notification = project(planted_envelope("notification.issued"), None)["data"]
    assert notification["recipient"] == {"kind": "department", "id": "recipient-id-1",
                                         "role": "recipient-role-1"}


def test_what_the_classification_does_not_know_is_dropped():
    envelope = planted_envelope("incident.closed")
    envelope["data"].update({"witness": NAME, "recipient.name": NAME, "incident_id.x": PHONE})
    envelope["traceparent"] = PHONE

    projected = project(envelope, None)

    assert set(projected) == {"id", "source", "specversion", "type", "time", "subject",
                              "datacontenttype", "data"}
    assert set(projected["data"]) == set(EVENT_SCHEMAS["incident.closed"]().fields)
    unknown = dict(planted_envelope("incident.closed"), type="incident.invented")
    assert project(unknown, None)["data"] == {}


def test_the_envelope_projected_is_not_changed_nor_shared():
    envelope = planted_envelope("invitation.issued")
    before = copy.deepcopy(envelope)

    projected = project(envelope, None)
    projected["data"]["officer_ids"].append("someone")

    assert envelope == before


# --- filters and purposes -----------------------------------------------------------------

def test_admits_by_exact_type_or_prefix_and_nothing_without_filters():
    filters = [{"exact": "incident.closed"}, {"prefix": "dispute."}]
    assert admits(filters, "incident.closed")
    assert admits(filters, "dispute.graded")
    assert not admits(filters, "incident.reported")
    assert not admits(filters, "referral.created")
    assert not admits([], "incident.closed")


def test_a_sound_purpose_has_no_problems():
    filters = [{"prefix": "incident."}]
    purpose = {"basis": "emergency", "description": "respond to hazards on site",
               "fields": ["description", "location"]}
    assert check_purpose(filters, purpose) == []
    assert check_purpose(filters, None) == []
    assert set(LEGAL_BASES) >= {"consent", "statutory_duty"}


def test_a_purposes_problems_name_the_field():
    filters = [{"exact": "incident.reported"}]
    purpose = {"basis": "curiosity", "description": " ",
               "fields": ["description", "recipient.name", "enterprise_id"]}

    problems = check_purpose(filters, purpose)

    assert [field for field, _ in problems] == ["basis", "description", "fields.1", "fields.2"]
    assert dict(problems)["fields.1"] == (
        "not a protected field of the subscribed types: recipient.name")
    long = dict(purpose, basis="consent", description="x" * 501, fields=[])
    assert [field for field, _ in check_purpose(filters, long)] == ["description"]
    assert check_purpose([], dict(long, description="ok", fields=["description"])) == [
        ("fields.0", "not a protected field of the subscribed types: description")]


# --- the agency's document ----------------------------------------------------------------

def test_the_document_lists_only_the_admitted_types_on_the_agencys_queue():
    filters = [{"prefix": "incident."}, {"exact": "visit.planned"}]

    document = asyncapi_for("market-regulation", filters, None, QUEUE)

    admitted = sorted(t for t in EVENT_SCHEMAS if admits(filters, t))
    assert "visit.planned" in admitted and "visit.merged" not in admitted
    assert sorted(document["components"]["messages"]) == admitted
    assert document["asyncapi"] == "2.6.0"
    assert list(document["channels"]) == [QUEUE]
    channel = document["channels"][QUEUE]
    assert channel["bindings"] == {"amqp": {"is": "queue",
                                            "queue": {"name": QUEUE, "durable": True}}}
    assert sorted(ref["$ref"].rsplit("/", 1)[-1]
                  for ref in channel["subscribe"]["message"]["oneOf"]) == admitted
    assert "sequence" in document["info"]["description"]


@pytest.mark.parametrize("purpose", [None, {
    "basis": "statutory_duty", "description": "x",
    "fields": ["description", "participants", "absences.note", "previous.changed_by"]}])
def test_no_field_the_agency_does_not_receive_is_in_its_document(purpose):
    document = asyncapi_for("market-regulation", [{"prefix": ""}], purpose, QUEUE)

    for event_type, message in document["components"]["messages"].items():
        payload = message["payload"]
        assert payload["properties"]["sequence"]["type"] == "string"
        assert "sequence" in payload["properties"]["sequence"]["description"]
        data = payload["properties"]["data"]
        described = set(paths_in(data))
        assert described == received(event_type, purpose), event_type
        assert not described & (protected(event_type).keys() - granted(event_type, purpose))
        _assert_required_are_properties(data)


def _assert_required_are_properties(schema):
    assert set(schema.get("required", [])) <= set(schema["properties"])
    for prop in schema["properties"].values():
        nested = prop if "properties" in prop else prop.get("items", {})
        if "properties" in nested:
            _assert_required_are_properties(nested)
