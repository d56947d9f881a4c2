"""The OpenAPI 3 document, generated from the routes, the services' schemas and the views.

One operation per route and method, except that a path with an `any(a, b, c)` part is
documented as one path per value (`/v1/stations`, `/v1/parks`, ...); a route's tuple of
schemas (body or answer) gives each value its own, in the same order. An answer declared as
`Schema(many=True)` is an array. A route whose rule in gateway.policy (or whose entrypoint)
has `views` (role -> schema, or role -> {path value -> schema}) answers `anyOf` the full
schema and each role's projection.
Each operation lists the error statuses it can give, by what it takes (see `_errors`).
"""
import inspect
import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from kit.schemas import page_schema

from . import policy
from .errors import table as error_table

_PATH_PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
WRITES = ("POST", "PUT", "PATCH")
ERROR = {"$ref": "#/components/schemas/Error"}
# Statuses the HTTP edge gives before a route runs, when its error table has no entry for
# them (their codes are then in the error table and described from there).
EDGE = {400: "VALIDATION_FAILED", 408: "REQUEST_TIMEOUT", 413: "PAYLOAD_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE"}
# A route that answers a failure with its own answer's schema rather than the error shape.
OWN_FAILURES = {"readyz": {503: "not ready: the body says what does not answer"}}


class Readiness(Schema):
    """The readiness probe's answer: "ok" for each service that answers, else why not."""
    status = fields.String(required=True, validate=validate.OneOf(("ready", "unavailable")))
    enterprise = fields.String(required=True)
    dispatch = fields.String(required=True)
    mediation = fields.String(required=True)
    appraisal = fields.String(required=True)
    fieldwork = fields.String(required=True)


