"""Bearer tokens: who they name, how long they live, who issued them for whom."""
import os
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from gateway import token as token_command
from gateway.auth import (ROLES, AuthenticationFailed, Principal, TokenRules,
                          WeakSecret, authenticate, issue_token)

SECRET = "test-secret-that-is-long-enough-for-hs256"
RULES = TokenRules(SECRET)
NOW = datetime(2025, 4, 15, 4, 0, tzinfo=timezone.utc)

IDS_FOR_ROLE = {"enterprise": {"enterprise_id": "e1"}, "officer": {"officer_id": "o1"}}


def bearer(token):
    return f"Bearer {token}"


def fresh(role, **ids):
    """A token issued now (real clock) so that it is valid when authenticated."""
    return issue_token(SECRET, role, f"{role}-user", **(ids or IDS_FOR_ROLE.get(role, {})))


def forged(**claims):
    """Claims signed with the right secret, as a holder of the secret could write them; the
    defaults are those of a valid admin token."""
    now = datetime.now(timezone.utc)
    claims = {"sub": "chen.li", "role": "admin", "iss": "liaison-platform",
              "aud": "liaison-gateway", "iat": now, "exp": now + timedelta(hours=1), **claims}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET,
                      algorithm="HS256")


# --- issue and authenticate ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_issue_then_authenticate_round_trip(role):
    principal = authenticate(RULES, bearer(fresh(role)))
    assert principal == Principal(
        sub=f"{role}-user", role=role,
        enterprise_id="e1" if role == "enterprise" else None,
        officer_id="o1" if role == "officer" else None)
    assert principal.manages == (role in ("admin", "supervisor"))


def test_the_scheme_is_case_insensitive():
    assert authenticate(RULES, f"bearer {fresh('admin')}").role == "admin"


def test_an_expired_token_is_refused():
    token = issue_token(SECRET, "admin", "u1", ttl=timedelta(hours=8),
                        now=datetime.now(timezone.utc) - timedelta(hours=9))
    with pytest.raises(AuthenticationFailed, match="the token has expired"):
        authenticate(RULES, bearer(token))


def test_a_token_accepted_once_is_still_refused_once_it_expires(monkeypatch):
    token = issue_token(SECRET, "admin", "u1", ttl=timedelta(minutes=5))
    assert authenticate(RULES, bearer(token)).sub == "u1"
    assert authenticate(RULES, bearer(token)).sub == "u1"  # the kept answer
    later = time.time() + 301
    monkeypatch.setattr("gateway.auth.time.time", lambda: later)
    with pytest.raises(AuthenticationFailed, match="the token has expired"):
        authenticate(RULES, bearer(token))


def test_a_token_refused_once_is_refused_again():
    token = issue_token("another-secret-also-long-enough-for-hs256", "admin", "u1")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed, match="invalid token"):
            authenticate(RULES, bearer(token))
    assert authenticate(TokenRules("another-secret-also-long-enough-for-hs256"),
                        bearer(token)).sub == "u1"  # rules of another secret are kept apart


def test_a_token_signed_with_another_secret_is_refused():
    token = issue_token("another-secret-also-long-enough-for-hs256", "admin", "u1")
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(RULES, bearer(token))


@pytest.mark.parametrize("header", [
    None,
    "",
    "{token}",            # no scheme at all
    "Basic {token}",      # another scheme
    "Bearer",             # scheme without token
    "Bearer ",
])
def test_a_header_without_a_bearer_token_is_refused(header):
    if header is not None:
        header = header.format(token=fresh("admin"))
    with pytest.raises(AuthenticationFailed, match="send Authorization: Bearer <token>"):
        authenticate(RULES, header)


def test_a_malformed_token_is_refused():
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(RULES, "Bearer not.a.jwt")


def test_a_token_with_an_unknown_role_is_refused():
    with pytest.raises(AuthenticationFailed, match="unknown role 'mayor'"):
        authenticate(RULES, bearer(forged(role="mayor")))


@pytest.mark.parametrize("role, claim", [("enterprise", "enterprise_id"),
                                         ("officer", "officer_id")])
def test_a_token_missing_its_role_id_is_refused(role, claim):
    # Forged by hand: issue_token itself would never produce such a token.
    with pytest.raises(AuthenticationFailed, match=claim):
        authenticate(RULES, bearer(forged(role=role)))


@pytest.mark.parametrize("claim, value", [("enterprise_id", ""), ("enterprise_id", 7),
                                          ("officer_id", ["o1"]), ("officer_id", {"a": 1})])
