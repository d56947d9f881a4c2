"""The HTTP edge end to end: every answer in the one error shape, body limits, slow clients cut
off, escaped log lines, and refusals that are counted but are not incidents.

Raw sockets where a client must misbehave in ways an HTTP library will not.
"""
import json
import os
import socket
import threading
import time
import uuid
from urllib.parse import quote

import pytest
import requests

pytestmark = pytest.mark.e2e

MAX_BODY = int(os.environ.get("MAX_BODY_BYTES", 1024 * 1024))
READ_TIMEOUT = float(os.environ.get("HTTP_READ_TIMEOUT", 10))


# --- helpers -------------------------------------------------------------------------------------


def refused(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == code and body["message"], body
    return body


def station_body():
    return {"name": f"边缘测试派出所{uuid.uuid4().hex[:6]}", "kind": "station",
            "address": "云溪县测试路2号", "phone": "0851-88000000"}


def raw_exchange(platform, data, timeout=READ_TIMEOUT + 10):
    """Send `data` on a fresh connection; (status, headers, body) of the answer, read until the
    server closes the connection."""
    with socket.create_connection(("127.0.0.1", platform.gateway_port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server answered and closed before taking everything
            pass
        received = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            received += part
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    return int(lines[0].split()[1]), headers, body[:int(headers.get("content-length", len(body)))]


def log_lines(platform, name, since=0):
    """The lines of a process's log after byte offset `since`, and the offset they end at."""
    path = platform.log_dir / f"{name}.log"
    data = path.read_bytes()
    return data[since:].decode("utf-8", "replace").splitlines(), len(data)


def wait_for_log(platform, name, since, needle, seconds=5):
    deadline = time.monotonic() + seconds
    while True:
        lines, _ = log_lines(platform, name, since)
        if any(needle in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def samples(platform, metric):
    """[(labels, value)] of the gateway's `metric`."""
    text = requests.get(platform.metrics_url("gateway"), timeout=10).text
    found = []
    for line in text.splitlines():
        if line.startswith(metric + "{"):
            labels, value = line[len(metric) + 1:].rsplit("} ", 1)
            found.append((dict(pair.split("=", 1) for pair in labels.split(",")),
                          float(value)))
    return found


def total(found, **labels):
    wanted = {k: f'"{v}"' for k, v in labels.items()}
    return sum(value for have, value in found if wanted.items() <= have.items())


# --- 404 and 405 ---------------------------------------------------------------------------------


def test_unknown_path_and_wrong_method_answer_in_the_error_shape(api, supervisor):
    refused(api("GET", "/v1/nothing-here", supervisor), 404, "NOT_FOUND")
    refused(api("GET", "/nothing/at/all"), 404, "NOT_FOUND")

    wrong = refused(api("DELETE", "/v1/enterprises", supervisor), 405, "METHOD_NOT_ALLOWED")
    assert set(api("DELETE", "/v1/enterprises").headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "DELETE" in wrong["message"]
    patch_only = api("PUT", "/v1/officers/o1", supervisor)
    refused(patch_only, 405, "METHOD_NOT_ALLOWED")
    assert "PATCH" in patch_only.headers["Allow"].split(", ")

    health = api("POST", "/healthz")  # the plain nameko route shares the server and its rules
    refused(health, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in health.headers["Allow"]
    assert api("GET", "/healthz").json() == {"status": "ok"}


# --- body size and media type --------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(platform, supervisor):
    head = (f"POST /v1/stations HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {supervisor}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n")
    status, headers, body = raw_exchange(platform, head.encode())  # and not one byte of body

    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["error"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_over_the_limit_is_refused(platform, supervisor):
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                      for _ in range(MAX_BODY // len(chunk) + 1))
    head = (f"POST /v1/stations HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {supervisor}"
            "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, headers, body = raw_exchange(platform, head.encode() + chunks)

    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["error"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_within_the_limit_is_taken(platform, supervisor):
    data = json.dumps(station_body()).encode()
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    head = (f"POST /v1/stations HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {supervisor}"
            "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n")
    status, _, body = raw_exchange(platform, head.encode() + chunks)

    assert status == 201, body
    assert json.loads(body)["name"] == json.loads(data)["name"]


def test_json_routes_take_json_only_and_imports_take_csv(api, supervisor):
    text = json.dumps(station_body())
    refused(api("POST", "/v1/stations", supervisor, data=text,
                headers={"Content-Type": "text/plain"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    refused(api("POST", "/v1/stations", supervisor, data=text), 415,  # no type at all
            "UNSUPPORTED_MEDIA_TYPE")
    created = api("POST", "/v1/stations", supervisor, data=text.encode(),
                  headers={"Content-Type": "application/json; charset=utf-8"})
    assert created.status_code == 201, created.text

    csv_text = "badge_number,name,role,station_name,departments,phone\n"
    refused(api("POST", "/v1/imports/officers", supervisor, data=csv_text,
                headers={"Content-Type": "application/json"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    for media in ("text/csv", "text/plain; charset=utf-8"):
        report = api("POST", "/v1/imports/officers", supervisor, data=csv_text,
                     headers={"Content-Type": media})
        assert report.status_code == 200 and report.json()["rows"] == 0, report.text


def test_a_required_body_cannot_be_left_out(api, supervisor):
    station = api("GET", "/v1/stations?per_page=1", supervisor).json()["items"][0]

    for headers in ({}, {"Content-Type": "application/json"}):
        body = refused(api("PATCH", f"/v1/stations/{station['id']}", supervisor,
                           headers=headers), 400, "VALIDATION_FAILED")
        assert "_body" in body["fields"]
    # a route that documents no body takes none: this one goes on to look the incident up
    refused(api("POST", "/v1/incidents/no-such-incident/departments/fire/acknowledgements",
                supervisor), 404, "INCIDENT_NOT_FOUND")


# --- JSON that cannot be stored ------------------------------------------------------------------


def post_json_text(api, token, path, text):
    return api("POST", path, token, data=text.encode(),
               headers={"Content-Type": "application/json"})


def test_json_nested_too_deep_is_refused_naming_the_field(api, supervisor):
    deep = "[" * 1000 + "]" * 1000
    body = refused(post_json_text(api, supervisor, "/v1/stations", deep), 400,
                   "VALIDATION_FAILED")
    assert list(body["fields"]) == ["_body"]

    nested = '{"kind": "station", "name": ' + "[" * 1000 + "]" * 1000 + "}"
    body = refused(post_json_text(api, supervisor, "/v1/stations", nested), 400,
                   "VALIDATION_FAILED")
    assert list(body["fields"]) == ["name"]


def test_lone_surrogates_are_refused_naming_the_field(api, supervisor):
    in_value = '{"name": "a\\ud800b", "kind": "station", "address": "x"}'
    body = refused(post_json_text(api, supervisor, "/v1/stations", in_value), 400,
                   "VALIDATION_FAILED")
    assert list(body["fields"]) == ["name"]

    in_key = '{"na\\udc00me": "x", "kind": "station"}'
    response = post_json_text(api, supervisor, "/v1/stations", in_key)
    body = refused(response, 400, "VALIDATION_FAILED")
    assert list(body["fields"]) == ["na\\udc00me"]  # named, as text that can be shown
    response.content.decode("utf-8")  # strict: the answer is valid UTF-8

    enterprise = api("GET", "/v1/enterprises?per_page=1", supervisor).json()["items"][0]
    nested = '{"contact": {"name": "\\ud83d", "phone": "13500000000"}}'
    body = refused(api("PATCH", f"/v1/enterprises/{enterprise['id']}", supervisor,
                       data=nested, headers={"Content-Type": "application/json"}), 400,
                   "VALIDATION_FAILED")
    assert list(body["fields"]) == ["contact"] and list(body["fields"]["contact"]) == ["name"]


# --- CSV imports -------------------------------------------------------------------------------


def test_csv_import_with_an_oversized_field_is_refused_naming_the_line(api, supervisor):
    header = "badge_number,name,role,station_name,departments,phone\n"
    for size in (20_000, 200_000):
        text = header + "B1,张测试,community_officer,S,,\n" + f"B2,{'长' * size},x,S,,\n"
        body = refused(api("POST", "/v1/imports/officers", supervisor, data=text.encode(),
                           headers={"Content-Type": "text/csv"}), 400, "VALIDATION_FAILED")
        assert body["fields"]["text"][0].startswith("line 3: "), body

    body = refused(api("POST", "/v1/imports/officers", supervisor,
                       data=("x" * 200_000 + "\n").encode(),
                       headers={"Content-Type": "text/csv"}), 400, "VALIDATION_FAILED")
    assert body["fields"]["text"][0].startswith("line 1: "), body


# --- slow clients --------------------------------------------------------------------------------


def test_clients_that_send_half_a_request_are_cut_off_and_block_nobody(platform, api,
                                                                       supervisor):
    half = b"GET /v1/stations HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer x"
    started = time.monotonic()
    holders = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", platform.gateway_port), timeout=5)
        sock.sendall(half)
        holders.append(sock)
    stop = threading.Event()
    tricklers = [_Trickler(platform.gateway_port, stop) for _ in range(3)]

    try:
        # meanwhile others are served
        assert api("GET", "/healthz").status_code == 200
        assert api("GET", "/v1/stations?per_page=1", supervisor).status_code == 200

        deadline = started + READ_TIMEOUT + 10
        for sock in holders:
            assert _closed_by(sock, deadline), "a half request held its connection"
        for trickler in tricklers:
            assert trickler.closed.wait(max(0.1, deadline - time.monotonic())), \
                "a client trickling its head held its connection"
    finally:
        stop.set()
        for sock in holders:
            sock.close()
    assert api("GET", "/healthz").status_code == 200


def _closed_by(sock, deadline):
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class _Trickler:
    """A client that sends a request's head one byte every half second, never finishing."""

    def __init__(self, port, stop):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.stop = stop
        self.closed = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        head = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + b"s" * 1000
        try:
            for byte in head:
                if self.stop.wait(0.5):
                    return
                self.sock.sendall(bytes([byte]))
        except OSError:
            self.closed.set()
        finally:
            self.sock.close()


# --- logs and counts -----------------------------------------------------------------------------


def test_an_id_holding_a_line_break_writes_no_line_of_its_own(platform, api, supervisor):
    marker = f"FORGED-{uuid.uuid4().hex}"
    forged = f"x\n2099-01-01 00:00:00,000 CRITICAL gateway: {marker}\r\x1b[2K"
    offsets = {name: log_lines(platform, name)[1] for name in ("gateway", "enterprise")}

    refused(api("GET", "/v1/enterprises/" + quote(forged, safe=""), supervisor), 404,
            "ENTERPRISE_NOT_FOUND")
    refused(api("GET", "/v1/" + quote(forged, safe="")), 404, "NOT_FOUND")

    lines = wait_for_log(platform, "gateway", offsets["gateway"], marker)
    assert sum(marker in line for line in lines) >= 2, lines  # logged, escaped
    for name, since in offsets.items():
        lines, _ = log_lines(platform, name, since)
        for line in lines:
            assert not line.startswith("2099-01-01"), (name, line)
            assert "\x1b" not in line and "\r" not in line, (name, line)
            if marker in line:
                assert "x\\n2099-01-01" in line, (name, line)


def test_refusals_log_one_line_without_a_traceback(platform, api, supervisor, token):
    enterprises = api("GET", "/v1/enterprises?per_page=2", supervisor).json()["items"]
    own, other = enterprises[0]["id"], enterprises[1]["id"]
    as_enterprise = token("enterprise", enterprise_id=own)
    since = {name: log_lines(platform, name)[1] for name in ("gateway", "enterprise")}

    refused(api("GET", f"/v1/enterprises/{other}", as_enterprise), 403, "FORBIDDEN")
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    refused(api("GET", f"/v1/enterprises/{missing}", supervisor), 404, "ENTERPRISE_NOT_FOUND")

    lines = wait_for_log(platform, "gateway", since["gateway"], missing)
    forbidden = [line for line in lines if f"/v1/enterprises/{other} " in line]
    not_found = [line for line in lines if missing in line]
    assert len(forbidden) == 1 and "-> 403 FORBIDDEN" in forbidden[0], lines  # one line each
    assert len(not_found) == 1 and "-> 404 ENTERPRISE_NOT_FOUND" in not_found[0], lines
    assert " INFO " in forbidden[0] and " INFO " in not_found[0]
    for name in since:
        lines, _ = log_lines(platform, name, since[name])
        assert not any("Traceback" in line or " ERROR " in line for line in lines), (name, lines)


def test_every_answer_is_counted_by_status_and_refusals_are_expected(platform, api, token,
                                                                    supervisor):
    metric = "liaison_http_responses_total"
    before = samples(platform, metric)
    api("GET", "/v1/stations")  # no token
    api("GET", "/v1/stations", headers={"Authorization": "Bearer not-a-token"})
    api("GET", "/v1/nowhere")

    after = samples(platform, metric)
    for route, status, more in (("list_places", 401, 2), ("unmatched", 404, 1)):
        counted = total(after, route=route, status=status) - total(before, route=route,
                                                                   status=status)
        assert counted == more, (route, status, after)

    enterprises = api("GET", "/v1/enterprises?per_page=2", supervisor).json()["items"]
    as_enterprise = token("enterprise", enterprise_id=enterprises[0]["id"])
    refused(api("GET", f"/v1/enterprises/{enterprises[1]['id']}", as_enterprise), 403,
            "FORBIDDEN")
    errors = samples(platform, "liaison_entrypoint_errors_total")
    assert total(errors, entrypoint="get_enterprise", kind="expected", error="Forbidden") >= 1
    assert total(errors, kind="unexpected", error="Forbidden") == 0, errors