def _decimal_as_text(self, field, ret, **kwargs):
    """A decimal sent as text (a score to four places, exact) is documented as such."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    return {}


@lru_cache(maxsize=None)
def document(service_cls):
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Police-enterprise liaison platform", version="1",
                   openapi_version="3.0.3", plugins=[plugin])
    plugin.converter.add_attribute_function(_decimal_as_text)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object",
                                  "description": "per field, why it was refused"}}})
    paths = {}
    for name, entrypoint in _entrypoints(service_cls):
        for url, kind, index in _expand(entrypoint.url):
            operation = Operation(spec, name, entrypoint, kind, index)
            paths.setdefault(_openapi_path(url), {})[entrypoint.method.lower()] = operation.build()
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _entrypoints(service_cls):
    from .api import Api

    for name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, Api):
                yield name, entrypoint


def _expand(url):
    """(concrete url, path value, its position) for each value of an `any(...)` part, or the
    url itself once."""
    for converter, args, _ in _PATH_PARAM.findall(url):
        if converter == "any":
            values = [a.strip() for a in args.split(",")]
            part = next(m.group() for m in _PATH_PARAM.finditer(url) if m.group(1) == "any")
            return [(url.replace(part, value), value, i) for i, value in enumerate(values)]
    return [(url, None, None)]


def _openapi_path(url):
    return _PATH_PARAM.sub(lambda m: "{" + m.group(3) + "}", url)


class Operation:
    """One operation of the document: a route, for one value of its `any(...)` part."""

    def __init__(self, spec, name, entrypoint, kind, index):
        self.spec = spec
        self.name = name
        self.entrypoint = entrypoint
        self.kind = kind
        self.index = index

    def build(self):
        entrypoint = self.entrypoint
        operation = {"summary": self._summary(), "operationId": self._operation_id(),
                     "x-route": self.name, "parameters": self._parameters(),
                     "responses": {str(entrypoint.status): self._success()}}
        body = self._pick(entrypoint.body_schema)
        if body is not None:
            if entrypoint.method == "PATCH":
                body = _changes(body)
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": self._ref(body)}}}
        if entrypoint.csv_body:
            operation["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string"}} for media in ("text/csv", "text/plain")}}
        for status, description in sorted(self._errors().items()):
            operation["responses"][str(status)] = description
        if not entrypoint.public:
            operation["security"] = [{"bearer": []}]
        return operation

    def _operation_id(self):
        return self.name if self.kind is None else f"{self.name}_{self.kind}"

    def _summary(self):
        summary = self.entrypoint.summary
        return summary if self.kind is None else f"{summary} ({self.kind})"

    def _pick(self, declared):
        """The schema declared for this operation: one of a tuple by the path value's
        position, else the declaration itself."""
        if isinstance(declared, tuple) and self.index is not None:
            return declared[self.index]
        return declared

    def _parameters(self):
        entrypoint = self.entrypoint
        params = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                  for converter, _, name in _PATH_PARAM.findall(entrypoint.url)
                  if converter != "any"]
        if entrypoint.query is not None:
            params.append({"in": "query", "schema": entrypoint.query})
        if entrypoint.method == "POST" and not entrypoint.public:
            params.append({
                "in": "header", "name": "Idempotency-Key", "required": False,
                "schema": {"type": "string"},
                "description": "Run this request once: a retry with the same key and body "
                               "gets the first answer"})
        return params

    # --- answers ---------------------------------------------------------------------------

    def _success(self):
        documents = ("text/html",) if getattr(self.entrypoint, "html", False) else \
            getattr(self.entrypoint, "documents", ())
        if documents:
            return {"description": f"success: a printable document ({', '.join(documents)})",
                    "content": {media: {"schema": _document_schema(media)}
                                for media in documents}}
        answer = self._answer()
        success = {"description": "success", "content": {"application/json": {
            "schema": answer}}}
        views = self._views()
        if views:
            success["description"] = "success; " + "; ".join(
                f"as the {role} sees it: {_name(view)}" for role, view in views)
        if self.entrypoint.method == "POST" and not self.entrypoint.public:
            success["headers"] = {"Idempotent-Replayed": {
                "description": "true: the stored answer of an earlier request with this "
                               "Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}}
        return success

    def _answer(self):
        returns = self._pick(self.entrypoint.returns)
        if returns is None:
            return {"type": "object"}
        if isinstance(returns, tuple):  # several schemas and no path value to tell them apart
            return {"oneOf": [self._ref(s) for s in returns]}
        full = self._ref(returns)
        views = self._views()
        if not views:
            return full
        shown = [full]
        for _, view in views:
            ref = self._ref(_shaped_like(returns, view))
            if ref not in shown:
                shown.append(ref)
        return {"anyOf": shown}

    def _views(self):
        """(role, schema) of each role whose answer is projected through a view: the
        entrypoint's own `views`, else those of the route's rule in gateway.policy."""
        views = getattr(self.entrypoint, "views", None)
        if views is None:
            rule = policy.RULES.get(self.name)
            views = rule.views if rule is not None else {}
        found = []
        for role, view in sorted(views.items()):
            if isinstance(view, dict):
                view = view.get(self.kind)
            if view is not None:
                found.append((role, view))
        return found

    def _errors(self):
        """The error statuses this operation can give: 400 when it takes any input (path,
        query or body); 401 and 403 when it needs a token; 404 when it names a record (in
        its path or body); 408, 409, 413 and 415 when it takes a body or changes something;
        422 for a reused Idempotency-Key; 503 when it asks a service."""
        entrypoint = self.entrypoint
        if self.name == "openapi_document":
            return {}
        has_body = entrypoint.method in WRITES
        has_path = any(converter != "any"
                       for converter, _, _ in _PATH_PARAM.findall(entrypoint.url))
        statuses = {503}
        if has_path or has_body or entrypoint.query is not None:
            statuses.add(400)
        if not entrypoint.public:
            statuses |= {401, 403}
        if has_path or has_body:
            statuses.add(404)
        if has_body:
            statuses |= {408, 409, 413, 415}
        if entrypoint.method == "POST" and not entrypoint.public:
            statuses.add(422)
        errors = {status: {"description": _codes(status),
                           "content": {"application/json": {"schema": ERROR}}}
                  for status in statuses}
        for status, description in OWN_FAILURES.get(self.name, {}).items():
            errors[status] = {"description": description,
                              "content": {"application/json": {"schema": self._answer()}}}
        return errors

    # --- components ------------------------------------------------------------------------

    def _ref(self, schema):
        """A reference to `schema` (a class, or an instance with many=True for an array),
        registering it as a component the first time."""
        if isinstance(schema, Schema) and schema.many:
            return {"type": "array", "items": self._ref(type(schema))}
        name = _name(schema)
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, schema=schema)
        return {"$ref": f"#/components/schemas/{name}"}


def _name(schema):
    if isinstance(schema, Schema):
        if schema.partial is True:
            return f"{_base(type(schema).__name__)}Changes"
        return type(schema).__name__
    return schema.__name__


def _base(name):
    return name[:-len("Input")] if name.endswith("Input") else name


@lru_cache(maxsize=None)
def _changes(schema):
    """A PATCH body: the fields of `schema`, none of them required (only those sent change)."""
    return schema(partial=True)


def _shaped_like(returns, view):
    """`view` in the shape the answer has: a page of views for a page, an array for an
    array, else the view itself."""
    item = getattr(returns, "item_schema", None)
    if item is not None:
        return page_schema(view)
    if isinstance(returns, Schema) and returns.many:
        return view(many=True)
    return view


def _codes(status):
    codes = list(dict.fromkeys(code for s, code in error_table().values() if s == status))
    if not codes and status in EDGE:
        codes = [EDGE[status]]
    return ", ".join(codes) or "error"


def _document_schema(media):
    """A document's body: text, or bytes for a binary media type."""
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}
