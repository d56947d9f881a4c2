"""Mediation's error rows, by type name. (Its routes join them here when the gateway serves
mediation over HTTP.)"""

ERRORS = {
    "DisputeNotFound": (404, "DISPUTE_NOT_FOUND"),
    "DisputeChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "DisputeExists": (400, "VALIDATION_FAILED"),
}
