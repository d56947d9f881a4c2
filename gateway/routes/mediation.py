"""Mediation's routes: disputes; and the error rows of its refusals, by type name."""
from contracts.api import mediation as contract

from ..api import api
from . import caller_request_key

ERRORS = {
    "DisputeNotFound": (404, "DISPUTE_NOT_FOUND"),
    "DisputeChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "DisputeExists": (400, "VALIDATION_FAILED"),
}


class MediationRoutes:
    @api("POST", "/v1/disputes", status=201, body=contract.DisputeInput,
         returns=contract.Dispute, summary="Take a dispute in for mediation")
    def register_dispute(self, request, grant, body):
        return self.mediation.register_dispute(body, grant.actor,
                                               caller_request_key(request, grant))

    @api("GET", "/v1/disputes/<dispute_id>", returns=contract.Dispute, summary="One dispute")
    def get_dispute(self, request, grant, dispute_id):
        return grant.record or self.mediation.get_dispute(dispute_id)
