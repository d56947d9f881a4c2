"""The registry's routes: places, enterprises, officers, assignments and bulk import; and the
error rows of its refusals, by type name."""
from contracts.api import registry as contract
from kit.schemas import PageQuery, listing_query, page_schema, query_schema

from ..api import api
from . import filters, paging

ERRORS = {
    "StationNotFound": (404, "STATION_NOT_FOUND"),
    "ParkNotFound": (404, "PARK_NOT_FOUND"),
    "GridNotFound": (404, "GRID_NOT_FOUND"),
    "EnterpriseNotFound": (404, "ENTERPRISE_NOT_FOUND"),
    "OfficerNotFound": (404, "OFFICER_NOT_FOUND"),
    "DuplicateCreditCode": (409, "DUPLICATE_CREDIT_CODE"),
    "DuplicateBadgeNumber": (409, "DUPLICATE_BADGE_NUMBER"),
    "DuplicateGridCode": (409, "DUPLICATE_GRID_CODE"),
    "AssignmentChangedMeanwhile": (409, "ASSIGNMENT_CHANGED_MEANWHILE"),
    "InvalidEnterprise": (400, "VALIDATION_FAILED"),
    "InvalidAssignment": (400, "VALIDATION_FAILED"),
    "InvalidPlace": (400, "VALIDATION_FAILED"),
    "InvalidAvailability": (400, "VALIDATION_FAILED"),
    "InvalidImport": (400, "VALIDATION_FAILED"),
}

PLACES = "<any(stations, parks, grids):kind>"
PLACE_KIND = {"stations": "station", "parks": "park", "grids": "grid"}
PLACE_INPUTS = (contract.StationInput, contract.ParkInput, contract.GridInput)
PLACE_OUTPUTS = (contract.Station, contract.Park, contract.Grid)


