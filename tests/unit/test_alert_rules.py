"""The alerting rules (infra/prometheus/rules.yml) pass `promtool check rules` and their unit
tests (infra/prometheus/tests/*.yml, `promtool test rules`), each rule tested firing and not;
the Prometheus configuration written for a platform passes `promtool check config`.

promtool comes with Debian's prometheus package, which infra/setup installs: CI runs these
tests, so a machine without it fails them rather than skipping."""
import re
import shutil
import subprocess

import pytest
import yaml

from infra.launch import PROCESSES, Platform
from infra.prometheus import RULES, Prometheus

RULE_TESTS = sorted((RULES.parent / "tests").glob("*.yml"))


def promtool():
    """promtool's path; the test fails (never skips) without it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed, so the alerting rules cannot be checked: "
                    "infra/setup installs it (Debian's prometheus package: apt-get install "
                    "prometheus)", pytrace=False)
    return path


def run(*args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return done.returncode, (done.stdout + done.stderr).strip()


def alerts():
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]]


def test_the_rules_are_valid():
    code, output = run(promtool(), "check", "rules", str(RULES))
    assert code == 0, f"promtool check rules {RULES}:\n{output}"


def test_the_rules_pass_their_unit_tests():
    assert RULE_TESTS
    code, output = run(promtool(), "test", "rules", *map(str, RULE_TESTS))
    assert code == 0, f"promtool test rules:\n{output}"


def test_every_rule_is_tested_firing_and_not_firing():
    cases = {}  # alert name -> [whether alerts were expected] at each eval time tested
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    assert [n for n in names if True not in cases.get(n, [])] == [], "never seen firing"
    assert [n for n in names if False not in cases.get(n, [])] == [], "never seen quiet"
    assert set(cases) <= set(names), "tests of rules that do not exist"


def test_every_rule_says_how_long_how_bad_and_what_happened():
    for rule in alerts():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]


def test_the_process_down_alert_names_every_process_of_the_launcher():
    [down] = [rule for rule in alerts() if rule["alert"] == "LiaisonProcessDown"]
    jobs = re.fullmatch(r'up\{job=~"([^"]+)"\} == 0', down["expr"].strip()).group(1)
    assert sorted(jobs.split("|")) == sorted(name for name, _, _ in PROCESSES)


def test_the_configuration_for_a_platform_is_valid_and_scrapes_it_all(tmp_path):
    platform = Platform(tmp_path / "data", 8000, 9100,
                        amqp_uri="amqp://guest:guest@broker.example:5672/county-b")
    platform.procs["dispatch#2"] = None  # a second instance, already started
    prometheus = Prometheus(platform, port=9090, scrape_interval=1, evaluation_interval=2)
    path = prometheus.write_configuration()
    assert path.parent == tmp_path / "data" / "prometheus"
    assert path.stat().st_mode & 0o077 == 0 and path.parent.stat().st_mode & 0o077 == 0

    code, output = run(promtool(), "check", "config", str(path))
    assert code == 0, f"promtool check config:\n{output}"

    config = yaml.safe_load(path.read_text())
    assert config["global"] == {"scrape_interval": "1s", "scrape_timeout": "1s",
                                "evaluation_interval": "2s"}
    assert config["rule_files"] == [str(RULES)]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets == {
        "gateway": ["127.0.0.1:9100"], "enterprise": ["127.0.0.1:9101"],
        "dispatch": ["127.0.0.1:9102", "127.0.0.1:9112"], "mediation": ["127.0.0.1:9103"],
        "appraisal": ["127.0.0.1:9104"], "feeds": ["127.0.0.1:9105"],
        "fieldwork": ["127.0.0.1:9106"],
        "rabbitmq": ["broker.example:15692"], "rabbitmq-queues": ["broker.example:15692"]}
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics"
    assert jobs["rabbitmq-queues"]["metrics_path"] == "/metrics/detailed"
    assert jobs["rabbitmq-queues"]["params"] == {
        "family": ["queue_coarse_metrics", "queue_consumer_count"], "vhost": ["county-b"]}


def test_the_broker_metrics_address_may_be_named(tmp_path, monkeypatch):
    monkeypatch.setenv("RABBIT_PROMETHEUS", "metrics.example:9419")
    platform = Platform(tmp_path, amqp_uri="amqp://guest:guest@localhost:5672/")
    config = yaml.safe_load(Prometheus(platform, port=9090).write_configuration().read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["rabbitmq"]["static_configs"][0]["targets"] == ["metrics.example:9419"]
    assert jobs["rabbitmq-queues"]["params"]["vhost"] == ["/"]
    assert config["global"]["scrape_timeout"] == "10s"  # at most the interval (15 s)
