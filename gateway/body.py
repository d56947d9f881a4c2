"""Request bodies at the HTTP edge: read within a size limit and a read timeout, of the media
type the route takes, and JSON that the services can store.

Each refusal is an exception of the gateway's error table: 413, 408, 415, or 400 naming the
field. A JSON route takes `application/json` (or a `+json` type); a CSV import takes
`text/csv`, or `text/plain` since several tools send CSV files as plain text; either is read
as UTF-8.
"""
import io
import json
import re

import eventlet

from kit.errors import ValidationFailed
from kit.logs import escape

MAX_DEPTH = 64
CSV_TYPES = ("text/csv", "text/plain")
_CHUNK = 64 * 1024


class PayloadTooLarge(Exception):
    """The body is larger than the gateway takes."""


class RequestTimeout(Exception):
    """The client did not send its body within the read timeout."""


class UnsupportedMediaType(Exception):
    """The body is not of a media type the route takes."""


def read_body(environ, limit, timeout):
    """Read the request's body whole into memory, or refuse it.

    A declared Content-Length over `limit` is refused before anything is read; a chunked body
    is read up to `limit` + 1 bytes and refused there. The body must arrive within `timeout`
    seconds. Afterwards the body is the request's input, so `request.get_data()` returns it.
    After a refusal the rest of the body is unread: the connection must be closed.
    """
    declared = environ.get("CONTENT_LENGTH")
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
    if not chunked and not declared:
        return b""
    if declared and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")
    wanted = int(declared) if declared else limit + 1
    data = _read_up_to(environ["wsgi.input"], wanted, timeout)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes; at most {limit} are accepted")
    if declared and len(data) < wanted:
        raise ValidationFailed({"_body": [f"the body ended after {len(data)} of {declared} "
                                          "bytes"]})
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return data


def _read_up_to(stream, size, timeout):
    parts, got = [], 0
    late = RequestTimeout(f"the body did not arrive within {timeout:g} s")
    deadline = eventlet.Timeout(timeout, late)
    try:
        while got < size:
            part = stream.read(min(_CHUNK, size - got))
            if not part:
                break
            parts.append(part)
            got += len(part)
    except TimeoutError:  # one read waited longer than the socket's timeout
        raise late from None
    except (OSError, ValueError):  # a broken chunked encoding, a reset connection
        raise ValidationFailed({"_body": ["the body could not be read"]}) from None
    finally:
        deadline.cancel()
    return b"".join(parts)


def json_body(request, required):
    """The JSON body, refused unless it is JSON of at most MAX_DEPTH levels whose every
    text can be stored. An empty body is {} unless `required`."""
    raw = request.get_data()
    if not raw.strip():
        if required:
            raise ValidationFailed({"_body": ["a JSON body is required"]})
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {escape(mimetype or 'without a type')}")
    check_depth(raw)
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ValidationFailed({"_body": [f"not valid JSON: {error}"]}) from None
    check_text(value)
    return value


def csv_body(request):
    """The CSV body as text, refused unless it is text/csv (or text/plain) in UTF-8."""
    raw = request.get_data()
    if raw and request.mimetype not in CSV_TYPES:
        raise UnsupportedMediaType(
            f"send the file as text/csv, not {escape(request.mimetype or 'without a type')}")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8", "us-ascii"):
        raise UnsupportedMediaType(f"send the file in UTF-8, not {escape(charset)}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ValidationFailed({"text": [f"line {line}: not UTF-8 text"]}) from None


# A JSON string (a quote, then anything but a quote or backslash, or an escaped character),
# or a bracket. Possessive, so a long string is skipped in one step.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


def check_depth(raw):
    """Refuse JSON nested deeper than MAX_DEPTH before it is parsed, naming the top-level
    field it is under (or `_body`). Counts brackets outside strings, without recursion."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return  # too few brackets to nest that deep
    depth, key = 0, None
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token[:1] == b'"':
            if depth == 1:
                key = token  # in an object, the last string before a nested value is its key
        elif token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                field = _key_text(key) if raw.lstrip()[:1] == b"{" and key else "_body"
                raise ValidationFailed({field: [f"nested deeper than {MAX_DEPTH} levels"]})
        else:
            depth -= 1


def _key_text(token):
    try:
        return safe_text(json.loads(token))
    except ValueError:
        return "_body"


_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text):
    """`text` with any lone surrogate written as its escape (\\ud800), so it can be encoded."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def check_text(value):
    """Refuse text that cannot be stored (a lone surrogate) in any string or field name,
    naming the field by its path, as a nested error like the services' validation."""
    errors = {}
    stack = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                _put(errors, path, "text holds a lone surrogate (\\ud800-\\udfff), "
                                   "which cannot be stored")
        elif isinstance(item, dict):
            for name, child in item.items():
                if _SURROGATE.search(name):
                    _put(errors, path + (safe_text(name),),
                         "the field name holds a lone surrogate, which cannot be stored")
                else:
                    stack.append((path + (name,), child))
        elif isinstance(item, list):
            stack.extend((path + (index,), child) for index, child in enumerate(item))
    if errors:
        raise ValidationFailed(errors)


def _put(errors, path, reason):
    if not path:
        errors.setdefault("_body", []).append(reason)
        return
    *parents, last = path
    for name in parents:
        errors = errors.setdefault(name, {})
    errors.setdefault(last, []).append(reason)
