"""What /v1/openapi.json promises about input holds for the running gateway: every body it
marks as required is refused when left out, every query filter it lists narrows the listing
to what it names, and every bound it puts on a query parameter is refused past it, naming
the parameter."""
import time

import pytest

pytestmark = pytest.mark.e2e

PAGING = ("page", "per_page")
WRITES = ("post", "put", "patch")


@pytest.fixture(scope="module")
def document(api):
    response = api("GET", "/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document, methods):
    for path, item in sorted(document["paths"].items()):
        for method, operation in item.items():
            if method in methods:
                yield path, method, operation


def query_parameters(operation):
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}


def refused(response, name):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "VALIDATION_FAILED" and name in body["fields"], body
    return body


@pytest.fixture(scope="module")
def cases(api, supervisor, token):
    """One incident and one service request of a demo enterprise, and a closed incident's
    rating invitation, so that the listings of cases have something to filter."""
    enterprise = api("GET", "/v1/enterprises?per_page=1", supervisor).json()["items"][0]
    incident = api("POST", "/v1/incidents", supervisor, json={
        "enterprise_id": enterprise["id"], "category": "other", "priority": "low",
        "description": "filter check"})
    assert incident.status_code == 201, incident.text
    request = api("POST", "/v1/requests", supervisor, json={
        "enterprise_id": enterprise["id"], "service_code": "other",
        "description": "filter check"})
    assert request.status_code == 201, request.text
    page = next(n for n in incident.json()["notifications"] if n["reason"] == "responsible")
    officer = token("officer", sub="filter-officer", officer_id=page["recipient"]["id"])
    assert api("POST", f"/v1/incidents/{incident.json()['id']}/acknowledgements", officer,
               json={"notification_id": page["id"]}).status_code == 200
    assert api("POST", f"/v1/incidents/{incident.json()['id']}/transitions", supervisor,
               json={"state": "resolved"}).status_code == 200
    for _ in range(200):
        if api("GET", "/v1/appraisal/invitations", supervisor).json()["total"]:
            break
        time.sleep(0.05)
    return incident.json(), request.json()


def test_every_required_body_is_refused_when_left_out(api, supervisor, document):
    checked = 0
    for path, method, operation in operations(document, WRITES):
        body = operation.get("requestBody")
        if not body or not body["required"]:
            continue
        url = path.replace("{", "no-such-").replace("}", "")
        for headers in ({}, {"Content-Type": next(iter(body["content"]))}):
            answer = api(method.upper(), url, supervisor, headers=headers)
            assert answer.status_code == 400, (method, path, answer.text)
            assert answer.json()["error"] == "VALIDATION_FAILED", (method, path)
            checked += 1
    assert checked >= 2 * 15


def _sample(api, token, path, name):
    """A value of `name` that some item of the listing at `path` has."""
    for item in api("GET", path, token, params={"per_page": 500}).json()["items"]:
        if name in item:
            return item[name]
        if name == "officer_id" and item.get("officer_ids"):  # an invitation's officers
            return item["officer_ids"][0]
        if name == "officer_id":  # an incident names officers in its pages
            for notification in item.get("notifications", ()):
                if notification["recipient"]["kind"] == "officer":
                    return notification["recipient"]["id"]
    pytest.fail(f"no item of {path} has a {name} to filter by")


def _matches(item, name, value):
    if name == "officer_id" and "officer_ids" in item:
        return value in item["officer_ids"]
    if name in item:
        if isinstance(item[name], dict):  # a dispute's grade: {"grade": ..., "flags": ...}
            return item[name].get(name) == value
        return item[name] == value
    return value in {n["recipient"]["id"] for n in item["notifications"]}


def test_every_documented_filter_narrows_the_listing(api, supervisor, token, document, cases):
    """A filter with a value some item has gives those items only; one that no item has
    gives none; an enum's values share the listing out between them. (The listings of one
    record's parts, such as a subscription's deliveries, take windows, not filters.)"""
    checked = []
    admin = token("admin", sub="document-admin")
    for path, _, operation in operations(document, ("get",)):
        query = query_parameters(operation)
        if "page" not in query or "{" in path:
            continue
        supervisor_or_admin = admin if path.startswith("/v1/subscriptions") else supervisor
        everything = api("GET", path, supervisor_or_admin).json()["total"]
        for name, schema in query.items():
            if name in PAGING:
                continue
            values = schema.get("enum") or [_sample(api, supervisor, path, name)]
            totals = []
            for value in values:
                answer = api("GET", path, supervisor, params={name: value, "per_page": 500})
                assert answer.status_code == 200, (path, name, answer.text)
                page = answer.json()
                assert all(_matches(item, name, value) for item in page["items"]), (path, name)
                totals.append(page["total"])
            if "enum" in schema:
                assert sum(totals) == everything, (path, name, totals)
            else:
                assert totals[0] > 0, (path, name)
                absent = 2099 if schema.get("type") == "integer" else "no-such-id"
                nobody = api("GET", path, supervisor, params={name: absent}).json()
                assert nobody["total"] == 0 < everything, (path, name)
            checked.append((path, name))
    assert len(checked) >= 10, checked


def test_every_bound_on_a_query_parameter_is_refused_past_it(api, supervisor, token,
                                                             document):
    checked = 0
    admin = token("admin", sub="document-admin")
    for path, _, operation in operations(document, ("get", "post")):
        caller = admin if path.startswith("/v1/subscriptions") else supervisor
        if "{" in path:
            path = path.replace("{enterprise_id}", _sample(api, supervisor, "/v1/enterprises",
                                                           "id"))
        for name, schema in query_parameters(operation).items():
            wrong = []
            if "enum" in schema:
                wrong.append("not-" + str(schema["enum"][0]))
            if "minimum" in schema:
                wrong.append(schema["minimum"] - 1)
            if "maximum" in schema:
                wrong.append(schema["maximum"] + 1)
            if schema.get("format") == "date-time":
                wrong.append("yesterday")
            for value in wrong:
                method = "POST" if path.startswith("/v1/imports/") else "GET"
                extra = {"data": "name\n", "headers": {"Content-Type": "text/csv"}} \
                    if method == "POST" else {}
                refused(api(method, path, caller, params={name: value}, **extra), name)
                checked += 1
    assert checked >= 10
