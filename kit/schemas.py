"""Loading input through a schema, the same way in every service."""
from marshmallow import Schema, ValidationError, fields, validate

from .errors import ValidationFailed


def load(schema, data, **kwargs):
    """`data` loaded through `schema`; ValidationFailed naming each bad field otherwise."""
    if not isinstance(data, dict):
        raise ValidationFailed({"_body": ["expected a JSON object"]})
    try:
        return schema.load(data, **kwargs)
    except ValidationError as error:
        raise ValidationFailed(error.normalized_messages()) from None


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_of(items, total, page, per_page, schema):
    """A list response: one page of items and where it sits in the whole."""
    return {"items": schema.dump(items, many=True), "page": page, "per_page": per_page,
            "total": total}


def page_schema(item_schema):
    """The schema of a page of `item_schema` (for the OpenAPI document)."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
    }, name=f"{item_schema.__name__}Page")
