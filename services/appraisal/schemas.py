"""Appraisal's RPC input and output: the contract the gateway sends (contracts.api.appraisal),
who acts (contracts.api.Actor) and a document answered whole (contracts.api.Document)."""
from contracts.api import Actor, Document  # noqa: F401
from contracts.api.appraisal import *  # noqa: F401,F403
