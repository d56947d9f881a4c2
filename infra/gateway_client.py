"""The gateway over HTTP, as any principal: tokens signed with the platform's secret, and
calls that ride out a moment's unavailability."""
import threading
import time
import uuid
from datetime import timedelta

import requests

from gateway.auth import issue_token

HTTP_TIMEOUT = 30
PATIENCE = 120  # seconds a call is sent again while the platform answers busy


class DriveFailed(Exception):
    """The platform answered something the caller cannot go on from."""


class Gateway:
    """Calls to the gateway over HTTP, each as the principal its token names. A 503 (a
    service or the broker away for a moment, no gateway worker free, or the gateway not
    ready again after a call timed out), a key still being worked on (REQUEST_IN_PROGRESS)
    or a dropped connection is sent again (a POST with the same Idempotency-Key, so it runs
    once), for up to `patience` seconds; any other answer is returned as it is. Once
    `stop` is set, a call that would wait to send again raises DriveFailed instead."""

    def __init__(self, url, secret, stop=None, patience=PATIENCE):
        self.url = url
        self.secret = secret
        self.stop = stop or threading.Event()
        self.patience = patience
        self.local = threading.local()
        self.tokens = {}
        self.lock = threading.Lock()
        self.calls = 0   # requests sent, a call sent again counted again
        self.busy = 0    # answers "busy" (503, REQUEST_IN_PROGRESS) that were sent again

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

    def call(self, method, path, token, body=None, params=None):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        if method == "POST":  # sent again after a 503, it runs once
            headers["Idempotency-Key"] = uuid.uuid4().hex
        pause, give_up = 0.1, time.monotonic() + self.patience
        while True:
            with self.lock:
                self.calls += 1
            try:
                response = session.request(method, self.url + path, json=body, params=params,
                                           headers=headers, timeout=HTTP_TIMEOUT)
            except requests.ConnectionError:
                if time.monotonic() > give_up or self.stop.is_set():
                    raise
            else:
                busy = response.status_code == 503 or \
                    error_code(response) == "REQUEST_IN_PROGRESS"
                if not busy or time.monotonic() > give_up:
                    return response
                with self.lock:
                    self.busy += 1
            if self.stop.wait(pause):
                raise DriveFailed("stopped")
            pause = min(2.0, pause * 2)

    def ok(self, method, path, token, body=None, params=None):
        """The answer's body; DriveFailed unless it is a 200 or 201."""
        response = self.call(method, path, token, body, params)
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
