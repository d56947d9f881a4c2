"""The HTTP edge: body rules, the error shape, escaped logs and counts.

The pure parts are tested as functions; the server's rules on a real nameko container of a
small service with the gateway's entrypoint, over HTTP on localhost (no broker).
"""
import io
import json
import logging
import socket
import time

import pytest
import requests
from eventlet.wsgi import Input
from marshmallow import Schema, fields
from nameko.web.handlers import http
from prometheus_client import REGISTRY
from werkzeug.exceptions import MethodNotAllowed, NotFound

from gateway.api import Api
from gateway.auth import Forbidden
from gateway.body import (MAX_DEPTH, PayloadTooLarge, check_depth, check_text, read_body,
                          safe_text)
from gateway.errors import error_response, json_response, refusals
from infra.sandbox import free_port
from kit.errors import ServiceUnavailable, ValidationFailed
from kit.logs import escape, format_exception
from kit.metrics import Metrics
from kit.remote import RemoteError
from services.enterprise.exceptions import EnterpriseNotFound, InvalidImport
from services.enterprise.imports import MAX_FIELD_CHARS, MAX_ROWS, read_rows

# --- escaping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, escaped", [
    ("e1", "e1"),
    ("a\nb\rc\td", "a\\nb\\rc\\td"),
    ("\x1b[2K\x00", "\\x1b[2K\\x00"),
    ("line\u2028sep", "line\\u2028sep"),
    ("a\ud800b", "a\\ud800b"),
    ("back\\slash", "back\\\\slash"),
    ("企业", "企业"),
])
def test_escape_keeps_text_on_one_encodable_line(text, escaped):
    assert escape(text) == escaped
    escape(text).encode("utf-8")


def test_a_traceback_escapes_every_message_and_keeps_the_frames():
    def fail():
        try:
            raise KeyError("inner")
        except KeyError as error:
            raise RuntimeError("outer\nFORGED line") from error

    with pytest.raises(RuntimeError) as raised:
        fail()
    text = format_exception(raised.value)

    assert "RuntimeError: outer\\nFORGED line" in text
    assert not any(line.startswith("FORGED") for line in text.splitlines())
    assert text.index("KeyError") < text.index("RuntimeError")  # the cause first
    assert "in fail" in text


# --- answers that always encode ------------------------------------------------------------------


def test_json_response_encodes_any_text():
    response = json_response({"error": "X", "message": "a\ud800b", "fields": {"k\udfff": []}})

    text = response.get_data().decode("utf-8")  # strict
    assert json.loads(text) == {"error": "X", "message": "a\ud800b", "fields": {"k\udfff": []}}


def test_routing_errors_answer_in_the_error_shape():
    response = error_response(MethodNotAllowed(["GET", "POST"], "PUT is not allowed"))
    assert response.status_code == 405 and response.headers["Allow"] == "GET, POST"
    assert json.loads(response.get_data()) == {"error": "METHOD_NOT_ALLOWED",
                                               "message": "PUT is not allowed"}
    response = error_response(NotFound("nothing at /x"))
    assert (response.status_code, response.mimetype) == (404, "application/json")


def test_every_refusal_of_the_table_is_expected_and_no_bug_is():
    expected = refusals()
    for refusal in (Forbidden("no"), ValidationFailed({"a": ["b"]}), NotFound(),
                    RemoteError("EnterpriseNotFound", "no enterprise with id e9", ["e9"])):
        assert isinstance(refusal, expected), refusal
    for bug in (RuntimeError(), RemoteError("KeyError", "'x'", ["x"]),
                ServiceUnavailable("enterprise did not answer")):
        assert not isinstance(bug, expected), bug


# --- JSON that can be stored ---------------------------------------------------------------------


