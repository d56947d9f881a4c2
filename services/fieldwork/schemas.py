"""Field work's RPC input and output: the contract the gateway sends
(contracts.api.fieldwork, contracts.api.work_report) and who acts (contracts.api.Actor)."""
from contracts.api import Actor, Document  # noqa: F401
from contracts.api.fieldwork import *  # noqa: F401,F403
from contracts.api.work_report import ReportDocumentQuery, ReportQuery, WorkReport  # noqa: F401