def test_an_id_claim_that_is_not_a_string_is_refused(claim, value):
    role = claim.split("_")[0]
    with pytest.raises(AuthenticationFailed, match=f"{claim} must be a non-empty string"):
        authenticate(RULES, bearer(forged(role=role, **{claim: value})))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "role"])
def test_a_token_without_a_required_claim_is_refused(claim):
    with pytest.raises(AuthenticationFailed, match=f"invalid token: .*{claim}"):
        authenticate(RULES, bearer(forged(**{claim: None})))


@pytest.mark.parametrize("claim, value", [("iss", "someone-else"), ("aud", "another-api"),
                                          ("aud", ["another-api"])])
def test_a_token_from_another_issuer_or_for_another_audience_is_refused(claim, value):
    with pytest.raises(AuthenticationFailed, match="invalid token: (Invalid issuer|Audience doesn't match)"):
        authenticate(RULES, bearer(forged(**{claim: value})))


def test_issuer_and_audience_are_the_configured_ones():
    rules = TokenRules(SECRET, issuer="county-idp", audience="county-liaison")
    token = rules.issue("admin", "chen.li")
    assert authenticate(rules, bearer(token)).sub == "chen.li"
    with pytest.raises(AuthenticationFailed, match="Invalid issuer"):
        authenticate(RULES, bearer(token))


def test_a_token_valid_for_longer_than_the_lifetime_allowed_is_refused():
    now = datetime.now(timezone.utc)
    century = forged(iat=now, exp=now + timedelta(days=36525))
    with pytest.raises(AuthenticationFailed, match="valid for longer than the 12 h allowed"):
        authenticate(RULES, bearer(century))
    just_over = forged(iat=now, exp=now + timedelta(hours=12, seconds=1))
    with pytest.raises(AuthenticationFailed, match="longer than the 12 h"):
        authenticate(RULES, bearer(just_over))
    assert authenticate(RULES, bearer(forged(iat=now, exp=now + timedelta(hours=12))))


def test_a_token_issued_in_the_future_is_refused():
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with pytest.raises(AuthenticationFailed, match="not yet valid"):
        authenticate(RULES, bearer(forged(iat=later, exp=later + timedelta(hours=1))))


def test_the_lifetime_allowed_is_configured_in_hours():
    rules = TokenRules.from_config({"JWT_SECRET": SECRET, "TOKEN_MAX_HOURS": "0.5"})
    assert rules.max_lifetime == timedelta(minutes=30)
    with pytest.raises(ValueError, match="at most 0.5 h"):
        rules.issue("admin", "chen.li", ttl=timedelta(hours=1))
    with pytest.raises(AuthenticationFailed, match="longer than the 0.5 h allowed"):
        authenticate(rules, bearer(issue_token(SECRET, "admin", "chen.li",
                                               ttl=timedelta(hours=1))))


def test_config_defaults_fill_empty_values():
    rules = TokenRules.from_config({"JWT_SECRET": SECRET, "JWT_ISSUER": "", "JWT_AUDIENCE": "",
                                    "TOKEN_MAX_HOURS": ""})
    assert (rules.issuer, rules.audience, rules.max_lifetime) == (
        "liaison-platform", "liaison-gateway", timedelta(hours=12))
    with pytest.raises(ValueError, match="TOKEN_MAX_HOURS must be a number of hours"):
        TokenRules.from_config({"JWT_SECRET": SECRET, "TOKEN_MAX_HOURS": "twelve"})


@pytest.mark.parametrize("secret, state", [(None, "is not set"), ("", "is not set"),
                                           ("abc", "has 3 bytes"), ("x" * 31, "has 31 bytes")])
def test_a_short_secret_is_refused_with_how_to_make_one(secret, state):
    with pytest.raises(WeakSecret, match=f"JWT_SECRET {state}; it needs at least 32") as caught:
        TokenRules.from_config({"JWT_SECRET": secret})
    assert "secrets.token_urlsafe(48)" in str(caught.value)
    with pytest.raises(WeakSecret):
        issue_token(secret, "admin", "chen.li")


def test_a_secret_is_measured_in_bytes():
    assert TokenRules("é" * 16).secret == "é" * 16  # 32 bytes in UTF-8


def test_the_secret_is_not_in_the_rules_repr():
    assert SECRET not in repr(RULES)


@pytest.mark.parametrize("sub", ["", "   ", "enterprise", "officer", "Supervisor", "admin",
                                 " agency "])
