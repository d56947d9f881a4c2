"""The launcher's private files (the data folder and the JWT secret kept in it), and the names
and addresses of its processes' broker users."""
import os
import stat

import pytest

from gateway.auth import WeakSecret
from infra.broker_users import management_url, process_user, user_prefix, with_credentials
from infra.launch import (RefusedToStart, broker_name, check_management, jwt_secret,
                          make_private_dir, with_vhost)
from infra.sandbox import free_port


@pytest.fixture
def open_umask():
    """The most permissive umask: whatever is private comes out private by itself."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def no_env_secret(monkeypatch):
    monkeypatch.delenv("JWT_SECRET", raising=False)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_secret_is_made_private_and_kept(tmp_path, open_umask, no_env_secret):
    data = tmp_path / "data"
    secret = jwt_secret(data)
    assert len(secret.encode()) >= 32
    assert mode(data) == 0o700
    assert mode(data / "jwt_secret") == 0o600
    assert sorted(p.name for p in data.iterdir()) == ["jwt_secret"]  # no temporary left
    assert jwt_secret(data) == secret


def test_a_secret_others_may_read_is_refused_and_left_alone(tmp_path, no_env_secret):
    path = tmp_path / "jwt_secret"
    path.write_text("s" * 48)
    path.chmod(0o644)
    with pytest.raises(RefusedToStart, match=r"readable or writable by other users \(mode 644\)"
                                             r".*Delete it.*chmod 600"):
        jwt_secret(tmp_path)
    assert mode(path) == 0o644 and path.read_text() == "s" * 48
    path.chmod(0o600)
    assert jwt_secret(tmp_path) == "s" * 48


def test_a_symbolic_link_in_place_of_the_secret_is_refused(tmp_path, no_env_secret):
    target = tmp_path / "elsewhere"
    target.write_text("s" * 48)
    target.chmod(0o600)
    (tmp_path / "jwt_secret").symlink_to(target)
    with pytest.raises(RefusedToStart, match="not a regular file"):
        jwt_secret(tmp_path)


def test_a_short_secret_is_refused_from_the_file_or_the_environment(tmp_path, monkeypatch,
                                                                    no_env_secret):
    path = tmp_path / "jwt_secret"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(WeakSecret, match="jwt_secret has 5 bytes.*token_urlsafe"):
        jwt_secret(tmp_path)
    monkeypatch.setenv("JWT_SECRET", "abc")
    with pytest.raises(WeakSecret, match="JWT_SECRET has 3 bytes"):
        jwt_secret(tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


def test_an_existing_data_folder_is_tightened(tmp_path, open_umask):
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    (data / "logs" / "gateway.log").write_text("")
    (data / "logs" / "gateway.log").chmod(0o644)
    (data / "script").write_text("")
    (data / "script").chmod(0o775)
    outside = tmp_path / "outside"
    outside.write_text("")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)

    make_private_dir(data)

    assert mode(data) == 0o700 and mode(data / "logs") == 0o700
    assert mode(data / "logs" / "gateway.log") == 0o600
    assert mode(data / "script") == 0o700
    assert mode(outside) == 0o644  # a link is not followed out of the folder


def test_a_new_data_folder_is_private_at_once(tmp_path, open_umask):
    assert mode(make_private_dir(tmp_path / "a" / "b")) == 0o700


def test_the_vhost_replaces_that_of_the_uri_and_messages_hide_the_password():
    uri = with_vhost("amqp://app:s3cret@broker.local:5673/", "county b/2")
    assert uri == "amqp://app:s3cret@broker.local:5673/county%20b%2F2"
    assert broker_name(uri) == "broker.local:5673 vhost 'county b/2'"
    assert broker_name("amqp://guest:guest@localhost/") == "localhost:5672 vhost '/'"


def test_a_process_s_broker_user_is_named_after_its_vhost_and_carried_in_its_uris(monkeypatch):
    assert process_user("county-b", "feeds") == "county-b.feeds"
    assert process_user("/", "enterprise") == "default.enterprise"
    assert user_prefix("county-b") == "county-b." and user_prefix("/") == "default."
    uri = "amqp://guest:guest@broker.local:5673/county%20b?heartbeat=10"
    assert with_credentials(uri, "county b.gateway", "p-_9") == \
        "amqp://county%20b.gateway:p-_9@broker.local:5673/county%20b?heartbeat=10"
    monkeypatch.delenv("RABBIT_MANAGEMENT", raising=False)
    assert management_url(uri) == "http://broker.local:15672/api"
    monkeypatch.setenv("RABBIT_MANAGEMENT", "https://mq.example:443/api")
    assert with_credentials(management_url(uri), "b.feeds", "pw") == \
        "https://b.feeds:pw@mq.example:443/api"


def test_without_the_management_api_the_launcher_refuses_and_says_how_to_enable_it(
        monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("RABBIT_MANAGEMENT", closed)
    with pytest.raises(RefusedToStart, match=f"management API at {closed} does not answer.*"
                                             r"rabbitmq-plugins enable rabbitmq_management"):
        check_management("amqp://guest:guest@localhost:5672/")
