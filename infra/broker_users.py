"""The broker users of the platform's processes, kept through the RabbitMQ management API.

Broker users are global and vhosts are not, so a process's user is named after both:
`<vhost>.<process>` (`default.<process>` on the default vhost "/"). Two platforms on different
vhosts of one broker never share a user, and every user made for a platform (its processes',
and any a process makes under the same prefix) is found, and removed, by its vhost.
"""
import os
import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

DEFAULT_VHOST_STAND_IN = "default"  # "/" reads badly in a user name
ENABLE_MANAGEMENT = "rabbitmq-plugins enable rabbitmq_management"


class ManagementUnavailable(Exception):
    """The management API did not answer, or refused what was asked of it."""


def user_prefix(vhost):
    """What the name of every user of a platform on `vhost` starts with."""
    return f"{DEFAULT_VHOST_STAND_IN if vhost == '/' else vhost}."


def process_user(vhost, process):
    """The broker user of the platform's process `process` on `vhost`."""
    return user_prefix(vhost) + process


def management_url(amqp_uri):
    """The management API's base URL for the broker of `amqp_uri`: RABBIT_MANAGEMENT if set,
    else port 15672 on the broker's host."""
    host = urlsplit(amqp_uri).hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return os.environ.get("RABBIT_MANAGEMENT") or f"http://{host}:15672/api"


def with_credentials(uri, user, password):
    """`uri` (amqp:// or http://) carrying `user` and `password` instead of its own."""
    parts = urlsplit(uri)
    where = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(
        netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{where}"))


def credentials(amqp_uri):
    """The user and password of `amqp_uri` (guest's when it names none, as the client does)."""
    parts = urlsplit(amqp_uri)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


class Management:
    """The management API at `url`, used as `user`."""

    def __init__(self, url, user, password):
        self.url = url.rstrip("/")
        self.user = user
        self.http = requests.Session()
        self.http.auth = (user, password)

    @classmethod
    def of_broker(cls, amqp_uri):
        """The management API of the broker of `amqp_uri`, used as the URI's user."""
        return cls(management_url(amqp_uri), *credentials(amqp_uri))

    def _call(self, method, path, timeout=10, **kwargs):
        try:
            response = self.http.request(method, f"{self.url}/{path}", timeout=timeout,
                                         **kwargs)
        except requests.RequestException as error:
            raise ManagementUnavailable(f"the management API at {self.url} does not answer "
                                        f"({error})") from None
        if response.status_code in (401, 403):
            raise ManagementUnavailable(f"the management API at {self.url} refused "
                                        f"{self.user!r} ({response.status_code})")
        return response

    def check_administrator(self, timeout=5):
        """Raise ManagementUnavailable unless the API answers and our user may make users."""
        response = self._call("GET", "whoami", timeout=timeout)
        if not response.ok:
            raise ManagementUnavailable(f"the management API at {self.url} answered "
                                        f"{response.status_code} to {self.user!r}")
        tags = response.json().get("tags", [])
        if isinstance(tags, str):
            tags = tags.split(",")
        if "administrator" not in tags:
            raise ManagementUnavailable(f"{self.user!r} is not a broker administrator (tags: "
                                        f"{', '.join(tags) or 'none'}), so it cannot make users")

    def put_user(self, name, password, vhost, tags=()):
        """Make or update the user `name` with `password` and `tags`, allowed on `vhost` only
        (and on no other: whatever permissions an earlier user of that name had elsewhere are
        taken away)."""
        user = quote(name, safe="")
        self._ok(self._call("PUT", f"users/{user}",
                            json={"password": password, "tags": ",".join(tags)}))
        for permission in self._ok(self._call("GET", f"users/{user}/permissions")).json():
            if permission["vhost"] != vhost:
                self._call("DELETE",
                           f"permissions/{quote(permission['vhost'], safe='')}/{user}")
        # Everything on the platform's vhost for now. The next step is narrower regexes per
        # process: configure, write and read only on the exchanges and queues it declares,
        # publishes to and consumes from (its own `<service>.events` and `rpc-<service>`, the
        # events it subscribes to, nameko's reply queues).
        self._ok(self._call("PUT", f"permissions/{quote(vhost, safe='')}/{user}",
                            json={"configure": ".*", "write": ".*", "read": ".*"}))

    def delete_users(self, names, within=10.0):
        """Delete the users `names` (one already gone counts as deleted), taking no longer
        than `within` seconds in all; returns the names not deleted."""
        deadline = time.monotonic() + within
        left = []
        for name in names:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise ManagementUnavailable("out of time")
                response = self._call("DELETE", f"users/{quote(name, safe='')}",
                                      timeout=remaining)
                if not (response.ok or response.status_code == 404):
                    left.append(name)
            except ManagementUnavailable:
                left.append(name)
        return left

    def users_of(self, vhost):
        """The names of the users made for a platform on `vhost`: every user whose name starts
        with `<vhost>.`, except one allowed on another vhost (that of vhost `a.b` is no user of
        vhost `a`'s, though its name starts with `a.`)."""
        prefix = user_prefix(vhost)
        users = self._ok(self._call("GET", "users", params={"columns": "name"})).json()
        named = {user["name"] for user in users if user["name"].startswith(prefix)}
        if not named:
            return []
        elsewhere = {permission["user"]
                     for permission in self._ok(self._call("GET", "permissions")).json()
                     if permission["vhost"] != vhost}
        return sorted(named - elsewhere)

    def _ok(self, response):
        if not response.ok:
            raise ManagementUnavailable(f"the management API at {self.url} answered "
                                        f"{response.status_code}: {response.text[:200]}")
        return response
