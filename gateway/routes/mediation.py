"""Mediation's routes: disputes, their steps, referrals, letters, statistics and the grading
rules; and the error rows of its refusals, by type name."""
from contracts.api import mediation as contract
from kit.schemas import listing_query, page_schema

from ..api import api
from . import caller_request_key, filters, paging

ERRORS = {
    "DisputeNotFound": (404, "DISPUTE_NOT_FOUND"),
    "ReferralNotFound": (404, "REFERRAL_NOT_FOUND"),
    "LetterNotFound": (404, "LETTER_NOT_FOUND"),
    "CaseNotFound": (404, "CASE_NOT_FOUND"),
    "DisputeChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "DisputeClosed": (409, "DISPUTE_CLOSED"),
    "NotAllowed": (409, "STEP_NOT_ALLOWED"),
    "ConsentMissing": (409, "CONSENT_MISSING"),
    "DisputeExists": (400, "VALIDATION_FAILED"),
    "InvalidDispute": (400, "VALIDATION_FAILED"),
    "InvalidRules": (400, "VALIDATION_FAILED"),
}
LISTED = ("enterprise_id", "status", "grade", "tier")


class MediationRoutes:
    @api("POST", "/v1/disputes", status=201, body=contract.DisputeInput,
         returns=contract.Dispute,
         summary="Take a dispute in: graded for risk at once, started at the lowest tier that "
                 "fits")
    def register_dispute(self, request, grant, body):
        return self.mediation.register_dispute(body, grant.actor,
                                               caller_request_key(request, grant))

    @api("POST", "/v1/incidents/<incident_id>/dispute", status=201, body=contract.FromCaseInput,
         returns=contract.Dispute,
         summary="Turn an incident into a dispute (once: asking again gives the same one)")
    def dispute_from_incident(self, request, grant, incident_id, body):
        return self.mediation.dispute_from_case("incident", incident_id, body, grant.actor)

    @api("POST", "/v1/requests/<request_id>/dispute", status=201, body=contract.FromCaseInput,
         returns=contract.Dispute,
         summary="Turn an enterprise request into a dispute (once: asking again gives the "
                 "same one)")
    def dispute_from_request(self, request, grant, request_id, body):
        return self.mediation.dispute_from_case("request", request_id, body, grant.actor)

    @api("GET", "/v1/disputes",
         query=listing_query("DisputeQuery", contract.DisputeFilter, only=LISTED),
         returns=page_schema(contract.Dispute),
         summary="Disputes the caller may see, newest first (an agency: those referred to it)")
    def list_disputes(self, request, grant):
        return self.mediation.list_disputes(paging(request), filters(request, LISTED, grant))

    @api("GET", "/v1/disputes/<dispute_id>", returns=contract.Dispute, summary="One dispute")
    def get_dispute(self, request, grant, dispute_id):
        return grant.record or self.mediation.get_dispute(dispute_id)

    @api("GET", "/v1/disputes/<dispute_id>/letters/<letter_id>", html=True,
         summary="A risk warning letter to the township government, printable (HTML)")
    def warning_letter(self, request, grant, dispute_id, letter_id):
        return self.mediation.letter(dispute_id, letter_id)

    @api("POST", "/v1/disputes/<dispute_id>/letters/<letter_id>/sent",
         returns=contract.Dispute, summary="Record that the warning letter was sent")
    def letter_sent(self, request, grant, dispute_id, letter_id, body):
        return self.mediation.letter_sent(dispute_id, letter_id, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/grade", body=contract.RegradeInput,
         returns=contract.Dispute,
         summary="Report a change (amount, threats, weapons, self-harm): graded again")
    def regrade_dispute(self, request, grant, dispute_id, body):
        return self.mediation.regrade(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/escalations", body=contract.EscalationInput,
         returns=contract.Dispute, summary="Move the dispute up a tier, with the reason")
    def escalate_dispute(self, request, grant, dispute_id, body):
        return self.mediation.escalate(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/extensions", body=contract.ExtensionInput,
         returns=contract.Dispute,
         summary="Extend the deadline to settle, with every party's consent")
    def extend_dispute(self, request, grant, dispute_id, body):
        return self.mediation.extend(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/exclusion", body=contract.ExclusionInput,
         returns=contract.Dispute,
         summary="Refuse police mediation on a ground of the procedure rules; refer the case")
    def exclude_dispute(self, request, grant, dispute_id, body):
        return self.mediation.exclude(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/refusal", body=contract.RefusalInput,
         returns=contract.Dispute, summary="A party refuses mediation (Art. 17)")
    def refuse_dispute(self, request, grant, dispute_id, body):
        return self.mediation.refuse(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/sessions", body=contract.SessionInput,
         returns=contract.Dispute,
         summary="Record a mediation session or an analysis meeting")
    def record_session(self, request, grant, dispute_id, body):
        return self.mediation.record_session(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/agreement", body=contract.AgreementInput,
         returns=contract.Dispute,
         summary="Record the signed agreement: its terms are followed up")
    def record_agreement(self, request, grant, dispute_id, body):
        return self.mediation.agree(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/agreement/terms/<int:term>/performed",
         returns=contract.Dispute, summary="A term of the agreement was performed")
    def term_performed(self, request, grant, dispute_id, term, body):
        return self.mediation.term_performed(dispute_id, term, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/referrals", body=contract.ReferralInput,
         returns=contract.Dispute, summary="Refer the dispute to an agency of the panel")
    def refer_dispute(self, request, grant, dispute_id, body):
        return self.mediation.refer(dispute_id, body, grant.actor)

    @api("POST", "/v1/disputes/<dispute_id>/referrals/<referral_id>", body=contract.ReferralAction,
         returns=contract.Dispute,
         summary="The agency accepts, declines (with a reason) or reports done")
    def act_on_referral(self, request, grant, dispute_id, referral_id, body):
        return self.mediation.act_on_referral(dispute_id, referral_id, body, grant.sub)

    @api("GET", "/v1/dispute-statistics", query=contract.StatisticsQuery,
         returns=contract.Statistics,
         summary="The Weng'an table for a period and an area (county, station, park, grid)")
    def dispute_statistics(self, request, grant):
        return self.mediation.statistics(request.args.to_dict())

    @api("GET", "/v1/grading-rules", returns=contract.GradingRules,
         summary="The current version of the risk grading rules")
    def grading_rules(self, request, grant):
        return self.mediation.grading_rules()

    @api("PATCH", "/v1/grading-rules", body=contract.GradingRulesInput,
         returns=contract.GradingRules,
         summary="Revise the grading rules: a new version; grades made before keep theirs")
    def revise_grading_rules(self, request, grant, body):
        return self.mediation.revise_grading_rules(body)
