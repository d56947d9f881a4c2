"""What each service's RPC takes and gives: the schemas the gateway documents and the
service loads and dumps through, so the two cannot drift apart."""
from marshmallow import Schema, fields, validate

from ..fields import Base64Bytes


class Actor(Schema):
    """Who acts, as the gateway's access policy established it. `capacity` "chief": an
    officer acting as one of the enterprise's three chiefs, who may act before being paged."""
    role = fields.String(required=True)
    id = fields.String(required=True)
    enterprise_id = fields.String(load_default=None, allow_none=True)
    capacity = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(("chief",)))


class Document(Schema):
    """A document answered whole, such as a report: its media type and its bytes."""
    media_type = fields.String(required=True)
    content = Base64Bytes(required=True)
