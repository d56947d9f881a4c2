"""A private corner of the broker and free local ports, for tests and benchmarks that run
the whole platform beside anything else on this machine.

RPC queues are named after the service (`rpc-enterprise`), so a platform on the default
vhost would answer another platform's calls; each run therefore gets a vhost of its own,
created and deleted through the RabbitMQ management API. Deleting it deletes too the broker
users the launcher made for a platform on it (`<vhost>.<process>`), even those a platform
killed outright left behind.
"""
import os
import socket
import uuid

import requests

from .broker_users import Management

MANAGEMENT = os.environ.get("RABBIT_MANAGEMENT", "http://localhost:15672/api")
MANAGEMENT_AUTH = ("guest", "guest")


def free_port(span=1):
    """A TCP port nothing listens on, and the `span - 1` ports after it free too (the
    platform's metrics ports are a base and offsets from it)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
        if port + span <= 65535 and all(_is_free(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port found")


def _is_free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def create_vhost(prefix="sandbox"):
    """A fresh vhost that guest may use fully; returns its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    requests.put(f"{MANAGEMENT}/vhosts/{name}", auth=MANAGEMENT_AUTH,
                 timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{name}/guest", auth=MANAGEMENT_AUTH, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return name


def delete_vhost(name):
    """Delete the vhost `name` and the broker users made for a platform on it (every user
    named `<name>.…`, but one allowed on another vhost)."""
    requests.delete(f"{MANAGEMENT}/vhosts/{name}", auth=MANAGEMENT_AUTH, timeout=10)
    management = Management(MANAGEMENT, *MANAGEMENT_AUTH)
    management.delete_users(management.users_of(name))