class RegistryRoutes:
    # --- stations, parks, grids ------------------------------------------------------------

    @api("POST", f"/v1/{PLACES}", status=201, body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Create a station, park or grid")
    def create_place(self, request, grant, kind, body):
        return self.enterprise.create_place(PLACE_KIND[kind], body)

    @api("GET", f"/v1/{PLACES}", query=PageQuery,
         returns=tuple(page_schema(s) for s in PLACE_OUTPUTS),
         summary="List stations, parks or grids")
    def list_places(self, request, grant, kind):
        return self.enterprise.list_places(PLACE_KIND[kind], paging(request))

    @api("GET", f"/v1/{PLACES}/<place_id>", returns=PLACE_OUTPUTS,
         summary="One station, park or grid")
    def get_place(self, request, grant, kind, place_id):
        return self.enterprise.get_place(PLACE_KIND[kind], place_id)

    @api("PATCH", f"/v1/{PLACES}/<place_id>", body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Change a station, park or grid")
    def update_place(self, request, grant, kind, place_id, body):
        return self.enterprise.update_place(PLACE_KIND[kind], place_id, body)

    # --- enterprises ---------------------------------------------------------------------------

    @api("POST", "/v1/enterprises", status=201, body=contract.EnterpriseInput,
         returns=contract.Enterprise, summary="Register an enterprise or project")
    def register_enterprise(self, request, grant, body):
        return self.enterprise.register_enterprise(body)

    @api("GET", "/v1/enterprises",
         query=listing_query("EnterpriseQuery", contract.EnterpriseFilter,
                             only=("station_id", "grid_id", "level", "kind")),
         returns=page_schema(contract.Enterprise),
         summary="Enterprises the caller may see (filters: station_id, grid_id, level, kind)")
    def list_enterprises(self, request, grant):
        return self.enterprise.list_enterprises(
            paging(request), filters(request, ("station_id", "grid_id", "level", "kind"), grant))

    @api("GET", "/v1/enterprises/<enterprise_id>", returns=contract.Enterprise,
         summary="One enterprise")
    def get_enterprise(self, request, grant, enterprise_id):
        return self.enterprise.get_enterprise(enterprise_id)

    @api("PATCH", "/v1/enterprises/<enterprise_id>", body=contract.EnterpriseInput,
         returns=contract.Enterprise,
         summary="Change an enterprise (only the fields sent)")
    def update_enterprise(self, request, grant, enterprise_id, body):
        return self.enterprise.update_enterprise(enterprise_id, body)

    @api("GET", "/v1/enterprises/<enterprise_id>/file", returns=contract.EnterpriseFile,
         summary="The enterprise's file: profile, assignments, timeline")
    def enterprise_file(self, request, grant, enterprise_id):
        return self.enterprise.enterprise_file(enterprise_id)

    @api("GET", "/v1/enterprises/<enterprise_id>/assignments", returns=contract.Assignments,
         summary="Current assignment and who held which seat")
    def get_assignments(self, request, grant, enterprise_id):
        return self.enterprise.get_assignments(enterprise_id)

    @api("POST", "/v1/enterprises/<enterprise_id>/assignments", status=201,
         body=contract.AssignmentInput, returns=contract.Assignments,
         summary="Change who is responsible for the enterprise (a new version)")
    def assign(self, request, grant, enterprise_id, body):
        return self.enterprise.assign(enterprise_id, body, grant.sub)

    @api("GET", "/v1/enterprises/<enterprise_id>/responders", query=contract.ResponderQuery,
         returns=contract.Responders,
         summary="Who responds for the enterprise at time `at` (default now)")
    def responders(self, request, grant, enterprise_id):
        return self.enterprise.responders(enterprise_id, request.args.get("at"))

    @api("GET", "/v1/coverage", query=contract.ResponderQuery,
         returns=contract.Coverage, summary="Enterprises with gaps in their cover")
    def coverage(self, request, grant):
        return self.enterprise.coverage(request.args.get("at"))

    # --- officers -------------------------------------------------------------------------------

    @api("POST", "/v1/officers", status=201, body=contract.OfficerInput,
         returns=contract.Officer, summary="Register an officer")
    def register_officer(self, request, grant, body):
        return self.enterprise.register_officer(body)

    @api("GET", "/v1/officers",
         query=listing_query("OfficerQuery", contract.OfficerFilter,
                             only=("station_id", "role")),
         returns=page_schema(contract.Officer), summary="Officers (filters: station_id, role)")
    def list_officers(self, request, grant):
        filters = {k: request.args[k] for k in ("station_id", "role") if k in request.args}
        return self.enterprise.list_officers(paging(request), filters)

    @api("GET", "/v1/officers/<officer_id>", returns=contract.Officer, summary="One officer")
    def get_officer(self, request, grant, officer_id):
        return self.enterprise.get_officer(officer_id)

    @api("PATCH", "/v1/officers/<officer_id>", body=contract.OfficerInput,
         returns=contract.Officer, summary="Change an officer (only the fields sent)")
    def update_officer(self, request, grant, officer_id, body):
        return self.enterprise.update_officer(officer_id, body)

    @api("POST", "/v1/officers/<officer_id>/availability", body=contract.AvailabilityInput,
         returns=contract.Officer,
         summary="Put an officer on leave, off duty, or back on duty")
    def change_availability(self, request, grant, officer_id, body):
        return self.enterprise.change_availability(officer_id, body)

    # --- bulk import ------------------------------------------------------------------------

    @api("POST", "/v1/imports/<any(enterprises, officers, assignments):kind>", csv_body=True,
         query=query_schema("ImportQuery", contract.ImportInput, only=("mode",)),
         returns=contract.ImportReport,
         summary="Import CSV rows; ?mode=all_or_nothing (default) or good_rows")
    def import_csv(self, request, grant, kind, body):
        command = {"kind": kind, "text": body,
                   "mode": request.args.get("mode", "all_or_nothing")}
        return self.enterprise.import_csv(command, grant.sub)
