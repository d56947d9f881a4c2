"""Appraisal's routes: rating invitations, ratings, a year's scores and one officer's; and
the error rows of its refusals, by type name."""
from contracts.api import appraisal as contract
from kit.schemas import listing_query, page_schema

from ..api import api
from . import filters, paging

ERRORS = {
    "InvitationNotFound": (404, "INVITATION_NOT_FOUND"),
    "InvitationExpired": (409, "INVITATION_EXPIRED"),
    "AlreadyRated": (409, "ALREADY_RATED"),
    "NotOnCase": (409, "NOT_ON_CASE"),
    "InvitationChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "InvitationExists": (400, "VALIDATION_FAILED"),
}
LISTED = ("enterprise_id", "officer_id")


class AppraisalRoutes:
    @api("GET", "/v1/appraisal/invitations",
         query=listing_query("InvitationQuery", contract.InvitationFilter, only=LISTED),
         returns=page_schema(contract.Invitation),
         summary="Invitations to rate the officers of closed cases, newest first")
    def list_invitations(self, request, grant):
        return self.appraisal.list_invitations(paging(request), filters(request, LISTED, grant))

    @api("GET", "/v1/appraisal/invitations/<invitation_id>", returns=contract.Invitation,
         summary="One invitation with the ratings it collected")
    def get_invitation(self, request, grant, invitation_id):
        return grant.record or self.appraisal.get_invitation(invitation_id)

    @api("POST", "/v1/appraisal/invitations/<invitation_id>/ratings", body=contract.RatingInput,
         returns=contract.Invitation,
         summary="Rate an officer who handled the case: once, before the invitation expires")
    def rate_officer(self, request, grant, invitation_id, body):
        return self.appraisal.rate(invitation_id, body, grant.actor)

    @api("GET", "/v1/appraisal/scores", query=contract.YearQuery, returns=contract.Appraisal,
         summary="A year's scores, intervals and the two lists, with the rules that made them")
    def appraisal_scores(self, request, grant):
        return self.appraisal.appraisal(request.args.to_dict())

    @api("GET", "/v1/appraisal/report", query=contract.YearQuery, html=True,
         summary="A year's appraisal report: the lists explained, funnel and caterpillar "
                 "plots, the officers with too little evidence (printable HTML)")
    def appraisal_report(self, request, grant):
        return self.appraisal.report(request.args.to_dict())
