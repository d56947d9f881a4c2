"""An agency's subscription to the platform's events: what it receives (filters on the event
type), what personal data or free text it may receive and why (its recorded purpose), and
where its replay stands. Pure rules: no broker, no storage.

The broker side (its queue, its user) follows from the agency: one active subscription per
agency.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACTIVE, DELETED = "active", "deleted"
REPLAYING, LIVE = "replaying", "live"


class Refused(Exception):
    """A rule of the subscription said no (the service turns it into its own error)."""


@dataclass
class Replay:
    """A replay asked for: every event since `since` that the filters admit, then live ones."""
    since: datetime
    requested_at: datetime
    requested_by: str
    state: str = REPLAYING          # replaying, then live once it has caught up
    delivered: int = 0
    caught_up_at: datetime | None = None


@dataclass
class Subscription:
    id: str
    agency: str
    filters: list                   # [{"exact": type} | {"prefix": prefix}]
    purpose: dict | None            # {"basis", "description", "fields"} or None
    broker_user: str
    created_at: datetime
    created_by: str
    live_from: int = 0              # the first archive offset it receives live
    state: str = ACTIVE
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    replay: Replay | None = None
    version: int = 0
    events: list = field(default_factory=list)

    @property
    def active(self):
        return self.state == ACTIVE

    @property
    def replaying(self):
        return self.active and self.replay is not None and self.replay.state == REPLAYING

    def ask_replay(self, since, now, actor, retention):
        """Replay from `since`: not in the future, not older than the archive keeps."""
        if not self.active:
            raise Refused("deleted")
        if since > now:
            raise Refused("since is in the future")
        if since < now - retention:
            raise Refused(f"since is older than the archive keeps ({retention.days} days)")
        self.replay = Replay(since, now, actor)

    def caught_up(self, next_offset, delivered, now):
        """The replay has delivered everything before `next_offset`: live from there on."""
        self.live_from = next_offset
        self.replay.state = LIVE
        self.replay.delivered = delivered
        self.replay.caught_up_at = now

    def delete(self, now, actor):
        if not self.active:
            raise Refused("deleted")
        self.state = DELETED
        self.deleted_at = now
        self.deleted_by = actor


def sequence(offset):
    """An event's CloudEvents `sequence` in a feed: its archive offset, zero-padded so that
    it sorts as it was delivered."""
    return f"{offset:016d}"


def retention_of(text):
    """A RabbitMQ x-max-age ("90D", "12h", "1Y") as a timedelta."""
    units = {"Y": 365 * 86400, "M": 30 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise ValueError(f"retention {text!r}: a number and one of {''.join(units)}")
    return timedelta(seconds=int(number) * units[unit])


def broker_user(vhost, agency):
    """The agency's broker user: broker users are global, so the vhost is part of the name
    (two platforms on one broker never share one)."""
    return f"{'default' if vhost == '/' else vhost}.agency.{agency}"
