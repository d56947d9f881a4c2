"""Print a bearer token: python -m gateway.token ROLE [--enterprise-id ID] [--officer-id ID].

The secret is JWT_SECRET from the environment, or the one `infra/up` keeps in DATA_DIR.
"""
import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

from .auth import ROLES, issue_token


def secret_from_environment():
    secret = os.environ.get("JWT_SECRET")
    if secret:
        return secret
    path = Path(os.environ.get("DATA_DIR", "data")) / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    sys.exit("JWT_SECRET is not set and no DATA_DIR/jwt_secret exists; run infra/up first")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print a bearer token for the gateway.")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--sub", help="who the token names (default: the role)")
    parser.add_argument("--enterprise-id", help="required for the enterprise role")
    parser.add_argument("--officer-id", help="required for the officer role")
    parser.add_argument("--hours", type=float, default=8.0, help="validity (default 8)")
    args = parser.parse_args(argv)
    try:
        token = issue_token(secret_from_environment(), args.role, args.sub or args.role,
                            args.enterprise_id, args.officer_id, timedelta(hours=args.hours))
    except ValueError as error:
        parser.error(str(error))
    print(token)


if __name__ == "__main__":
    main()