def test_depth_is_counted_without_parsing():
    check_depth(("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode())
    check_depth(b'{"a": "[[[[[[' + b"[" * 100 + b'\\"{{{"}')  # brackets in strings do not count

    with pytest.raises(ValidationFailed) as deep:
        check_depth(("[" * 1000 + "]" * 1000).encode())
    assert list(deep.value.errors) == ["_body"]
    with pytest.raises(ValidationFailed) as deep:
        check_depth(b'{"a": "x", "b\\"q": ' + b"{" * 100)
    assert list(deep.value.errors) == ['b"q']


def test_lone_surrogates_are_refused_by_their_field_path():
    check_text({"name": "企业😀", "list": ["ok"]})

    with pytest.raises(ValidationFailed) as refused:
        check_text({"name": "a\ud800", "contact": {"name": "ok", "phone": "\udc00"},
                    "departments": ["fire", "x\ud83d"], "bad\udfffkey": 1})
    errors = refused.value.errors
    assert set(errors) == {"name", "contact", "departments", "bad\\udfffkey"}
    assert list(errors["contact"]) == ["phone"] and list(errors["departments"]) == [1]
    assert "surrogate" in errors["name"][0] and "field name" in errors["bad\\udfffkey"][0]
    json_response(errors).get_data().decode("utf-8")  # the errors themselves encode

    with pytest.raises(ValidationFailed) as refused:  # raw UTF-8 of a surrogate, not escaped
        check_text(json.loads(b'{"a": "\xed\xa0\x80"}'))
    assert list(refused.value.errors) == ["a"]
    assert safe_text("a\ud800") == "a\\ud800"


# --- reading a body ------------------------------------------------------------------------------


def chunked(data, size=100):
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                    for i in range(0, len(data), size)) + b"0\r\n\r\n"


def test_a_chunked_body_is_read_up_to_the_limit_and_no_further():
    wire = io.BytesIO(chunked(b"x" * 10_000))
    environ = {"HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input": Input(wire, None, None, chunked_input=True)}

    with pytest.raises(PayloadTooLarge):
        read_body(environ, limit=1000, timeout=5)
    assert wire.tell() < 1200  # 1001 bytes of body and their chunk headers


def test_a_declared_length_over_the_limit_is_refused_unread():
    wire = io.BytesIO(b"x" * 5000)
    environ = {"CONTENT_LENGTH": "5000", "wsgi.input": Input(wire, 5000, None)}

    with pytest.raises(PayloadTooLarge):
        read_body(environ, limit=1000, timeout=5)
    assert wire.tell() == 0


def test_a_body_read_becomes_the_requests_input():
    environ = {"HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input": Input(io.BytesIO(chunked(b'{"a": 1}', 3)), None, None,
                                   chunked_input=True)}

    assert read_body(environ, limit=1000, timeout=5) == b'{"a": 1}'
    assert environ["CONTENT_LENGTH"] == "8" and environ["wsgi.input"].read() == b'{"a": 1}'


# --- CSV import limits ---------------------------------------------------------------------------

HEADER = "badge_number,name,role,station_name,departments,phone\n"


@pytest.mark.parametrize("text, line", [
    (HEADER + "B1,a,r,s,,\n" + f"B2,{'x' * (MAX_FIELD_CHARS + 1)},r,s,,\n", 3),
    (HEADER + "B1,a,r,s,,\n" + f"B2,{'x' * 200_000},r,s,,\n", 3),
    ("x" * 200_000 + "\n", 1),
    (HEADER + "B1,a,r,s,,\n" * (MAX_ROWS + 1), MAX_ROWS + 2),
    (HEADER + ("B1," + "z" * 9000 + ",r,s,,\n") * 200, 118),  # over 1 MiB at line 118
])
def test_an_import_over_a_limit_is_refused_naming_the_line(text, line):
    with pytest.raises(InvalidImport) as refused:
        read_rows("officers", text)
    [reason] = refused.value.errors["text"]
    assert reason.startswith(f"line {line}: "), reason


def test_an_import_within_the_limits_is_read_with_its_lines():
    rows = read_rows("officers", HEADER + "B1,a,r,s,,\n" + "B2,\"multi\nline\",r,s,,\n")
    assert [(line, row["badge_number"]) for line, row in rows] == [(2, "B1"), (4, "B2")]


# --- the server, running -------------------------------------------------------------------------


class Thing(Schema):
    name = fields.String()


class EdgeService:
    name = "edge"
    metrics = Metrics()

    @Api.decorator("POST", "/things", public=True, body=Thing)
    def make(self, request, principal, body):
        return 201, body

    @Api.decorator("POST", "/things/<thing_id>/pokes", public=True)
    def poke(self, request, principal, thing_id, body):
        return {"poked": thing_id, "body": body}

    @Api.decorator("POST", "/imports", public=True, csv_body=True)
    def take_csv(self, request, principal, body):
        return {"text": body}

    @Api.decorator("GET", "/things/<thing_id>", public=True)
    def get_thing(self, request, principal, thing_id):
        if thing_id == "secret":
            raise Forbidden("no access to secret")
        raise EnterpriseNotFound(thing_id)

    @Api.decorator("GET", "/boom", public=True)
    def boom(self, request, principal):
        raise RuntimeError("bug\nFORGED line")

    @http("GET", "/plain")
    def plain(self, request):
        return "plain"


LIMIT = 1000
TIMEOUT = 1.0


@pytest.fixture
def edge(container_factory):
    port = free_port()
    container = container_factory(EdgeService, {
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "JWT_SECRET": "s" * 40,
        "MAX_BODY_BYTES": LIMIT, "HTTP_READ_TIMEOUT": TIMEOUT, "AMQP_URI": "memory://"})
    container.start()
    return f"http://127.0.0.1:{port}", port


def answer(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == code
    return response.json()


def test_routing_errors_and_the_plain_route_share_the_error_shape(edge):
    url, _ = edge
    answer(requests.get(url + "/nowhere"), 404, "NOT_FOUND")
    refusal = requests.delete(url + "/things")
    answer(refusal, 405, "METHOD_NOT_ALLOWED")
    assert refusal.headers["Allow"] == "POST"
    answer(requests.post(url + "/plain"), 405, "METHOD_NOT_ALLOWED")
    assert requests.get(url + "/plain").text == "plain"


def test_bodies_are_taken_within_the_limit_and_of_the_right_type(edge):
    url, _ = edge
    assert requests.post(url + "/things", json={"name": "n"}).json() == {"name": "n"}
    too_large = _value("liaison_http_responses_total", service="edge", route="make",
                       status="413")
    answer(requests.post(url + "/things", data=b"{}" + b" " * LIMIT,
                         headers={"Content-Type": "application/json"}), 413,
           "PAYLOAD_TOO_LARGE")
    assert _value("liaison_http_responses_total", service="edge", route="make",
                  status="413") == too_large + 1  # counted against the route it was sent to
    answer(requests.post(url + "/things", data=b'{"name": "n"}',
                         headers={"Content-Type": "text/plain"}), 415,
           "UNSUPPORTED_MEDIA_TYPE")
    assert requests.post(url + "/things", data=b'{"name": "n"}', headers={
        "Content-Type": "application/problem+json"}).status_code == 201
    assert "_body" in answer(requests.post(url + "/things"), 400, "VALIDATION_FAILED")["fields"]
    assert requests.post(url + "/things/t1/pokes").json() == {"poked": "t1", "body": {}}

    answer(requests.post(url + "/imports", data="a,b\n", headers={
        "Content-Type": "application/json"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    answer(requests.post(url + "/imports", data="a,b\n", headers={
        "Content-Type": "text/csv; charset=gbk"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    bad_utf8 = answer(requests.post(url + "/imports", data=b"a,b\n\xff\n", headers={
        "Content-Type": "text/csv"}), 400, "VALIDATION_FAILED")
    assert bad_utf8["fields"]["text"][0].startswith("line 2: ")
    for media in ("text/csv", "text/plain; charset=utf-8"):
        assert requests.post(url + "/imports", data="名,b\n".encode(), headers={
            "Content-Type": media}).json() == {"text": "名,b\n"}


def test_a_client_that_sends_half_a_request_is_disconnected(edge):
    url, port = edge
    half_head = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + 5)
    half_head.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n")
    half_body = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + 5)
    half_body.sendall(b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"name\": ")

    assert requests.get(url + "/plain", timeout=5).text == "plain"  # others are served
    assert half_head.recv(100) == b""  # closed, within the socket's own timeout
    answered = b""
    while part := half_body.recv(4096):
        answered += part
    assert answered.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in answered
    assert b'"REQUEST_TIMEOUT"' in answered


def test_a_head_trickled_byte_by_byte_is_cut_off_too(edge):
    _, port = edge
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + 5)
    sent = 0
    cut = False
    for byte in b"GET /plain HTTP/1.1\r\nX-Slow: " + b"s" * 100:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            cut = True
            break
        sent += 1
        time.sleep(TIMEOUT / 4)  # each byte well within the socket's timeout
    assert cut and sent < 4 * 4, sent  # the head as a whole had TIMEOUT seconds


def _value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_each_answer_is_one_escaped_line_and_only_a_bug_has_a_traceback(edge, caplog):
    url, _ = edge
    caplog.set_level(logging.DEBUG)
    before = {status: _value("liaison_http_responses_total", service="edge",
                             route="get_thing", status=status) for status in ("403", "404")}

    answer(requests.get(url + "/things/secret"), 403, "FORBIDDEN")
    answer(requests.get(url + "/things/x%0AFORGED"), 404, "ENTERPRISE_NOT_FOUND")
    answer(requests.get(url + "/boom"), 500, "UNEXPECTED_ERROR")
    assert requests.get(url + "/plain?q=%0D").status_code == 200

    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    text = [r.getMessage() for r in records]
    assert [r.levelname for r in records] == ["INFO", "INFO", "ERROR", "INFO"], text
    assert not any(r.exc_info for r in records)
    assert "GET /things/secret -> 403 FORBIDDEN" in text[0]
    assert "GET /things/x\\nFORGED -> 404 ENTERPRISE_NOT_FOUND" in text[1]
    assert "Traceback" in text[2] and "bug\\nFORGED line" in text[2]
    assert "GET /plain?q=%0D -> 200 in " in text[3]
    assert not any(line.startswith("FORGED") for t in text for line in t.splitlines())

    assert _value("liaison_http_responses_total", service="edge", route="get_thing",
                  status="403") == before["403"] + 1
    assert _value("liaison_entrypoint_errors_total", service="edge", entrypoint="get_thing",
                  kind="expected", error="Forbidden") >= 1
    assert _value("liaison_entrypoint_errors_total", service="edge", entrypoint="boom",
                  kind="unexpected", error="RuntimeError") >= 1
