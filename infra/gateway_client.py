"""The gateway over HTTP, as any principal: tokens signed with the platform's secret, and
calls that ride out a moment's unavailability."""
import threading
import uuid
from datetime import timedelta

import requests

from gateway.auth import issue_token

ATTEMPTS = 8
HTTP_TIMEOUT = 30


class DriveFailed(Exception):
    """The platform answered something the caller cannot go on from."""


class Gateway:
    """Calls to the gateway over HTTP, each as the principal its token names. A 503 (a
    service or the broker away for a moment, or no gateway worker free), a key still being
    worked on (REQUEST_IN_PROGRESS) or a dropped connection is sent again, a POST with the
    same Idempotency-Key when it was given one; any other answer is returned as it is.
    Once `stop` is set, a call that would wait to send again raises DriveFailed instead."""

    def __init__(self, url, secret, stop=None):
        self.url = url
        self.secret = secret
        self.stop = stop or threading.Event()
        self.local = threading.local()
        self.tokens = {}
        self.lock = threading.Lock()
        self.calls = 0

    def token(self, role, sub, enterprise_id=None, officer_id=None):
        key = (role, sub, enterprise_id, officer_id)
        token = self.tokens.get(key)
        if token is None:
            token = self.tokens[key] = issue_token(self.secret, role, sub, enterprise_id,
                                                   officer_id, ttl=timedelta(hours=8))
        return token

    def supervisor(self, who="simulator"):
        return self.token("supervisor", f"supervisor:{who}")

    def officer(self, officer_id):
        return self.token("officer", f"officer:{officer_id}", officer_id=officer_id)

    def enterprise(self, enterprise_id):
        return self.token("enterprise", f"enterprise:{enterprise_id}",
                          enterprise_id=enterprise_id)

    def call(self, method, path, token, body=None, keyed=False, params=None):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        if keyed:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        pause = 0.1
        for attempt in range(ATTEMPTS):
            with self.lock:
                self.calls += 1
            try:
                response = session.request(method, self.url + path, json=body, params=params,
                                           headers=headers, timeout=HTTP_TIMEOUT)
            except requests.ConnectionError:
                if attempt == ATTEMPTS - 1 or self.stop.is_set():
                    raise
            else:
                busy = response.status_code == 503 or \
                    error_code(response) == "REQUEST_IN_PROGRESS"
                if not busy:
                    return response
            if self.stop.wait(pause):
                raise DriveFailed("stopped")
            pause = min(2.0, pause * 2)
        return response

    def ok(self, method, path, token, body=None, keyed=False, params=None):
        """The answer's body; DriveFailed unless it is a 200 or 201."""
        response = self.call(method, path, token, body, keyed, params)
        if response.status_code not in (200, 201):
            raise DriveFailed(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()


def error_code(response):
    """The error code of a refusal (`{"error": CODE, ...}`), None for a success."""
    if response.status_code < 400:
        return None
    try:
        return response.json().get("error")
    except ValueError:
        return None
