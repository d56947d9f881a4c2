"""Token rules at the gateway: every token below is signed with the platform's own secret, so
only the rules refuse it."""
import re
from datetime import datetime, timedelta, timezone

import jwt
import pytest


def signed(secret, **claims):
    """A supervisor token as a holder of the secret could write it; None drops a claim."""
    now = datetime.now(timezone.utc)
    claims = {"sub": "chen.li", "role": "supervisor", "iss": "liaison-platform",
              "aud": "liaison-gateway", "iat": now, "exp": now + timedelta(hours=1), **claims}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret,
                      algorithm="HS256")


def test_a_well_formed_token_is_accepted(api, secret):
    assert api("GET", "/v1/stations", signed(secret)).status_code == 200


CENTURY = timedelta(days=36525)


@pytest.mark.parametrize("claims, reason", [
    ({"exp": datetime.now(timezone.utc) + CENTURY}, "longer than the 12 h allowed"),
    ({"iat": datetime.now(timezone.utc) - timedelta(hours=1),
      "exp": datetime.now(timezone.utc) + timedelta(hours=12)}, "longer than the 12 h"),
    ({"exp": None}, "exp"),
    ({"iat": None}, "iat"),
    ({"iss": None, "aud": None}, "iss|aud"),
    ({"iss": None}, "iss"),
    ({"aud": None}, "aud"),
    ({"aud": "another-api"}, "Audience"),
    ({"iss": "someone-else"}, "issuer"),
    ({"sub": "supervisor"}, "not the role 'supervisor'"),
    ({"sub": "enterprise", "role": "enterprise", "enterprise_id": "e1"}, "not the role"),
    ({"sub": "officer", "role": "officer", "officer_id": "o1"}, "not the role"),
    ({"sub": ""}, "sub must name"),
    ({"role": "enterprise"}, "enterprise_id"),
    ({"role": "officer"}, "officer_id"),
], ids=["100-years", "13-hours", "no-exp", "no-iat", "no-iss-no-aud", "no-iss", "no-aud",
        "wrong-aud", "wrong-iss", "sub-is-role", "enterprise-sub-is-role",
        "officer-sub-is-role", "empty-sub", "enterprise-without-id", "officer-without-id"])
def test_a_token_outside_the_rules_is_401(api, secret, claims, reason):
    answer = api("GET", "/v1/stations", signed(secret, **claims))
    assert answer.status_code == 401
    body = answer.json()
    assert body["error"] == "UNAUTHENTICATED"
    assert re.search(reason, body["message"]), body