def test_a_sub_that_names_no_one_is_refused(sub):
    with pytest.raises(ValueError, match="sub must name the person or system"):
        issue_token(SECRET, "supervisor", sub)
    with pytest.raises(AuthenticationFailed, match="sub must name the person or system"):
        authenticate(RULES, bearer(forged(role="supervisor", sub=sub)))


def test_a_sub_that_is_not_a_string_is_refused():
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(RULES, bearer(forged(sub=12)))


def test_issue_sets_expiry_issuer_and_audience():
    token = issue_token(SECRET, "agency", "a1", ttl=timedelta(minutes=30), now=NOW)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="liaison-gateway",
                        options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert claims["iat"] == int(NOW.timestamp())
    assert (claims["iss"], claims["aud"]) == ("liaison-platform", "liaison-gateway")


@pytest.mark.parametrize("role, missing", [("enterprise", "enterprise_id"),
                                           ("officer", "officer_id")])
def test_issue_refuses_a_role_without_its_id(role, missing):
    with pytest.raises(ValueError, match=f"{missing} is required for this role"):
        issue_token(SECRET, role, "u1")


def test_issue_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="role must be one of"):
        issue_token(SECRET, "mayor", "u1")


# --- the full identity -----------------------------------------------------------------------


def test_the_identity_tells_apart_every_field():
    principals = [Principal("chen", "enterprise", enterprise_id="e1"),
                  Principal("chen", "enterprise", enterprise_id="e2"),
                  Principal("chen", "officer", officer_id="e1"),
                  Principal("chen:e1", "enterprise"),
                  Principal("chen", "enterprise", enterprise_id=":e1"),
                  Principal("chen%3Ae1", "enterprise")]
    identities = [p.identity for p in principals]
    assert len(set(identities)) == len(identities)
    assert principals[0].identity == "enterprise:chen:e1:"
    assert principals[3].identity == "enterprise:chen%3Ae1::"


def test_the_identity_is_that_of_the_token():
    token = issue_token(SECRET, "officer", "officer:o1", officer_id="o1")
    assert authenticate(RULES, bearer(token)).identity == "officer:officer%3Ao1::o1"


# --- the token command -----------------------------------------------------------------------


@pytest.fixture
def command(monkeypatch, capsys, tmp_path):
    """command(*argv) -> (claims or None, stderr); the secret from the environment."""
    for name in ("JWT_ISSUER", "JWT_AUDIENCE", "TOKEN_MAX_HOURS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    def run(*argv):
        try:
            token_command.main(list(argv))
        except SystemExit:
            return None, capsys.readouterr().err
        out = capsys.readouterr().out.strip()
        return authenticate(TokenRules.from_config(os.environ), bearer(out)), ""

    return run


@pytest.mark.parametrize("role", ["admin", "supervisor", "agency"])
def test_the_command_requires_a_sub_that_names_someone(command, role):
    principal, error = command(role)
    assert principal is None and f"--sub is required for the {role} role" in error
    principal, error = command(role, "--sub", role)
    assert principal is None and f"not the role '{role}'" in error
    principal, _ = command(role, "--sub", "chen.li")
    assert (principal.role, principal.sub) == (role, "chen.li")


@pytest.mark.parametrize("role, option, value", [("officer", "--officer-id", "o7"),
                                                 ("enterprise", "--enterprise-id", "e7")])
def test_the_command_requires_the_id_and_names_the_holder_by_it(command, role, option, value):
    principal, error = command(role)
    assert principal is None and f"{option} is required for the {role} role" in error
    principal, _ = command(role, option, value)
    assert principal.sub == f"{role}:{value}"
    assert value in principal.identity.split(":")


def test_the_command_refuses_a_lifetime_over_the_configured_one(command, monkeypatch):
    principal, error = command("admin", "--sub", "chen.li", "--hours", "13")
    assert principal is None and "at most 12 h" in error
    monkeypatch.setenv("TOKEN_MAX_HOURS", "24")
    principal, _ = command("admin", "--sub", "chen.li", "--hours", "13")
    assert principal.sub == "chen.li"


def test_the_command_refuses_a_weak_secret(command, monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "short")
    principal, error = command("admin", "--sub", "chen.li")
    assert principal is None and "JWT_SECRET has 5 bytes" in error
    assert "secrets.token_urlsafe(48)" in error


def test_the_command_without_any_secret_says_how_to_get_one(command, monkeypatch):
    monkeypatch.delenv("JWT_SECRET")
    principal, error = command("admin", "--sub", "chen.li")
    assert principal is None and "run infra/up first" in error
