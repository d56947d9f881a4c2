"""Mediation's RPC input and output: the contract the gateway sends (contracts.api.mediation)
and who acts (contracts.api.Actor)."""
from contracts.api import Actor  # noqa: F401
from contracts.api.mediation import *  # noqa: F401,F403
