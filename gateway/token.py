"""Print a bearer token: python -m gateway.token ROLE [--sub WHO] [--enterprise-id ID]
[--officer-id ID] [--hours H].

The secret is JWT_SECRET from the environment, or the one `infra/up` keeps in DATA_DIR; the
issuer, audience and longest lifetime are JWT_ISSUER, JWT_AUDIENCE and TOKEN_MAX_HOURS, as the
gateway reads them.
"""
import argparse
import os
from datetime import timedelta
from pathlib import Path

from .auth import ROLES, TokenRules, check_subject

DEFAULT_SUB = {"enterprise": "enterprise:{enterprise_id}", "officer": "officer:{officer_id}"}


def secret_from_environment():
    """JWT_SECRET, else DATA_DIR/jwt_secret; None when neither exists."""
    if os.environ.get("JWT_SECRET"):
        return os.environ["JWT_SECRET"]
    path = Path(os.environ.get("DATA_DIR", "data")) / "jwt_secret"
    return path.read_text().strip() if path.exists() else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gateway.token",
                                     description="Print a bearer token for the gateway.")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--sub", help="the person or system the token is for (required for "
                        "admin, supervisor and agency; default officer:<id>, enterprise:<id>)")
    parser.add_argument("--enterprise-id", help="required for the enterprise role")
    parser.add_argument("--officer-id", help="required for the officer role")
    parser.add_argument("--hours", type=float, default=8.0, help="validity (default 8)")
    args = parser.parse_args(argv)

    if args.role == "enterprise" and not args.enterprise_id:
        parser.error("--enterprise-id is required for the enterprise role")
    if args.role == "officer" and not args.officer_id:
        parser.error("--officer-id is required for the officer role")
    sub = args.sub
    if sub is None and args.role in DEFAULT_SUB:
        sub = DEFAULT_SUB[args.role].format(**vars(args))
    if sub is None:
        parser.error(f"--sub is required for the {args.role} role: name the person or system "
                     "the token is for (e.g. --sub chen.li or --sub county-dashboard)")
    if args.hours <= 0:
        parser.error("--hours must be more than 0")
    secret = secret_from_environment()
    if secret is None:
        parser.error("JWT_SECRET is not set and no DATA_DIR/jwt_secret exists; run infra/up "
                     "first")
    try:
        check_subject(sub)
        rules = TokenRules.from_config({**os.environ, "JWT_SECRET": secret})
        token = rules.issue(args.role, sub, args.enterprise_id, args.officer_id,
                            timedelta(hours=args.hours))
    except ValueError as error:
        parser.error(str(error))
    print(token)


if __name__ == "__main__":
    main()
