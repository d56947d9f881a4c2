"""Disputes taken in for mediation. Pure Python; time is always a parameter.

A dispute records the events of what happens to it (`events`); the store writes them with
the change, so a dispute cannot change without its events going out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class DisputeRegistered:
    type: ClassVar[str] = "dispute.registered"
    dispute_id: str
    enterprise_id: str
    kind: str
    amount_at_stake: int
    source: str
    registered_at: datetime


@dataclass
class Dispute:
    id: str
    enterprise_id: str
    kind: str
    summary: str
    amount_at_stake: int
    source: str
    registered_by: str
    registered_at: datetime
    status: str = "registered"
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(cls, dispute_id, enterprise_id, kind, summary, amount_at_stake, source,
                 registered_by, now) -> "Dispute":
        dispute = cls(dispute_id, enterprise_id, kind, summary, amount_at_stake, source,
                      registered_by, now)
        dispute.events.append(DisputeRegistered(dispute_id, enterprise_id, kind,
                                                amount_at_stake, source, now))
        return dispute
