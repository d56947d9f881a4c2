"""The feeds component's RPC input and output: the contract's schemas (contracts.api.feeds).
Unknown fields are refused (marshmallow's RAISE)."""
from contracts.api.feeds import (DeliveryQuery, Delivery, ReplayInput,  # noqa: F401
                                 Subscription, SubscriptionInput)
