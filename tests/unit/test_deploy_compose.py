"""The production deployment (infra/deploy/compose.yaml) as Compose renders it with the
example env file: the shape it promises (three brokers, three database members, two of each
stateless process, one feeds), a health check and memory limit wherever they matter, a broker
user per process, and no secret written anywhere but in the env file.

Rendered with `docker compose config` when Docker's compose plugin answers, else with Debian's
`docker-compose`; neither needs a Docker engine for `config`."""
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "infra" / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"

STATELESS = {"enterprise": "services.enterprise.service", "dispatch": "services.dispatch.service",
             "mediation": "services.mediation.service", "appraisal": "services.appraisal.service",
             "fieldwork": "services.fieldwork.service", "gateway": "gateway.service"}
FEEDS = "services.feeds.service"
PROCESSES = {**STATELESS, "feeds": FEEDS}
SECRET_NAME = re.compile(r"PASS(WORD)?\b|SECRET|COOKIE|KEYFILE")


def env_example():
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def secret_values():
    """The example's secret values (not the paths of secret files)."""
    return {name: value for name, value in env_example().items()
            if SECRET_NAME.search(name) and not name.endswith("_FILE")
            and name != "MONGO_KEYFILE" and value}


def compose_command():
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed; infra/setup "
                "installs Debian's docker-compose (as root: apt-get install -y docker-compose)")


@pytest.fixture(scope="module")
def rendered():
    # The env file alone decides: a variable of the same name in this shell would win over it.
    env = {name: value for name, value in os.environ.items()
           if name not in env_example() and not name.startswith("COMPOSE_")}
    command = compose_command() + ["-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command[:2])} config failed:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


def services(rendered):
    return rendered["services"]


def as_list(command):
    return command.split() if isinstance(command, str) else list(command or [])


def platform(rendered):
    """{service name: its module} of the containers running the platform's image."""
    image = services(rendered)["enterprise"]["image"]
    return {name: as_list(spec.get("command"))[-1] for name, spec in services(rendered).items()
            if spec.get("image") == image}


def replicas(spec):
    return int((spec.get("deploy") or {}).get("replicas", 1))


def broker_nodes(rendered):
    return {name: spec for name, spec in services(rendered).items()
            if spec.get("image", "").startswith("rabbitmq:")
            and "rabbitmq-server" in as_list(spec.get("command"))}


def mongo_members(rendered):
    return {name: spec for name, spec in services(rendered).items()
            if spec.get("image", "").startswith("mongo:")
            and as_list(spec.get("command"))[:1] == ["mongod"]}


def mounts(spec):
    """(source, target) of every volume, from the short or the long syntax."""
    found = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            found.append((str(volume.get("source", "")), volume["target"]))
        else:
            parts = volume.split(":")
            found.append((parts[0], parts[1]))
    return found


def environment(spec):
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return env


def test_compose_renders_with_the_example_env_file(rendered):
    assert rendered["services"]


def test_three_pinned_broker_nodes_form_one_cluster(rendered):
    nodes = broker_nodes(rendered)
    assert sorted(nodes) == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    hostnames = {spec["hostname"] for spec in nodes.values()}
    assert hostnames == set(nodes)
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    assert re.search(r"^cluster_formation\.peer_discovery_backend\s*=\s*classic_config$", conf,
                     re.M)
    listed = set(re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+\s*=\s*rabbit@(\S+)$",
                            conf, re.M))
    assert listed == hostnames
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    for name, spec in nodes.items():
        assert re.fullmatch(r"rabbitmq:3\.(10|12)\.\d+(-management)?", spec["image"]), name
        assert "rabbitmq-diagnostics -q ping" in " ".join(as_list(spec["healthcheck"]["test"]))
        targets = dict((target, source) for source, target in mounts(spec))
        assert "/var/lib/rabbitmq" in targets, f"{name} keeps its data in a volume"
        assert targets["/etc/rabbitmq/enabled_plugins"].endswith("rabbitmq/enabled_plugins")
        secrets = [s["source"] if isinstance(s, dict) else s for s in spec.get("secrets", [])]
        assert secrets == ["erlang_cookie"], f"{name} takes the shared cookie from a secret"
    assert "file" in rendered["secrets"]["erlang_cookie"]


def test_three_member_replica_set_is_initiated_once(rendered):
    members = mongo_members(rendered)
    assert sorted(members) == ["mongo-1", "mongo-2", "mongo-3"]
    for name, spec in members.items():
        assert re.fullmatch(r"mongo:\d+\.\d+\.\d+", spec["image"]), name
        command = as_list(spec["command"])
        assert command[command.index("--replSet") + 1] == "rs0"
        assert spec.get("healthcheck", {}).get("test"), name
        assert "/data/db" in [target for _, target in mounts(spec)]
    init = services(rendered)["mongo-init"]
    assert set(init["depends_on"]) == set(members)
    script = (DEPLOY / "mongo" / "initiate.js").read_text()
    assert "NotYetInitialized" in script and "replSetInitiate" in script
    for host in members:
        assert f"{host}:27017" in script


