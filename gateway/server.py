"""The gateway's web server: nameko's, with the HTTP edge's rules.

- Every request's body is read first, within `MAX_BODY_BYTES` (default 1 MiB: 413) and
  `HTTP_READ_TIMEOUT` (default 10 s: 408); after either refusal the connection is closed
  rather than the rest of the body read.
- A request's head (request line and headers) must arrive within `HTTP_READ_TIMEOUT` however
  slowly it trickles, and so must each read of an idle connection: a client that sends half a
  request is disconnected. Each connection is its own green thread, so it blocks nobody else.
- An unknown path is a 404 and a wrong method a 405 with `Allow`, in the one error shape.
- Every answer is counted by route and status (`liaison_http_responses_total`) and logged as
  one escaped line: an error by gateway.errors (with its code), any other answer here. This
  replaces eventlet's access log.
"""
import logging
import socket
import time

import eventlet
from eventlet import wsgi
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from kit.errors import ValidationFailed
from kit.metrics import count_http_response

from .body import PayloadTooLarge, RequestTimeout, read_body
from .errors import describe, error_response

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_READ_TIMEOUT = 10.0
CLOSE_CONNECTION = "gateway.close_connection"

log = logging.getLogger(__name__)


class GatewayServer(WebServer):
    """One per container, shared with any plain nameko `http` route bound after the gateway's
    first route (they share nameko's key for the web server)."""

    @property
    def sharing_key(self):
        return WebServer

    def bind(self, container):
        shared = container.shared_extensions.get(WebServer)
        if shared is not None and not isinstance(shared, GatewayServer):
            raise RuntimeError("a plain nameko web server was bound before the gateway's; "
                               "declare the service's routes with gateway.api.api")
        return super().bind(container)

    def setup(self):
        super().setup()
        config = self.container.config
        self.max_body_bytes = int(config.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
        self.read_timeout = float(config.get("HTTP_READ_TIMEOUT") or DEFAULT_READ_TIMEOUT)

    def get_wsgi_app(self):
        return GatewayApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=None, debug=False):
        return wsgi.Server(sock, sock.getsockname(), wsgi_app,
                           protocol=protocol or GatewayProtocol, debug=debug, log_output=False,
                           socket_timeout=self.read_timeout)


class GatewayApp(WsgiApp):
    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = Request(environ, shallow=True)
        provider, route, unrouted = None, "unmatched", None
        try:
            provider, request.path_values = self.url_map.bind_to_environ(environ).match()
            route = provider.method_name
        except HTTPException as error:
            unrouted = error
        try:
            read_body(environ, self.server.max_body_bytes, self.server.read_timeout)
        except (PayloadTooLarge, RequestTimeout, ValidationFailed) as refusal:
            _close_after_answer(environ)
            response = error_response(refusal, request)
        else:
            if provider is not None:
                response = provider.handle_request(request)
            elif isinstance(unrouted, RequestRedirect):  # doubled slashes: not an error
                response = unrouted.get_response(environ)
            else:
                response = error_response(_described(unrouted, request), request)
        status = response.status_code
        count_http_response(self.server.container.service_name, route, status)
        if status < 400:
            log.info("%s -> %d in %.1f ms", describe(request), status,
                     (time.perf_counter() - started) * 1000)
        return response(environ, start_response)


def _described(error, request):
    """Routing errors with messages that say what was asked."""
    if isinstance(error, NotFound):
        return NotFound(f"nothing at {request.path}")
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(error.valid_methods or ())
        return MethodNotAllowed(allowed, f"{request.method} is not allowed at {request.path}; "
                                         f"allowed: {', '.join(allowed)}")
    return error


def _close_after_answer(environ):
    close = environ.get(CLOSE_CONNECTION)
    if close is not None:
        close()


class GatewayProtocol(HttpOnlyProtocol):
    """eventlet's HTTP/1.1 connection handling, with a deadline for each request's head and a
    way for the application to close the connection after its answer."""

    _head_deadline = None

    def handle_one_request(self):
        late = socket.timeout("the request's head did not arrive in time")
        self._head_deadline = eventlet.Timeout(self.server.socket_timeout, late)
        try:
            super().handle_one_request()
        finally:
            self._head_deadline.cancel()

    def handle_one_response(self):
        self._head_deadline.cancel()  # the head is in; the body has its own deadline
        super().handle_one_response()

    def get_environ(self):
        environ = super().get_environ()
        environ[CLOSE_CONNECTION] = self._close_after_answer
        return environ

    def _close_after_answer(self):
        # eventlet reads this when it writes the answer's head: it sends Connection: close,
        # then closes instead of reading the rest of the body.
        self.close_connection = 1
