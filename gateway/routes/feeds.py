"""The agencies' subscriptions to the platform's events (the feeds component): made, read,
deleted and replayed, with their delivery audit and the AsyncAPI document of what each
agency receives; and the error rows of its refusals, by type name."""
from contracts.api import feeds as contract
from kit.schemas import listing_query, page_schema, query_schema, PageQuery

from ..api import api
from . import paging

ERRORS = {
    "SubscriptionNotFound": (404, "SUBSCRIPTION_NOT_FOUND"),
    "AgencySubscribed": (409, "AGENCY_SUBSCRIBED"),
    "SubscriptionDeleted": (409, "SUBSCRIPTION_DELETED"),
    "SubscriptionChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "BrokerRefused": (503, "BROKER_UNAVAILABLE"),
}
DeliveryQuery = query_schema("DeliveryListQuery", PageQuery, contract.DeliveryQuery)


class FeedsRoutes:
    @api("POST", "/v1/subscriptions", status=201, body=contract.SubscriptionInput,
         returns=contract.Subscription,
         summary="Subscribe an agency: its queue, its dead-letter queue and a broker user of "
                 "its own, which may only read that queue and send reports under its own "
                 "routing key (the password is in this answer only)")
    def create_subscription(self, request, grant, body):
        return self.feeds.create_subscription(body, grant.actor)

    @api("GET", "/v1/subscriptions", query=listing_query("SubscriptionQuery"),
         returns=page_schema(contract.Subscription),
         summary="The agencies' subscriptions, newest first (deleted ones too)")
    def list_subscriptions(self, request, grant):
        return self.feeds.list_subscriptions(paging(request))

    @api("GET", "/v1/subscriptions/<subscription_id>", returns=contract.Subscription,
         summary="One subscription")
    def get_subscription(self, request, grant, subscription_id):
        return grant.record or self.feeds.get_subscription(subscription_id)

    @api("DELETE", "/v1/subscriptions/<subscription_id>", returns=contract.Subscription,
         summary="Cut the agency off at once: its broker user deleted, its open connections "
                 "closed, its queues removed (the subscription and its audit are kept)")
    def delete_subscription(self, request, grant, subscription_id):
        return self.feeds.delete_subscription(subscription_id, grant.actor)

    @api("POST", "/v1/subscriptions/<subscription_id>/replay", body=contract.ReplayInput,
         returns=contract.Subscription,
         summary="Replay every event since a time that the subscription admits, in order, "
                 "then the live ones (its queue is emptied first)")
    def replay_subscription(self, request, grant, subscription_id, body):
        return self.feeds.replay(subscription_id, body, grant.actor)

    @api("GET", "/v1/subscriptions/<subscription_id>/deliveries", query=DeliveryQuery,
         returns=page_schema(contract.Delivery),
         summary="Which events went to the agency, and when (kept for FEEDS_AUDIT_DAYS)")
    def list_deliveries(self, request, grant, subscription_id):
        return self.feeds.deliveries(subscription_id, request.args.to_dict())

    @api("GET", "/v1/subscriptions/<subscription_id>/asyncapi",
         summary="The AsyncAPI document of what the agency receives: only its types and "
                 "the fields its projection keeps")
    def subscription_asyncapi(self, request, grant, subscription_id):
        return self.feeds.asyncapi(subscription_id)
