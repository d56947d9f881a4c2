"""The API document says what the gateway answers: lists as arrays, one page schema per kind,
the query filters, PATCH bodies of changes only, each role's projection, error statuses only
where they apply; and it is a valid OpenAPI 3 document."""
import json

import pytest
import schemathesis
from marshmallow import Schema, fields

from gateway import openapi, policy
from gateway.api import Api
from gateway.service import GatewayService
from kit.schemas import PageQuery, page_schema

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    return openapi.document(GatewayService)


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def success_response(operation):
    return operation["responses"][next(s for s in operation["responses"] if s.startswith("2"))]


def success(operation):
    return success_response(operation)["content"]["application/json"]["schema"]


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_is_valid_openapi(document):
    schemathesis.openapi.from_dict(document).validate()  # raises naming what is wrong


@pytest.mark.parametrize("path, item", [
    ("/v1/services", "ServiceDefinition"),
    ("/v1/enterprises/{enterprise_id}/visits", "Visit"),
    ("/v1/visits/cadence", "CadenceRow"),
])
def test_a_list_answer_is_an_array(document, path, item):
    assert success(document["paths"][path]["get"]) == {
        "type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}


@pytest.mark.parametrize("kind, item", [("stations", "Station"), ("parks", "Park"),
                                        ("grids", "Grid")])
def test_each_kind_of_place_has_its_own_paths_and_schemas(document, kind, item):
    paths = document["paths"]
    assert success(paths[f"/v1/{kind}"]["get"]) == {
        "anyOf": [ref(f"{item}Page"), ref(f"Agency{item}Page")]}
    assert success(paths[f"/v1/{kind}/{{place_id}}"]["get"]) == {
        "anyOf": [ref(item), ref(f"Agency{item}")]}
    assert success(paths[f"/v1/{kind}/{{place_id}}"]["patch"]) == ref(item)
    body = paths[f"/v1/{kind}"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": f"#/components/schemas/{item}Input"}
    assert "/v1/{kind}" not in paths


def test_no_answer_is_a_one_of(document):
    """oneOf demands exactly one match; an empty page of stations is also a page of parks."""
    for path, method, operation in operations(document):
        for response in operation["responses"].values():
            for content in response.get("content", {}).values():
                assert "oneOf" not in content["schema"], (method, path)


@pytest.mark.parametrize("path, filters", [
    ("/v1/stations", set()),
    ("/v1/enterprises", {"station_id", "grid_id", "level", "kind"}),
    ("/v1/officers", {"station_id", "role"}),
    ("/v1/incidents", {"enterprise_id", "state", "officer_id"}),
    ("/v1/requests", {"enterprise_id", "status"}),
])
def test_a_listing_documents_its_paging_and_filters(document, path, filters):
    query = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]
             if p["in"] == "query"}
    assert set(query) == {"page", "per_page"} | filters
    assert query["per_page"]["minimum"] == 1 and query["per_page"]["maximum"] == 500


@pytest.mark.parametrize("path, name", [
    ("/v1/enterprises/{enterprise_id}/responders", "at"),
    ("/v1/coverage", "at"),
    ("/v1/imports/officers", "mode"),
])
def test_other_query_parameters_are_documented(document, path, name):
    operation = next(iter(document["paths"][path].values()))
    assert name in {p["name"] for p in operation["parameters"] if p["in"] == "query"}


def test_a_patch_body_holds_changes_only(document):
    for path, method, operation in operations(document):
        body = operation.get("requestBody")
        if body is None or "application/json" not in body["content"]:
            continue
        assert body["required"] is True, (method, path)
        declared = body["content"]["application/json"]["schema"]
        schema = resolve(document, declared)
        assert declared["$ref"].endswith("Changes") == (method == "patch"), (method, path)
        if method == "patch":
            assert "required" not in schema and schema["properties"], path
    changes = document["components"]["schemas"]["EnterpriseChanges"]
    assert set(changes["properties"]) == set(
        document["components"]["schemas"]["EnterpriseInput"]["properties"])


