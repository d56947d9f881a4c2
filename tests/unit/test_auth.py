"""Bearer tokens and who may read which enterprise."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from gateway.auth import (ROLES, AuthenticationFailed, Forbidden, Principal, authenticate,
                          check_enterprise, issue_token, redact)

SECRET = "test-secret-that-is-long-enough-for-hs256"
NOW = datetime(2025, 4, 15, 4, 0, tzinfo=timezone.utc)

IDS_FOR_ROLE = {"enterprise": {"enterprise_id": "e1"}, "officer": {"officer_id": "o1"}}


def bearer(token):
    return f"Bearer {token}"


def fresh(role, **ids):
    """A token issued now (real clock) so that it is valid when authenticated."""
    return issue_token(SECRET, role, f"{role}-user", **(ids or IDS_FOR_ROLE.get(role, {})))


# --- issue and authenticate ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_issue_then_authenticate_round_trip(role):
    principal = authenticate(SECRET, bearer(fresh(role)))
    assert principal == Principal(
        sub=f"{role}-user", role=role,
        enterprise_id="e1" if role == "enterprise" else None,
        officer_id="o1" if role == "officer" else None)
    assert principal.manages == (role in ("admin", "supervisor"))


def test_the_scheme_is_case_insensitive():
    assert authenticate(SECRET, f"bearer {fresh('admin')}").role == "admin"


def test_an_expired_token_is_refused():
    token = issue_token(SECRET, "admin", "u1", ttl=timedelta(hours=8),
                        now=datetime.now(timezone.utc) - timedelta(hours=9))
    with pytest.raises(AuthenticationFailed, match="the token has expired"):
        authenticate(SECRET, bearer(token))


def test_a_token_signed_with_another_secret_is_refused():
    token = issue_token("another-secret-also-long-enough-for-hs256", "admin", "u1")
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(SECRET, bearer(token))


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
        authenticate(SECRET, header)


def test_a_malformed_token_is_refused():
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(SECRET, "Bearer not.a.jwt")


def test_a_token_with_an_unknown_role_is_refused():
    token = jwt.encode({"sub": "u1", "role": "mayor",
                        "exp": datetime.now(timezone.utc) + timedelta(hours=1)},
                       SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationFailed, match="unknown role 'mayor'"):
        authenticate(SECRET, bearer(token))


@pytest.mark.parametrize("role, claim", [("enterprise", "enterprise_id"),
                                         ("officer", "officer_id")])
def test_a_token_missing_its_role_id_is_refused(role, claim):
    # Forged by hand: issue_token itself would never produce such a token.
    token = jwt.encode({"sub": "u1", "role": role,
                        "exp": datetime.now(timezone.utc) + timedelta(hours=1)},
                       SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationFailed, match=claim):
        authenticate(SECRET, bearer(token))


def test_a_token_without_expiry_is_refused():
    token = jwt.encode({"sub": "u1", "role": "admin"}, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        authenticate(SECRET, bearer(token))


def test_issue_sets_expiry_from_now_and_ttl():
    token = issue_token(SECRET, "agency", "a1", ttl=timedelta(minutes=30), now=NOW)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert claims["iat"] == int(NOW.timestamp())


@pytest.mark.parametrize("role, missing", [("enterprise", "enterprise_id"),
                                           ("officer", "officer_id")])
def test_issue_refuses_a_role_without_its_id(role, missing):
    with pytest.raises(ValueError, match=f"{missing} is required for this role"):
        issue_token(SECRET, role, "u1")


def test_issue_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="role must be one of"):
        issue_token(SECRET, "mayor", "u1")


# --- who may read which enterprise ----------------------------------------------------------


def _no_assignments():
    raise AssertionError("assigned ids are only looked up for officers")


@pytest.mark.parametrize("role", ["admin", "supervisor", "agency"])
def test_managers_and_agencies_read_any_enterprise(role):
    check_enterprise(Principal("u", role), "e2", _no_assignments)


def test_an_enterprise_reads_itself():
    check_enterprise(Principal("u", "enterprise", enterprise_id="e1"), "e1", _no_assignments)


def test_an_enterprise_may_not_read_another():
    with pytest.raises(Forbidden, match="no access to enterprise e2"):
        check_enterprise(Principal("u", "enterprise", enterprise_id="e1"), "e2",
                         _no_assignments)


def test_an_officer_reads_the_enterprises_assigned_to_them():
    officer = Principal("u", "officer", officer_id="o1")
    check_enterprise(officer, "e1", lambda: ["e1", "e3"])
    check_enterprise(officer, "e3", lambda: ["e1", "e3"])
    with pytest.raises(Forbidden, match="no access to enterprise e2"):
        check_enterprise(officer, "e2", lambda: ["e1", "e3"])


def test_an_officer_with_no_assignments_reads_nothing():
    with pytest.raises(Forbidden):
        check_enterprise(Principal("u", "officer", officer_id="o1"), "e1", lambda: [])


# --- personal data ---------------------------------------------------------------------------

ENTERPRISE = {"id": "e1", "name": "Minjiang Tools",
              "contact": {"name": "Chen Li", "phone": "0591-1234567"}}


def test_redact_removes_the_contact_for_an_agency():
    redacted = redact(Principal("u", "agency"), ENTERPRISE)
    assert redacted == {"id": "e1", "name": "Minjiang Tools"}
    assert "contact" in ENTERPRISE  # the original is left alone


@pytest.mark.parametrize("principal", [
    Principal("u", "admin"), Principal("u", "supervisor"),
    Principal("u", "officer", officer_id="o1"), Principal("u", "enterprise", enterprise_id="e1"),
])
def test_redact_keeps_the_contact_for_everyone_else(principal):
    assert redact(principal, ENTERPRISE) == ENTERPRISE
