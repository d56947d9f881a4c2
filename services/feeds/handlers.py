"""The feeds component's use cases: subscriptions made, read, deleted and replayed; the
delivery audit read and pruned. `fanout` is the running fan-out (services.feeds.fanout) and
`admin` the broker's management API (services.feeds.broker.BrokerAdmin)."""
import secrets
import uuid

from contracts import topology
from kit.errors import ValidationFailed

from . import broker
from .domain import Refused, Subscription, broker_user, sequence
from .exceptions import AgencySubscribed, SubscriptionDeleted
from .projection import check_purpose


def filters_in(api_filters):
    """The API's filter dialects ({"exact": {"type": t}}) as the projection takes them."""
    return [{dialect: spec["type"]} for f in api_filters for dialect, spec in f.items()]


def filters_out(filters):
    return [{dialect: {"type": value}} for f in filters for dialect, value in f.items()]


def create(repo, fanout, admin, vhost, data, actor, now):
    """A subscription with its queue, its dead-letter queue and its broker user. Returns
    (subscription, password): the password is not kept, only shown once."""
    filters = filters_in(data["filters"])
    problems = check_purpose(filters, data.get("purpose"))
    if problems:
        raise ValidationFailed({f"purpose.{field}": [reason] for field, reason in problems})
    agency = data["agency"]
    if repo.active_for(agency):
        raise AgencySubscribed(agency)
    user, password = broker_user(vhost, agency), secrets.token_urlsafe(24)
    fanout.declare_agency(agency)
    admin.provision(user, password, agency)
    def add(live_from):
        return repo.subscriptions.add(Subscription(
            id=str(uuid.uuid4()), agency=agency, filters=filters, purpose=data.get("purpose"),
            broker_user=user, created_at=now, created_by=actor, live_from=live_from))
    return fanout.go_live(add), password


def delete(repo, fanout, admin, subscription_id, actor, now):
    """Cut the agency off at once (its user deleted, its open connections closed), then its
    queues; the subscription stays, marked deleted, with its audit."""
    subscription = repo.subscriptions.get(subscription_id)
    if not subscription.active:
        raise SubscriptionDeleted(subscription_id)
    admin.revoke(subscription.broker_user)
    subscription = repo.subscriptions.change(subscription_id, lambda s: _delete(s, now, actor))
    fanout.refresh()
    fanout.remove_agency(subscription.agency)
    return subscription


def _delete(subscription, now, actor):
    if not subscription.active:
        return False
    subscription.delete(now, actor)


def replay(repo, fanout, subscription_id, since, actor, now):
    def ask(subscription):
        try:
            subscription.ask_replay(since, now, actor, fanout.retention)
        except Refused as refusal:
            if not subscription.active:
                raise SubscriptionDeleted(subscription_id) from None
            raise ValidationFailed({"since": [str(refusal)]}) from None
    subscription = repo.subscriptions.change(subscription_id, ask)
    fanout.start_replay(subscription)
    return subscription


def subscriptions(repo, amqp_uri, skip, limit):
    """A page of the subscriptions, newest first, as the API shows them, and the total."""
    items, total = repo.subscriptions.list(None, sort=[("created_at", -1)], skip=skip,
                                           limit=limit)
    return [view(s, amqp_uri) for s in items], total


def deliveries(repo, subscription_id, since, until, skip, limit):
    repo.subscriptions.get(subscription_id)
    rows, total = repo.deliveries_of(subscription_id, since, until, skip, limit)
    return [dict(row, sequence=sequence(row["offset"])) for row in rows], total


def prune(repo, now, keep):
    return repo.prune_deliveries(now - keep)


def view(subscription, amqp_uri):
    """The subscription as the API shows it (CloudEvents Subscriptions shape)."""
    agency = subscription.agency
    return {**subscription.__dict__, "filters": filters_out(subscription.filters),
            "sink": broker.sink_of(amqp_uri), "protocol": "AMQP",
            "protocolsettings": {"vhost": broker.vhost_of(amqp_uri),
                                 "queue": topology.feed_queue(agency),
                                 "dead_letter_queue": topology.dead_letter_queue(agency),
                                 "report_exchange": topology.REPORTS_EXCHANGE,
                                 "report_routing_key": agency}}
