"""Bearer JWTs (HS256): who a token names, who issued it for whom, and for how long.

What each role may then do is gateway.policy's table.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import quote

import jwt

ROLES = ("admin", "supervisor", "officer", "mediator", "enterprise", "agency")
MANAGERS = ("admin", "supervisor")
EVERYONE = ROLES

ISSUER = "liaison-platform"
AUDIENCE = "liaison-gateway"
MAX_LIFETIME = timedelta(hours=12)
MIN_SECRET_BYTES = 32
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class AuthenticationFailed(Exception):
    """No token, or a token that is expired, forged, malformed, or does not name who holds it."""


class Forbidden(Exception):
    """The caller is known but may not do this."""


class WeakSecret(ValueError):
    """A signing secret that is missing or too short to resist guessing."""


def check_secret(secret, name="JWT_SECRET"):
    """`secret` if it has at least 32 bytes; else WeakSecret, saying how to make one."""
    size = len((secret or "").encode())
    if size < MIN_SECRET_BYTES:
        state = "is not set" if size == 0 else f"has {size} bytes"
        raise WeakSecret(f"{name} {state}; it needs at least {MIN_SECRET_BYTES}. "
                         f"Make one with: {MAKE_A_SECRET}")
    return secret


def check_subject(sub):
    """`sub` if it names a person or system; a role name or blank names no one."""
    if not isinstance(sub, str) or not sub.strip():
        raise ValueError("sub must name the person or system the token is for")
    if sub.strip().lower() in ROLES:
        raise ValueError(f"sub must name the person or system the token is for, "
                         f"not the role {sub.strip()!r}")
    return sub


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    enterprise_id: str | None = None
    officer_id: str | None = None

    @property
    def manages(self):
        return self.role in MANAGERS

    @property
    def identity(self):
        """Who this is, in full: role, sub, enterprise and officer id, each percent-escaped
        and joined by ':', so two principals share it only if all four are equal."""
        return ":".join(quote(part or "", safe="")
                        for part in (self.role, self.sub, self.enterprise_id, self.officer_id))


@dataclass(frozen=True)
class TokenRules:
    """What a token must be to be accepted: HS256 with `secret` (32 bytes or more), issued
    by `issuer` for `audience`, with `iat` and `exp` at most `max_lifetime` apart."""

    secret: str = field(repr=False)
    issuer: str = ISSUER
    audience: str = AUDIENCE
    max_lifetime: timedelta = MAX_LIFETIME

    def __post_init__(self):
        check_secret(self.secret)
        if self.max_lifetime <= timedelta(0):
            raise ValueError("TOKEN_MAX_HOURS must be more than 0")

    @classmethod
    def from_config(cls, config):
        """From JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE and TOKEN_MAX_HOURS in `config` (nameko's
        config, or the environment); an empty value takes the default. Raises WeakSecret."""
        hours = config.get("TOKEN_MAX_HOURS") or MAX_LIFETIME / timedelta(hours=1)
        try:
            hours = float(hours)
        except (TypeError, ValueError):
            raise ValueError(f"TOKEN_MAX_HOURS must be a number of hours, not {hours!r}") from None
        return cls(config.get("JWT_SECRET") or "", config.get("JWT_ISSUER") or ISSUER,
                   config.get("JWT_AUDIENCE") or AUDIENCE, timedelta(hours=hours))

    def issue(self, role, sub, enterprise_id=None, officer_id=None, ttl=timedelta(hours=8),
              now=None):
        """A token these rules accept; ValueError for a lifetime they would refuse."""
        if ttl > self.max_lifetime:
            raise ValueError(f"a token may be valid for at most {_hours(self.max_lifetime)} h")
        return issue_token(self.secret, role, sub, enterprise_id, officer_id, ttl, now,
                           issuer=self.issuer, audience=self.audience)


def issue_token(secret, role, sub, enterprise_id=None, officer_id=None,
                ttl=timedelta(hours=8), now=None, issuer=ISSUER, audience=AUDIENCE):
    """A signed token; ValueError for an unknown role, a `sub` that names no one, or a
    missing enterprise_id/officer_id. The lifetime is checked where the token is accepted."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_secret(secret)
    now = now or datetime.now(timezone.utc)
    claims = {"sub": check_subject(sub), "role": role, "iss": issuer, "aud": audience,
              "iat": now, "exp": now + ttl}
    if role == "enterprise":
        claims["enterprise_id"] = _required(enterprise_id, "enterprise_id")
    if role == "officer":
        claims["officer_id"] = _required(officer_id, "officer_id")
    return jwt.encode(claims, secret, algorithm="HS256")


def _required(value, name):
    if not value:
        raise ValueError(f"{name} is required for this role")
    return value


def _hours(delta):
    return f"{delta / timedelta(hours=1):g}"


def authenticate(rules, authorization):
    """The principal named by an `Authorization: Bearer <jwt>` header that `rules` accept.

    A token is checked in full the first time it is seen; the answer is kept (for the last
    4,096 tokens) and only the expiry is checked again on later requests, since nothing else
    about a signed token can change."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("send Authorization: Bearer <token>")
    principal, expires = _accepted(rules, token.strip())
    if expires <= time.time():
        raise AuthenticationFailed("the token has expired")
    return principal


@lru_cache(maxsize=4096)
def _accepted(rules, token):
    """(principal, expiry as a POSIX time) of a token `rules` accept now; a refusal is
    raised, and not kept."""
    try:
        claims = jwt.decode(token, rules.secret, algorithms=["HS256"],
                            issuer=rules.issuer, audience=rules.audience,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "role"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("the token has expired") from None
    except jwt.InvalidTokenError as error:
        raise AuthenticationFailed(f"invalid token: {error}") from None
    if claims["exp"] - claims["iat"] > rules.max_lifetime.total_seconds():
        raise AuthenticationFailed(f"the token is valid for longer than the "
                                   f"{_hours(rules.max_lifetime)} h allowed")
    role = claims["role"]
    if role not in ROLES:
        raise AuthenticationFailed(f"unknown role {role!r}")
    try:
        check_subject(claims["sub"])
    except ValueError as error:
        raise AuthenticationFailed(str(error)) from None
    ids = {name: claims.get(name) for name in ("enterprise_id", "officer_id")}
    for name, value in ids.items():
        if value is not None and not (isinstance(value, str) and value):
            raise AuthenticationFailed(f"{name} must be a non-empty string")
    if role == "enterprise" and not ids["enterprise_id"]:
        raise AuthenticationFailed("an enterprise token must carry enterprise_id")
    if role == "officer" and not ids["officer_id"]:
        raise AuthenticationFailed("an officer token must carry officer_id")
    return Principal(claims["sub"], role, **ids), claims["exp"]

