"""Mediation's use cases: plain functions over the domain and the repository."""
import uuid

from .domain import Dispute

REQUEST_IDS = uuid.UUID("6f1c2b7e-0d3a-4e5f-9a8b-1c2d3e4f5a6b")


def register_dispute(repo, data, actor, now, request_key=None):
    """Take a dispute in. With `request_key` (the caller and its Idempotency-Key) the id
    derives from it, so a retried registration finds the dispute its first try made."""
    dispute_id = str(uuid.uuid5(REQUEST_IDS, request_key) if request_key else uuid.uuid4())
    dispute, _ = repo.disputes.create_once(dispute_id, lambda: Dispute.register(
        dispute_id, data["enterprise_id"], data["kind"], data["summary"],
        data["amount_at_stake"], data["source"], actor["id"], now))
    return dispute


def list_disputes(repo, skip, limit, enterprise_id=None, status=None):
    query = {k: v for k, v in (("enterprise_id", enterprise_id), ("status", status)) if v}
    return repo.disputes.list(query, sort=[("registered_at", -1)], skip=skip, limit=limit)
