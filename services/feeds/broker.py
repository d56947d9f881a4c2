"""The broker as the feeds component shapes it for agencies.

`BrokerAdmin` speaks RabbitMQ's management API (BROKER_ADMIN_URI: the only credentials on the
platform that may make users): an agency's user may read its own queue and its dead letters,
and publish on the reports exchange with its own agency as the routing key (a topic
permission), and nothing else: no configure, no other queue, no event exchange, no RPC, not
the default exchange. Revoking deletes the user and closes its open connections at once.

`declare_agency` / `remove_agency` make and remove the agency's queue (bound to its key on
the agencies' exchange, dead-lettering into its bounded dead-letter queue) over AMQP. The
agencies' queues and the reports' are of the configured type (QUEUE_TYPE, classic or quorum:
contracts.topology.queue_arguments).
"""
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from contracts import topology

from .exceptions import BrokerRefused

TIMEOUT = 10


def agency_permissions(agency):
    """(vhost permissions, topic permission) of an agency's user."""
    own = re.escape(topology.feed_queue(agency))
    return ({"configure": "^$",
             "write": f"^{re.escape(topology.REPORTS_EXCHANGE)}$",
             "read": f"^{own}(\\.dead)?$"},
            {"exchange": topology.REPORTS_EXCHANGE, "write": f"^{re.escape(agency)}$",
             "read": "^$"})


def vhost_of(amqp_uri):
    return unquote(urlsplit(amqp_uri).path[1:]) or "/"


def sink_of(amqp_uri):
    """The broker an agency connects to, without credentials (the CloudEvents sink)."""
    parts = urlsplit(amqp_uri)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 5672}"))


class BrokerAdmin:
    def __init__(self, admin_uri, vhost):
        parts = urlsplit(admin_uri)
        self.auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
        self.base = urlunsplit(parts._replace(
            netloc=f"{parts.hostname}:{parts.port or 15672}")).rstrip("/")
        self.vhost = quote(vhost, safe="")

    def _call(self, method, path, **kwargs):
        try:
            answer = requests.request(method, f"{self.base}{path}", auth=self.auth,
                                      timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise BrokerRefused(f"the broker's management API is unreachable "
                                f"({type(error).__name__})") from None
        if answer.status_code >= 400 and not (method == "DELETE" and answer.status_code == 404):
            raise BrokerRefused(f"the broker's management API refused {method} "
                                f"{path.split('/')[1]} ({answer.status_code})")
        return answer

    def provision(self, user, password, agency):
        """The agency's user, with exactly its permissions (made or reset)."""
        name = quote(user, safe="")
        self._call("PUT", f"/users/{name}", json={"password": password, "tags": ""})
        permissions, topic = agency_permissions(agency)
        self._call("PUT", f"/permissions/{self.vhost}/{name}", json=permissions)
        self._call("PUT", f"/topic-permissions/{self.vhost}/{name}", json=topic)

    def revoke(self, user):
        """Delete the user and close every connection it has open."""
        name = quote(user, safe="")
        self._call("DELETE", f"/users/{name}")
        self._call("DELETE", f"/connections/username/{name}")

    def connections(self, user):
        answer = self._call("GET", f"/vhosts/{self.vhost}/connections")
        return [c["name"] for c in answer.json() if c.get("user") == user]


def declare_shared(channel, retention, queue_type=topology.CLASSIC):
    """What the feeds component needs before anything: the archive (bound to every catalogued
    type), the agencies' exchange, and the reports exchange with its queue."""
    topology.declare_archive(channel, retention=retention)
    channel.exchange_declare(topology.AGENCY_EXCHANGE, "topic", durable=True,
                             auto_delete=False)
    declare_reports(channel, queue_type)


def declare_reports(channel, queue_type=topology.CLASSIC):
    """The reports exchange, its queue (bound to every agency's key) and the queue's dead
    letters: a quorum reports queue dead-letters there what it gave DELIVERY_LIMIT times."""
    channel.exchange_declare(topology.REPORTS_EXCHANGE, "topic", durable=True,
                             auto_delete=False)
    channel.queue_declare(topology.REPORTS_DEAD, durable=True, auto_delete=False,
                          arguments=topology.dead_letter_arguments(queue_type))
    channel.queue_declare(topology.REPORTS_QUEUE, durable=True, auto_delete=False,
                          arguments=topology.work_queue_arguments(topology.REPORTS_QUEUE,
                                                                  queue_type))
    channel.queue_bind(topology.REPORTS_QUEUE, topology.REPORTS_EXCHANGE, "#")


def declare_agency(channel, agency, queue_type=topology.CLASSIC):
    channel.exchange_declare(topology.AGENCY_EXCHANGE, "topic", durable=True,
                             auto_delete=False)
    dead = topology.dead_letter_queue(agency)
    channel.queue_declare(dead, durable=True, auto_delete=False,
                          arguments=topology.dead_letter_arguments(queue_type))
    channel.queue_declare(topology.feed_queue(agency), durable=True, auto_delete=False,
                          arguments=topology.feed_queue_arguments(agency, queue_type))
    channel.queue_bind(topology.feed_queue(agency), topology.AGENCY_EXCHANGE, agency)


def purge_agency(channel, agency):
    channel.queue_purge(topology.feed_queue(agency))


def remove_agency(channel, agency):
    channel.queue_delete(topology.feed_queue(agency))
    channel.queue_delete(topology.dead_letter_queue(agency))
