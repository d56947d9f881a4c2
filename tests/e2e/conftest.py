"""End-to-end fixtures: the real platform (one nameko process per service) on its own vhost.

RPC queues are named after the service (`rpc-enterprise`) and live on a vhost, so a stray
enterprise service on the default vhost would answer our gateway's calls too. Every session
therefore creates a fresh RabbitMQ vhost through the management API, runs the platform and
the demo loader on it, and deletes it at the end.
"""
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from contracts.events import EVENT_SCHEMAS
from gateway.auth import issue_token
from infra.launch import Platform, jwt_secret
from infra.load_demo import load_demo
from infra.sandbox import create_vhost, delete_vhost, free_port
from kit.testing import EventTap

BROKER_HOST = "localhost"
RPC_TIMEOUT = 2.0
HTTP_TIMEOUT = 15


# --- helpers usable from tests --------------------------------------------------------------


def utc_today():
    """Today as the platform counts days (its times are UTC)."""
    return datetime.now(timezone.utc).date()


def _log_tails(log_dir, lines=40):
    out = []
    for path in sorted(Path(log_dir).glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {path.name} ---\n" + "\n".join(tail))
    return "\n".join(out)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vhost():
    name = create_vhost("e2e")
    yield name
    delete_vhost(name)


@pytest.fixture(scope="session")
def platform(tmp_path_factory, vhost):
    """The whole platform on a tmp data dir, free ports and its own vhost, with the demo
    county loaded."""
    root = tmp_path_factory.mktemp("platform")
    platform = Platform(
        data_dir=root / "data",
        gateway_port=free_port(),
        metrics_base=free_port(span=13),
        amqp_uri=f"amqp://guest:guest@{BROKER_HOST}:5672/{vhost}",
        # MONGO_URI empty: the embedded store under the tmp data dir, never a shared database.
        extra_env={"RPC_TIMEOUT": str(int(RPC_TIMEOUT)), "MONGO_URI": ""},
        log_dir=root / "logs",
    )
    platform.start()
    try:
        try:
            platform.wait_ready(timeout=60)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{_log_tails(platform.log_dir)}") from None
        platform.demo_summary = load_demo(platform.amqp_uri)
        assert platform.demo_summary.startswith("Demo county loaded"), platform.demo_summary
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="session")
def secret(platform):
    return jwt_secret(platform.data_dir)


@pytest.fixture(scope="session")
def token(secret):
    """token(role, sub=None, enterprise_id=None, officer_id=None, ttl=None, secret=None)."""

    def make(role, sub=None, enterprise_id=None, officer_id=None, ttl=None, secret=secret):
        kwargs = {"ttl": ttl} if ttl is not None else {}
        return issue_token(secret, role, sub or f"e2e-{role}", enterprise_id, officer_id,
                           **kwargs)

    return make


@pytest.fixture(scope="session")
def api(platform):
    """api(method, path, token=None, **requests kwargs) -> requests.Response."""
    session = requests.Session()

    def call(method, path, token=None, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return session.request(method, platform.url + path, headers=headers, **kwargs)

    yield call
    session.close()


@pytest.fixture(scope="session")
def supervisor(token):
    return token("supervisor", sub="e2e-supervisor")


@pytest.fixture(scope="session")
def ledger():
    """Records the tests created, by kind, so the restart test can check they survived."""
    return {"enterprises": [], "stations": [], "officers": []}


@pytest.fixture
def event_tap(platform):
    """Every registry event published from now on, each opened through its contract."""
    with EventTap(platform.amqp_uri, "enterprise.events", schemas=EVENT_SCHEMAS) as tap:
        yield tap
