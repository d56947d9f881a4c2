"""An Idempotency-Key belongs to the caller's full identity, not to its token's `sub`: two
enterprises (or officers) whose tokens share a `sub` never share a key, nor the id a service
derives from it."""
from gateway.auth import Principal
from gateway.idempotency import request_key


def test_a_key_is_scoped_by_the_callers_full_identity():
    keys = {request_key(p, "key-1") for p in (
        Principal("desk", "enterprise", enterprise_id="ent-1"),
        Principal("desk", "enterprise", enterprise_id="ent-2"),
        Principal("desk", "officer", officer_id="o-1"),
        Principal("desk", "supervisor"))}
    assert len(keys) == 4
