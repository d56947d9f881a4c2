"""What a dispute records as it changes: one frozen dataclass per event shape (`type` names
the contract, contracts/events.py). No event carries a party, a contact, an ID number or free
text: those stay in the mediation service, and reach an agency only through a referral it
holds (gateway.views)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class DisputeRegistered:
    type: ClassVar[str] = "dispute.registered"
    dispute_id: str
    enterprise_id: str
    station_id: str
    park_id: str | None
    grid_id: str | None
    kind: str
    amount_at_stake: int
    source: str
    source_ref: str | None
    tier: str
    registered_at: datetime


@dataclass(frozen=True)
class DisputeGraded:
    """dispute.graded (every grade) and dispute.risk_flagged (a raised grade that is high,
    critical or flagged: dispatch pages the station's leader on it)."""

    type: str
    dispute_id: str
    enterprise_id: str
    station_id: str
    grade: str
    flags: tuple[str, ...]
    rule_version: int
    reasons: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class WarningLetterIssued:
    """dispute.warning_letter_issued and dispute.warning_letter_sent."""

    type: str
    dispute_id: str
    enterprise_id: str
    station_id: str
    letter_id: str
    grade: str
    flags: tuple[str, ...]
    due: datetime
    at: datetime


@dataclass(frozen=True)
class DisputeStep:
    """A step of the dispute (escalated, extended, excluded, refused, session recorded,
    agreed, term performed, reopened, closed, deadline passed). `detail` and `extra` are
    codes (a tier, a ground, a deadline's name, a count), never free text."""

    type: str
    dispute_id: str
    enterprise_id: str
    station_id: str
    tier: str
    status: str
    detail: str
    extra: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class ReferralStep:
    """referral.created, .accepted, .declined, .done: a panel's referral to an agency."""

    type: str
    dispute_id: str
    enterprise_id: str
    referral_id: str
    agency: str
    state: str
    reason: str
    result: str | None
    at: datetime
