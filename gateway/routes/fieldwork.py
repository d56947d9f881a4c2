"""Field work's routes: the joint patrol team's guards, patrols, hazards and their orders,
outreach, and the bureau's work report; and the error rows of its refusals, by type name."""
from contracts.api import fieldwork as contract
from contracts.api import work_report as report_contract
from kit.schemas import listing_query, page_schema

from ..api import api
from . import caller_request_key, filters, paging

ERRORS = {
    "GuardNotFound": (404, "GUARD_NOT_FOUND"),
    "PatrolNotFound": (404, "PATROL_NOT_FOUND"),
    "HazardNotFound": (404, "HAZARD_NOT_FOUND"),
    "OutreachNotFound": (404, "OUTREACH_NOT_FOUND"),
    "HazardStepRefused": (409, "HAZARD_STEP_REFUSED"),
    "RecordChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "RecordExists": (400, "VALIDATION_FAILED"),
    "InvalidFieldWork": (400, "VALIDATION_FAILED"),
}
GUARDS_LISTED = ("enterprise_id",)
PATROLS_LISTED = ("kind", "station_id", "area_id", "officer_id")
HAZARDS_LISTED = ("enterprise_id", "status", "severity")
OUTREACH_LISTED = ("kind", "station_id")


class FieldworkRoutes:
    # --- the joint patrol team ---------------------------------------------------------------

    @api("POST", "/v1/guards", status=201, body=contract.GuardInput, returns=contract.Guard,
         summary="Put an enterprise's security guard on the joint patrol team")
    def register_guard(self, request, grant, body):
        return self.fieldwork.register_guard(body, grant.actor,
                                             caller_request_key(request, grant))

    @api("GET", "/v1/guards",
         query=listing_query("GuardQuery", contract.GuardFilter, only=GUARDS_LISTED),
         returns=page_schema(contract.Guard), summary="Guards on the joint patrol team")
    def list_guards(self, request, grant):
        return self.fieldwork.list_guards(paging(request),
                                          filters(request, GUARDS_LISTED, grant))

    @api("GET", "/v1/guards/<guard_id>", returns=contract.Guard,
         summary="One guard with its trainings")
    def get_guard(self, request, grant, guard_id):
        return grant.record or self.fieldwork.get_guard(guard_id)

    # --- patrols --------------------------------------------------------------------------------

    @api("POST", "/v1/patrols", status=201, body=contract.PatrolInput, returns=contract.Patrol,
         summary="Record a joint patrol with its findings: each hazard gets its rectification "
                 "order, each incident finding is raised to dispatch")
    def record_patrol(self, request, grant, body):
        return self.fieldwork.record_patrol(body, grant.actor, caller_request_key(request, grant))

    @api("GET", "/v1/patrols",
         query=listing_query("PatrolQuery", contract.PatrolFilter, only=PATROLS_LISTED),
         returns=page_schema(contract.Patrol), summary="Patrols, newest first")
    def list_patrols(self, request, grant):
        return self.fieldwork.list_patrols(paging(request),
                                           filters(request, PATROLS_LISTED, grant))

    @api("GET", "/v1/patrols/<patrol_id>", returns=contract.Patrol, summary="One patrol")
    def get_patrol(self, request, grant, patrol_id):
        return self.fieldwork.get_patrol(patrol_id)

    # --- hazards --------------------------------------------------------------------------------

    @api("POST", "/v1/hazards", status=201, body=contract.HazardInput, returns=contract.Hazard,
         summary="Report a hazard found on a visit or by the enterprise itself: rectified on "
                 "the spot, or ordered rectified by a deadline set by its severity")
    def report_hazard(self, request, grant, body):
        return self.fieldwork.report_hazard(body, grant.actor, caller_request_key(request, grant))

    @api("GET", "/v1/hazards",
         query=listing_query("HazardQuery", contract.HazardFilter, only=HAZARDS_LISTED),
         returns=page_schema(contract.Hazard),
         summary="Hazards the caller may see, newest first (an enterprise: its own)")
    def list_hazards(self, request, grant):
        return self.fieldwork.list_hazards(paging(request),
                                           filters(request, HAZARDS_LISTED, grant))

    @api("GET", "/v1/hazards/<hazard_id>", returns=contract.Hazard,
         summary="One hazard with its order and its verification visit")
    def get_hazard(self, request, grant, hazard_id):
        return grant.record or self.fieldwork.get_hazard(hazard_id)

    @api("POST", "/v1/hazards/<hazard_id>/rectification", returns=contract.Hazard,
         summary="Report the hazard rectified: its verification closes it")
    def report_rectified(self, request, grant, hazard_id, body):
        return self.fieldwork.report_rectified(hazard_id, grant.actor)

    @api("POST", "/v1/hazards/<hazard_id>/verification", body=contract.VerificationInput,
         returns=contract.Hazard,
         summary="Record the verification check: passed closes the hazard (on time or late)")
    def verify_hazard(self, request, grant, hazard_id, body):
        return self.fieldwork.verify_hazard(hazard_id, body, grant.actor)

    # --- outreach -------------------------------------------------------------------------------

    @api("POST", "/v1/outreach", status=201, body=contract.OutreachInput,
         returns=contract.Outreach,
         summary="Record a legal-awareness session, a training (guards' too) or publicity")
    def record_outreach(self, request, grant, body):
        return self.fieldwork.record_outreach(body, grant.actor,
                                              caller_request_key(request, grant))

    @api("GET", "/v1/outreach",
         query=listing_query("OutreachQuery", contract.OutreachFilter, only=OUTREACH_LISTED),
         returns=page_schema(contract.Outreach), summary="Outreach, newest first")
    def list_outreach(self, request, grant):
        return self.fieldwork.list_outreach(paging(request),
                                            filters(request, OUTREACH_LISTED, grant))

    # --- the work report ------------------------------------------------------------------------

    @api("GET", "/v1/work-report", query=report_contract.ReportQuery,
         returns=report_contract.WorkReport,
         summary="The bureau's work report for an area and a period: field work, mediation, "
                 "services handled, incidents year on year, coverage")
    def work_report(self, request, grant):
        return self.fieldwork.work_report(request.args.to_dict())

    @api("GET", "/v1/work-report/document", query=report_contract.ReportDocumentQuery,
         documents=("text/html", "application/pdf"),
         summary="The work report, printable: HTML (the default) or PDF with format=pdf, "
                 "labelled in Chinese (lang=zh) or English (lang=en)")
    def work_report_document(self, request, grant):
        return self.fieldwork.work_report_document(request.args.to_dict())