def test_error_statuses_are_documented_where_they_apply(document):
    for path, method, operation in operations(document):
        statuses = set(operation["responses"])
        assert ("401" in statuses) == ("security" in operation), (method, path)
        assert ("403" in statuses) == ("security" in operation), (method, path)
        assert ({"413", "415"} <= statuses) == (method in ("post", "patch")), (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        assert "default" not in statuses
    assert set(document["paths"]["/v1/openapi.json"]["get"]["responses"]) == {"200"}
    readiness = document["paths"]["/readyz"]["get"]["responses"]
    assert set(readiness) == {"200", "503"}
    assert readiness["503"]["content"] == readiness["200"]["content"]


def test_each_projection_of_the_policy_is_documented(document):
    for path, method, operation in operations(document):
        rule = policy.RULES[operation["x-route"]]
        if "application/json" not in success_response(operation)["content"]:
            assert not rule.views, (method, path)  # a document goes out whole
            continue
        answer = success(operation)
        for role, view in rule.views.items():
            if isinstance(view, dict):
                view = view[path.split("/")[2]]
            assert view.__name__ in json.dumps(answer), (method, path, role)
            assert f"as the {role} sees it" in success_response(operation)["description"]


def test_a_document_answer_names_each_media_type_it_comes_in(document):
    report = document["paths"]["/v1/appraisal/report"]["get"]
    assert success_response(report)["content"] == {
        "text/html": {"schema": {"type": "string"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    query = {p["name"]: p for p in report["parameters"] if p["in"] == "query"}
    assert query["format"]["schema"]["enum"] == ["html", "pdf"]
    assert not query["format"].get("required")
    letter = document["paths"]["/v1/disputes/{dispute_id}/letters/{letter_id}"]["get"]
    assert list(success_response(letter)["content"]) == ["text/html"]


def test_an_operation_id_is_unique_and_names_its_route(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    routes = {name for name, _ in openapi._entrypoints(GatewayService)}
    assert {operation["x-route"] for _, _, operation in operations(document)} == routes


# --- projections -------------------------------------------------------------------------------


class Thing(Schema):
    id = fields.String(required=True)
    secret = fields.String(required=True)


class PublicThing(Schema):
    id = fields.String(required=True)


class PublicPart(Schema):
    id = fields.String(required=True)


def _with_views(entrypoint_method, views):
    for entrypoint in entrypoint_method.nameko_entrypoints:
        entrypoint.views = views
    return entrypoint_method


class ProjectedService:
    name = "projected"

    @Api.decorator("GET", "/things/<thing_id>", returns=Thing)
    def one(self, request, principal, thing_id):
        pass

    @Api.decorator("GET", "/things", query=PageQuery, returns=page_schema(Thing))
    def page(self, request, principal):
        pass

    @Api.decorator("GET", "/things/all", returns=Thing(many=True))
    def every(self, request, principal):
        pass

    @Api.decorator("GET", "/<any(things, parts):kind>/first", returns=(Thing, Thing))
    def first(self, request, principal, kind):
        pass

    @Api.decorator("GET", "/things/plain", returns=Thing)
    def plain(self, request, principal):
        pass

    _with_views(one, {"agency": PublicThing, "officer": PublicThing})
    _with_views(page, {"agency": PublicThing})
    _with_views(every, {"agency": PublicThing})
    _with_views(first, {"agency": {"things": PublicThing, "parts": PublicPart}})


@pytest.fixture(scope="module")
def projected():
    return openapi.document(ProjectedService)


@pytest.mark.parametrize("path, answer", [
    ("/things/{thing_id}", {"anyOf": [ref("Thing"), ref("PublicThing")]}),
    ("/things", {"anyOf": [ref("ThingPage"), ref("PublicThingPage")]}),
    ("/things/all", {"anyOf": [{"type": "array", "items": ref("Thing")},
                               {"type": "array", "items": ref("PublicThing")}]}),
    ("/things/first", {"anyOf": [ref("Thing"), ref("PublicThing")]}),
    ("/parts/first", {"anyOf": [ref("Thing"), ref("PublicPart")]}),
    ("/things/plain", ref("Thing")),
])
def test_a_projected_answer_is_any_of_the_record_and_each_view(projected, path, answer):
    assert success(projected["paths"][path]["get"]) == answer


def test_a_projection_is_described_by_role_and_its_schema_allows_only_its_fields(projected):
    response = projected["paths"]["/things/{thing_id}"]["get"]["responses"]["200"]
    assert "as the agency sees it: PublicThing" in response["description"]
    assert "as the officer sees it: PublicThing" in response["description"]
    view = projected["components"]["schemas"]["PublicThing"]
    assert view["additionalProperties"] is False and set(view["properties"]) == {"id"}
    page = projected["components"]["schemas"]["PublicThingPage"]
    assert page["properties"]["items"]["items"] == ref("PublicThing")
    schemathesis.openapi.from_dict(projected).validate()


def test_the_readiness_answer_names_every_service_the_gateway_asks():
    from gateway.openapi import Readiness
    from gateway.routes.health import SERVICES

    assert set(Readiness._declared_fields) == {"status", *SERVICES}
