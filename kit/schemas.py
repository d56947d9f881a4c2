"""Loading and dumping through schemas, the same way in every service.

Schema instances are built once per class and reused: building one costs far more than
using it, and a marshmallow schema keeps no state between calls.
"""
from functools import cache

from marshmallow import Schema, ValidationError, fields, validate

from .errors import ValidationFailed


@cache
def _instance(schema_cls):
    return schema_cls()


def _schema(schema):
    return _instance(schema) if isinstance(schema, type) else schema


def dump(schema, obj, many=False):
    return _schema(schema).dump(obj, many=many)


def load(schema, data, **kwargs):
    """`data` loaded through `schema` (a class or an instance); ValidationFailed naming each
    bad field otherwise."""
    schema = _schema(schema)
    if not isinstance(data, dict):
        raise ValidationFailed({"_body": ["expected a JSON object"]})
    try:
        return schema.load(data, **kwargs)
    except ValidationError as error:
        raise ValidationFailed(error.normalized_messages()) from None


def open_event(envelope, catalogue):
    """A consumed event's envelope, its data loaded through its type's schema in `catalogue`;
    ValidationFailed (so the reliable consumer dead-letters it at once) when it does not
    honour its contract or its type is unknown."""
    from marshmallow.exceptions import MarshmallowError

    from contracts.envelope import UnknownEventType, open_envelope
    try:
        return open_envelope(envelope, catalogue)
    except (MarshmallowError, UnknownEventType) as error:
        raise ValidationFailed({"event": [str(error)]}) from None


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def paged(query, fetch, schema):
    """One page of a listing: `query` (page, per_page) loaded through PageQuery,
    `fetch(skip, limit)` giving (items, total), the items dumped through `schema`."""
    paging = load(PageQuery, query or {})
    items, total = fetch((paging["page"] - 1) * paging["per_page"], paging["per_page"])
    return page_of(items, total, paging["page"], paging["per_page"], schema)


def page_of(items, total, page, per_page, schema):
    """A list response: one page of items and where it sits in the whole."""
    return {"items": dump(schema, items, many=True), "page": page, "per_page": per_page,
            "total": total}


@cache
def page_schema(item_schema):
    """The schema of a page of `item_schema` (for the OpenAPI document): one class per item
    schema, named `<Item>Page`, which keeps its item schema as `item_schema`."""
    page = Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }, name=f"{item_schema.__name__}Page")
    page.item_schema = item_schema
    return page


def query_schema(name, *sources, only=None):
    """The schema of a query string (for the OpenAPI document): the fields of `sources`
    (e.g. PageQuery and a listing's filter schema), or only those named in `only`, so that
    fields a service takes from the gateway alone (an officer's reach) stay undocumented."""
    chosen = {}
    for source in sources:
        chosen.update(source().fields)
    if only is not None:
        missing = set(only) - set(chosen)
        if missing:
            raise ValueError(f"{name}: no field {', '.join(sorted(missing))} in its sources")
        chosen = {key: chosen[key] for key in only}
    return Schema.from_dict(chosen, name=name)


def listing_query(name, filters=None, only=()):
    """A listing's query: PageQuery's page and per_page, and the filters named in `only`."""
    sources = (PageQuery,) if filters is None else (PageQuery, filters)
    return query_schema(name, *sources, only=("page", "per_page", *only))
