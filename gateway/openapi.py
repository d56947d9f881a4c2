"""The OpenAPI 3 document, generated from the routes and the services' schemas."""
import inspect
import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .errors import ERRORS

_PATH_PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def _openapi_path(url):
    return _PATH_PARAM.sub(lambda m: "{" + m.group(3) + "}", url)


def _path_parameters(url):
    params = []
    for converter, args, name in _PATH_PARAM.findall(url):
        schema = {"type": "string"}
        if converter == "any":
            schema["enum"] = [a.strip() for a in args.split(",")]
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return params


def _content(schemas, media="application/json"):
    if not isinstance(schemas, tuple):
        return {media: {"schema": schemas}}
    return {media: {"schema": {"oneOf": [{"$ref": f"#/components/schemas/{_name(s)}"}
                                         for s in schemas]}}}


def _name(schema):
    return schema.__name__


@lru_cache(maxsize=None)
def document(service_cls):
    spec = APISpec(title="Police-enterprise liaison platform", version="1",
                   openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", {"type": "object", "required": ["error", "message"],
                                     "properties": {"error": {"type": "string"},
                                                    "message": {"type": "string"},
                                                    "fields": {"type": "object"}}})
    for _, entrypoint in _entrypoints(service_cls):
        for schema in _schemas(entrypoint):
            if _name(schema) not in spec.components.schemas:  # nested ones register themselves
                spec.components.schema(_name(schema), schema=schema)
    paths = {}
    for name, entrypoint in _entrypoints(service_cls):
        path = _openapi_path(entrypoint.url)
        paths.setdefault(path, {})[entrypoint.method.lower()] = _operation(name, entrypoint)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _entrypoints(service_cls):
    from .api import Api

    for name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, Api):
                yield name, entrypoint


def _schemas(entrypoint):
    for declared in (entrypoint.body_schema, entrypoint.returns):
        if declared is None:
            continue
        yield from declared if isinstance(declared, tuple) else (declared,)


def _operation(name, entrypoint):
    operation = {"summary": entrypoint.summary, "operationId": name,
                 "parameters": _path_parameters(entrypoint.url), "responses": {}}
    if entrypoint.query is not None:
        operation["parameters"].append({"in": "query", "schema": entrypoint.query})
    if entrypoint.body_schema is not None:
        operation["requestBody"] = {"required": True,
                                    "content": _content(entrypoint.body_schema)}
    if entrypoint.csv_body:
        operation["requestBody"] = {"required": True,
                                    "content": {"text/csv": {"schema": {"type": "string"}}}}
    ok = {"description": "success"}
    if entrypoint.returns is not None:
        ok["content"] = _content(entrypoint.returns)
    operation["responses"][str(entrypoint.status)] = ok
    for status in sorted({status for status, _ in ERRORS.values()}):
        operation["responses"][str(status)] = {
            "description": ", ".join(code for s, code in ERRORS.values() if s == status),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if not entrypoint.public:
        operation["security"] = [{"bearer": []}]
    return operation
