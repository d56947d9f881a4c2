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
    "OfficerNotRated": (404, "NOT_RATED"),
    "ListNotFound": (404, "LIST_NOT_FOUND"),
    "ListRefused": (409, "LIST_STEP_REFUSED"),
    "ListChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "ListExists": (409, "CHANGED_MEANWHILE"),
    "SpotCheckNotFound": (404, "SPOT_CHECK_NOT_FOUND"),
    "SpotCheckRefused": (409, "SURVEY_REFUSED"),
    "ChiefRatingRefused": (409, "CHIEF_RATING_REFUSED"),
    "ChiefRatingNotFound": (404, "CHIEF_RATING_NOT_FOUND"),
}
LISTED = ("enterprise_id", "officer_id")
CHIEF_LISTED = ("year", "officer_id")


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

    @api("GET", "/v1/appraisal/report", query=contract.ReportQuery,
         documents=("text/html", "application/pdf"),
         summary="A year's appraisal report: the lists explained, funnel and caterpillar "
                 "plots, the distributions, the officers with too little evidence (printable "
                 "HTML, or PDF with format=pdf)")
    def appraisal_report(self, request, grant):
        return self.appraisal.report(request.args.to_dict())

    @api("GET", "/v1/appraisal/officers/<officer_id>/score", query=contract.YearQuery,
         returns=contract.OfficerAppraisal,
         summary="One officer's year: its score and how it was reached, and its KPIs (its "
                 "own, for an officer)")
    def officer_score(self, request, grant, officer_id):
        return self.appraisal.officer_score(officer_id, request.args.to_dict())

    # --- the annual list ------------------------------------------------------------------

    @api("POST", "/v1/appraisal/lists", status=201, body=contract.YearQuery,
         returns=contract.AnnualList,
         summary="Draft the year's list of model and lagging chiefs (again while a draft)")
    def draft_list(self, request, grant, body):
        return self.appraisal.draft_list(body, grant.actor)

    @api("GET", "/v1/appraisal/lists/<year>", returns=contract.AnnualList,
         summary="The year's list, its review, publication and objections")
    def get_list(self, request, grant, year):
        return self.appraisal.get_list(year)

    @api("POST", "/v1/appraisal/lists/<year>/review", returns=contract.AnnualList,
         summary="Review the draft (a supervisor other than the one who drafted it)")
    def review_list(self, request, grant, year, body):
        return self.appraisal.review_list(year, grant.actor)

    @api("POST", "/v1/appraisal/lists/<year>/publication", returns=contract.AnnualList,
         summary="Publish the reviewed list (list.published)")
    def publish_list(self, request, grant, year, body):
        return self.appraisal.publish_list(year, grant.actor)

    @api("POST", "/v1/appraisal/lists/<year>/objections/<officer_id>",
         body=contract.ObjectionInput, returns=contract.AnnualList,
         summary="An officer named on the published list objects")
    def object_to_list(self, request, grant, year, officer_id, body):
        return self.appraisal.object_to_list(year, officer_id, body)

    @api("POST", "/v1/appraisal/lists/<year>/objections/<officer_id>/decision",
         body=contract.DecisionInput, returns=contract.AnnualList,
         summary="Uphold or dismiss an objection, with the reasons")
    def decide_objection(self, request, grant, year, officer_id, body):
        return self.appraisal.decide_objection(year, officer_id, body, grant.actor)

    # --- the three chiefs' ratings ---------------------------------------------------------

    @api("POST", "/v1/appraisal/chief-ratings", status=201, body=contract.ChiefRatingInput,
         returns=contract.ChiefRating,
         summary="One of the three chiefs (bureau leader, station leader, area chief) rates a "
                 "liaison officer for a quarter on each criterion (once per seat)")
    def rate_as_chief(self, request, grant, body):
        return self.appraisal.rate_as_chief(body, grant.actor)

    @api("GET", "/v1/appraisal/chief-ratings",
         query=listing_query("ChiefRatingQuery", contract.ChiefRatingFilter,
                             only=CHIEF_LISTED),
         returns=page_schema(contract.ChiefRating),
         summary="The three chiefs' ratings, by year and officer")
    def list_chief_ratings(self, request, grant):
        return self.appraisal.list_chief_ratings(paging(request),
                                                 filters(request, CHIEF_LISTED, grant))

    # --- spot checks -------------------------------------------------------------------------

    @api("POST", "/v1/appraisal/spot-checks", status=201, body=contract.SpotCheckInput,
         returns=contract.SpotCheck,
         summary="Draw a quarter's satisfaction spot check: a seeded sample of each officer's "
                 "closed cases (drawn once)")
    def draw_spot_check(self, request, grant, body):
        return self.appraisal.draw_spot_check(body, grant.actor)

    @api("GET", "/v1/appraisal/spot-checks/<check_id>", returns=contract.SpotCheck,
         summary="A quarter's spot check and its survey results")
    def get_spot_check(self, request, grant, check_id):
        return self.appraisal.get_spot_check(check_id)

    @api("POST", "/v1/appraisal/spot-checks/<check_id>/surveys", body=contract.SurveyInput,
         returns=contract.SpotCheck,
         summary="Record what a sampled case's survey found")
    def record_survey(self, request, grant, check_id, body):
        return self.appraisal.record_survey(check_id, body, grant.actor)
