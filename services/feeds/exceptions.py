"""What the feeds component refuses, by name. Each one is rebuilt as itself on the caller's
side."""
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed, crosses_broker


@crosses_broker
class SubscriptionNotFound(RecordNotFound):
    """No such subscription (a deleted one is still found, marked deleted)."""

    what = "subscription"


@crosses_broker
class AgencySubscribed(ValidationFailed):
    """The agency has an active subscription: one per agency (its queue, its broker user and
    its report routing key are the agency's)."""

    def __init__(self, agency):
        super().__init__({"agency": [f"{agency} already has an active subscription; delete it "
                                     f"first"]})


@crosses_broker
class SubscriptionDeleted(ValidationFailed):
    """The subscription was deleted: it can be read, not replayed or changed."""

    def __init__(self, subscription_id):
        super().__init__({"subscription_id": [f"subscription {subscription_id} is deleted"]})


@crosses_broker
class SubscriptionChangedMeanwhile(ValidationFailed):
    def __init__(self, subscription_id):
        super().__init__({"subscription_id": [
            f"subscription {subscription_id} changed meanwhile; try again"]})


@crosses_broker
class BrokerRefused(ServiceUnavailable):
    """The broker's management API did not do what provisioning or revoking needed; nothing
    the platform keeps was changed, and the same request may be sent again."""
