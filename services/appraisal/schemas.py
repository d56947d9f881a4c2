"""Appraisal's RPC input and output: the contract the gateway sends (contracts.api.appraisal)
and who acts (contracts.api.Actor)."""
from contracts.api import Actor  # noqa: F401
from contracts.api.appraisal import *  # noqa: F401,F403
