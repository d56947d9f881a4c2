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


def page_schema(item_schema):
    """The schema of a page of `item_schema` (for the OpenAPI document)."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }, name=f"{item_schema.__name__}Page")
