"""Bearer JWTs (HS256) and who may see what.

Roles: admin and supervisor see and change everything; an officer reads the enterprises
currently assigned to them and changes only their own availability; an enterprise reads only
itself; an agency reads enterprises without personal data.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

ROLES = ("admin", "supervisor", "officer", "enterprise", "agency")
MANAGERS = ("admin", "supervisor")
EVERYONE = ROLES


class AuthenticationFailed(Exception):
    """No token, or a token that is expired, forged or malformed."""


class Forbidden(Exception):
    """The caller is known but may not do this."""


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    enterprise_id: str | None = None
    officer_id: str | None = None

    @property
    def manages(self):
        return self.role in MANAGERS


def issue_token(secret, role, sub, enterprise_id=None, officer_id=None,
                ttl=timedelta(hours=8), now=None):
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = now or datetime.now(timezone.utc)
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if role == "enterprise":
        claims["enterprise_id"] = _required(enterprise_id, "enterprise_id")
    if role == "officer":
        claims["officer_id"] = _required(officer_id, "officer_id")
    return jwt.encode(claims, secret, algorithm="HS256")


def _required(value, name):
    if not value:
        raise ValueError(f"{name} is required for this role")
    return value


def authenticate(secret, authorization):
    """The principal named by an `Authorization: Bearer <jwt>` header."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("send Authorization: Bearer <token>")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=["HS256"],
                            options={"require": ["exp", "sub", "role"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("the token has expired") from None
    except jwt.InvalidTokenError as error:
        raise AuthenticationFailed(f"invalid token: {error}") from None
    role = claims["role"]
    if role not in ROLES:
        raise AuthenticationFailed(f"unknown role {role!r}")
    principal = Principal(claims["sub"], role, claims.get("enterprise_id"),
                          claims.get("officer_id"))
    if role == "enterprise" and not principal.enterprise_id:
        raise AuthenticationFailed("an enterprise token must carry enterprise_id")
    if role == "officer" and not principal.officer_id:
        raise AuthenticationFailed("an officer token must carry officer_id")
    return principal


def check_role(principal, roles):
    if principal.role not in roles:
        raise Forbidden(f"the {principal.role} role may not do this")


def check_enterprise(principal, enterprise_id, assigned_ids):
    """Raise Forbidden unless the principal may read enterprise `enterprise_id`.

    `assigned_ids()` is called only for officers: the enterprises they are assigned to now."""
    if principal.manages or principal.role == "agency":
        return
    if principal.role == "enterprise" and principal.enterprise_id == enterprise_id:
        return
    if principal.role == "officer" and enterprise_id in assigned_ids():
        return
    raise Forbidden(f"no access to enterprise {enterprise_id}")


def check_officer_self(principal, officer_id):
    if principal.manages or (principal.role == "officer" and principal.officer_id == officer_id):
        return
    raise Forbidden(f"no access to officer {officer_id}")


def redact(principal, enterprise):
    """An agency does not see the enterprise's contact person (personal data)."""
    if principal.role == "agency":
        enterprise = {k: v for k, v in enterprise.items() if k != "contact"}
    return enterprise