def test_two_of_each_stateless_process_and_one_feeds(rendered):
    running = platform(rendered)
    count = {module: 0 for module in PROCESSES.values()}
    for name, module in running.items():
        count[module] += replicas(services(rendered)[name])
    for process, module in STATELESS.items():
        assert count[module] == 2, f"{process}: {count[module]} replicas"
    assert count[FEEDS] == 1, "feeds keeps one position in the archive stream: one replica"
    assert "ONE feeds process" in COMPOSE.read_text()


def test_every_process_and_broker_node_has_a_health_check_limits_and_a_restart_policy(
        rendered):
    checked = {**{name: services(rendered)[name] for name in platform(rendered)},
               **broker_nodes(rendered), **mongo_members(rendered)}
    for name, spec in checked.items():
        test = as_list(spec.get("healthcheck", {}).get("test"))
        assert test and test[0] != "NONE" and not spec["healthcheck"].get("disable"), name
        limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory") and limits.get("cpus"), f"{name} has no limits"
        assert spec.get("restart") in ("unless-stopped", "always"), name
    for name, module in platform(rendered).items():
        probe = " ".join(as_list(services(rendered)[name]["healthcheck"]["test"]))
        path = "8000/readyz" if module == "gateway.service" else "9100/metrics"
        assert f"127.0.0.1:{path}" in probe, name


def test_each_process_connects_as_its_own_broker_user(rendered):
    users = {}
    example = env_example()
    for name, module in platform(rendered).items():
        env = environment(services(rendered)[name])
        uri = urlsplit(env["AMQP_URI"])
        process = next(p for p, m in PROCESSES.items() if m == module)
        users.setdefault(process, set()).add(unquote(uri.username))
        assert unquote(uri.password) == example[f"{process.upper()}_BROKER_PASSWORD"]
        assert uri.path == f"/{example['BROKER_VHOST']}"
        assert ("BROKER_ADMIN_URI" in env) == (process == "feeds"), name
        assert env["METRICS_HOST"] == "0.0.0.0" and env["METRICS_PORT"] == "9100"
    assert all(len(names) == 1 for names in users.values()), users
    assert len({next(iter(names)) for names in users.values()}) == len(PROCESSES)


def test_no_secret_is_written_anywhere_but_the_env_file():
    secrets = secret_values()
    assert {"JWT_SECRET", "BROKER_ADMIN_PASSWORD", "GATEWAY_BROKER_PASSWORD"} <= set(secrets)
    for path in [*DEPLOY.rglob("*"), ROOT / ".dockerignore"]:
        if path.is_file() and path != ENV_EXAMPLE:
            text = path.read_text()
            for name, value in secrets.items():
                assert value not in text, f"{name}'s value is written in {path.name}"
    # Whatever names a secret in the compose file is a ${VAR} taken from the env file.
    for line in COMPOSE.read_text().splitlines():
        key, _, value = line.strip().partition(":")
        if SECRET_NAME.search(key) and not key.startswith(("#", "-")) and value.strip():
            assert value.strip().startswith("${"), line
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "infra/deploy/.env" in ignored and "infra/deploy/secrets" in ignored


def test_secrets_reach_the_containers_from_the_env_file(rendered):
    secrets = secret_values()
    gateway = [environment(services(rendered)[name]) for name, module
               in platform(rendered).items() if module == "gateway.service"]
    assert gateway and all(env["JWT_SECRET"] == secrets["JWT_SECRET"] for env in gateway)
    for spec in broker_nodes(rendered).values():
        assert environment(spec)["RABBITMQ_DEFAULT_PASS"] == secrets["BROKER_ADMIN_PASSWORD"]


def test_monitoring_mounts_the_platform_rules_and_dashboard(rendered):
    prometheus = dict((target, source) for source, target
                      in mounts(services(rendered)["prometheus"]))
    assert Path(prometheus["/etc/prometheus/liaison"]).resolve() == ROOT / "infra" / "prometheus"
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert "/etc/prometheus/liaison/rules.yml" in config["rule_files"]
    grafana = dict((target, source) for source, target in mounts(services(rendered)["grafana"]))
    dashboards = "/etc/grafana/dashboards/liaison"
    assert Path(grafana[dashboards]).resolve() == ROOT / "infra" / "grafana"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "liaison.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == dashboards
    for name in ("prometheus", "grafana"):
        assert services(rendered)[name]["healthcheck"]["test"], name
