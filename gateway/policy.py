"""Who may do what: one table, operation x role -> scope, used by every route.

Every route of the gateway has a rule here, named after the route (its OpenAPI operationId);
the gateway refuses to start with a route that has none. A role missing from a rule may not
call the operation at all (403 before anything is read). A role present is limited to its
scope, checked against the operation's target before the service is called, or turned into
the listing's filter. What the role then sees of the answer is its view (gateway.views).

Scopes:
- all: every record.
- own: the caller's own enterprise (enterprise tokens carry enterprise_id).
- seat: enterprises the officer holds a seat on now (A, B or one of the three chiefs).
- self: the officer itself.
- case: read a case (incident or request) of a seat enterprise, or one that names the officer
  (an incident it was paged on, a request routed to it).
- paged: acknowledge a page: an incident the officer was paged on.
- on_case: act on an incident: paged on it, or one of its enterprise's three chiefs (who may
  call departments and move the case at once, before the ladder reaches them).
- department: report a called department in: an officer of that department.
- routed: a request routed to the officer, or of an enterprise it is A or B of.
- referral: an agency's referrals: disputes referred to it (the token's `sub` names the
  agency); it sees a dispute's parties only while it holds an accepted referral of it.
- subscriber: an agency's own subscription to the platform's events (the token's `sub` names
  the agency): read it, its AsyncAPI document and its deliveries, and ask for a replay.
"""
from dataclasses import dataclass, field

from . import views
from .auth import Forbidden

ALL, OWN, SEAT, SELF = "all", "own", "seat", "self"
CASE, PAGED, ON_CASE = "case", "paged", "on_case"
DEPARTMENT, ROUTED, REFERRAL = "department", "routed", "referral"
SUBSCRIBER = "subscriber"
SCOPES = (ALL, OWN, SEAT, SELF, CASE, PAGED, ON_CASE, DEPARTMENT, ROUTED, REFERRAL, SUBSCRIBER)
CHIEF_SEATS = ("bureau_leader", "station_leader", "area_chief")
FIRST_SEATS = ("a_officer", "b_officer")

MANAGE = {"admin": ALL, "supervisor": ALL}


@dataclass(frozen=True)
class Rule:
    """`scopes`: role -> scope (a role absent may not call the operation). `target`: what a
    scope is checked against (path `enterprise_id`, the body's `enterprise_id`, the path's
    incident, request, officer or department); `listing`: the kind of list a scope filters;
    `views`: role -> the schema its answer is projected through."""
    scopes: dict
    target: str | None = None
    listing: str | None = None
    views: dict = field(default_factory=dict)
    public: bool = False

    def __post_init__(self):
        unknown = set(self.scopes.values()) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}")


PUBLIC = Rule({}, public=True)
# Disputes: the enterprise its own, an officer those of its seats, a mediator all; handling
# one (grading, tiers, sessions, agreement, referrals) is for the officers and mediators.
MEDIATE = dict(MANAGE, officer=SEAT, mediator=ALL, enterprise=OWN)
HANDLE_DISPUTE = dict(MANAGE, officer=SEAT, mediator=ALL)
EVERYONE = {"admin": ALL, "supervisor": ALL, "officer": ALL, "mediator": ALL, "enterprise": ALL,
            "agency": ALL}
ENTERPRISE_READERS = dict(MANAGE, officer=SEAT, enterprise=OWN)
# Field work: guards and hazards belong to an enterprise; patrols and outreach to the bureau.
FIELD_WORK = dict(MANAGE, officer=SEAT, enterprise=OWN)
PATROLLERS = dict(MANAGE, officer=ALL)
PLACE_VIEWS = {"agency": {"stations": views.AgencyStation, "parks": views.AgencyPark,
                          "grids": views.AgencyGrid}}

RULES = {
    "readyz": PUBLIC,
    "openapi_document": PUBLIC,
    # stations, parks, grids: organisational data, readable by all
    "create_place": Rule(MANAGE),
    "list_places": Rule(EVERYONE, views=PLACE_VIEWS),
    "get_place": Rule(EVERYONE, views=PLACE_VIEWS),
    "update_place": Rule(MANAGE),
    # enterprises
    "register_enterprise": Rule(MANAGE),
    "list_enterprises": Rule(dict(ENTERPRISE_READERS, mediator=ALL, agency=ALL),
                             listing="enterprises",
                             views={"agency": views.AgencyEnterprise}),
    "get_enterprise": Rule(dict(ENTERPRISE_READERS, mediator=ALL, agency=ALL),
                           target="enterprise",
                           views={"agency": views.AgencyEnterprise}),
    "update_enterprise": Rule(MANAGE),
    "enterprise_file": Rule(ENTERPRISE_READERS, target="enterprise"),
    "get_assignments": Rule(ENTERPRISE_READERS, target="enterprise"),
    "assign": Rule(MANAGE),
    "responders": Rule(dict(ENTERPRISE_READERS, agency=ALL), target="enterprise",
                       views={"agency": views.AgencyResponders}),
    "coverage": Rule(MANAGE),
    # officers: an officer sees colleagues' phones only (see views.ColleagueOfficer)
    "register_officer": Rule(MANAGE),
    "list_officers": Rule(dict(MANAGE, officer=ALL), views={"officer": views.ColleagueOfficer}),
    "get_officer": Rule(dict(MANAGE, officer=ALL), views={"officer": views.ColleagueOfficer}),
    "update_officer": Rule(MANAGE),
    "change_availability": Rule(dict(MANAGE, officer=SELF), target="officer"),
    "import_csv": Rule(MANAGE),
    # incidents
    "report_incident": Rule(dict(MANAGE, officer=SEAT, enterprise=OWN),
                            target="body_enterprise"),
    "list_incidents": Rule(dict(MANAGE, officer=CASE, enterprise=OWN, agency=ALL),
                           listing="incidents", views={"agency": views.AgencyIncident}),
    "get_incident": Rule(dict(MANAGE, officer=CASE, enterprise=OWN, agency=ALL),
                         target="incident", views={"agency": views.AgencyIncident}),
    "acknowledge_incident": Rule({"officer": PAGED}, target="incident"),
    "move_incident": Rule(dict(MANAGE, officer=ON_CASE, enterprise=OWN), target="incident"),
    "call_departments": Rule(dict(MANAGE, officer=ON_CASE), target="incident"),
    "department_acknowledges": Rule(dict(MANAGE, officer=DEPARTMENT), target="department"),
    # enterprise requests
    "service_catalogue": Rule(EVERYONE),
    "submit_request": Rule(dict(MANAGE, officer=SEAT, enterprise=OWN), target="body_enterprise"),
    "list_requests": Rule(dict(MANAGE, officer=CASE, enterprise=OWN, agency=ALL),
                          listing="requests", views={"agency": views.AgencyServiceRequest}),
    "get_request": Rule(dict(MANAGE, officer=CASE, enterprise=OWN, agency=ALL),
                        target="request", views={"agency": views.AgencyServiceRequest}),
    "request_step": Rule(dict(MANAGE, officer=ROUTED, enterprise=OWN), target="request"),
    # visits
    "plan_visit": Rule({"officer": SEAT}, target="body_enterprise"),
    "enterprise_visits": Rule(ENTERPRISE_READERS, target="enterprise"),
    "visit_cadence": Rule(MANAGE),
    # disputes: parties and free text, so an agency only through its referrals
    "register_dispute": Rule(MEDIATE, target="body_enterprise"),
    "dispute_from_incident": Rule(dict(MANAGE, officer=CASE), target="incident"),
    "dispute_from_request": Rule(dict(MANAGE, officer=CASE), target="request"),
    "list_disputes": Rule(dict(MEDIATE, agency=REFERRAL), listing="disputes",
                          views={"agency": views.AgencyDispute}),
    "get_dispute": Rule(dict(MEDIATE, agency=REFERRAL), target="dispute",
                        views={"agency": views.AgencyDispute}),
    "warning_letter": Rule(HANDLE_DISPUTE, target="dispute"),
    "letter_sent": Rule(HANDLE_DISPUTE, target="dispute"),
    "regrade_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "escalate_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "extend_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "exclude_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "refuse_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "record_session": Rule(HANDLE_DISPUTE, target="dispute"),
    "record_agreement": Rule(HANDLE_DISPUTE, target="dispute"),
    "term_performed": Rule(HANDLE_DISPUTE, target="dispute"),
    "refer_dispute": Rule(HANDLE_DISPUTE, target="dispute"),
    "act_on_referral": Rule({"agency": REFERRAL}, target="dispute",
                            views={"agency": views.AgencyDispute}),
    "dispute_statistics": Rule(dict(MANAGE, mediator=ALL)),
    "grading_rules": Rule(dict(MANAGE, mediator=ALL)),
    "revise_grading_rules": Rule(MANAGE),
    # appraisal: an enterprise rates on its own invitations; scores are the bureau's
    "list_invitations": Rule(dict(MANAGE, enterprise=OWN), listing="invitations"),
    "get_invitation": Rule(dict(MANAGE, enterprise=OWN), target="invitation"),
    "rate_officer": Rule({"enterprise": OWN}, target="invitation"),
    "appraisal_scores": Rule(MANAGE),
    "appraisal_report": Rule(MANAGE),
    "officer_score": Rule(dict(MANAGE, officer=SELF), target="officer"),
    "draft_list": Rule(MANAGE),
    "get_list": Rule(MANAGE),
    "review_list": Rule(MANAGE),
    "publish_list": Rule(MANAGE),
    "object_to_list": Rule({"officer": SELF}, target="officer"),
    "decide_objection": Rule(MANAGE),
    "draw_spot_check": Rule(MANAGE),
    "get_spot_check": Rule(MANAGE),
    "record_survey": Rule(MANAGE),
    "rate_as_chief": Rule({"supervisor": ALL}),
    "list_chief_ratings": Rule(MANAGE),
    # agencies' subscriptions: who receives what of the platform's events, and their broker
    # users, are the administrator's; an agency reads its own and asks for its replay
    **{operation: Rule({"admin": ALL}) for operation in (
        "create_subscription", "list_subscriptions", "delete_subscription")},
    **{operation: Rule({"admin": ALL, "agency": SUBSCRIBER}, target="subscription")
       for operation in ("get_subscription", "replay_subscription", "list_deliveries",
                         "subscription_asyncapi")},
    # field work: an enterprise its own guards and hazards (it reports hazards and their
    # rectification itself), an officer those of its seats; patrols and outreach are the
    # bureau's records; the work report's aggregate figures are also an agency's, without
    # the coverage rows that name officers, and the printable report is the bureau's
    "register_guard": Rule(FIELD_WORK, target="body_enterprise"),
    "list_guards": Rule(FIELD_WORK, listing="guards"),
    "get_guard": Rule(FIELD_WORK, target="guard"),
    "record_patrol": Rule(PATROLLERS),
    "list_patrols": Rule(PATROLLERS),
    "get_patrol": Rule(PATROLLERS),
    "report_hazard": Rule(FIELD_WORK, target="body_enterprise"),
    "list_hazards": Rule(FIELD_WORK, listing="hazards"),
    "get_hazard": Rule(FIELD_WORK, target="hazard"),
    "report_rectified": Rule(FIELD_WORK, target="hazard"),
    "verify_hazard": Rule(dict(MANAGE, officer=SEAT), target="hazard"),
    "record_outreach": Rule(PATROLLERS),
    "list_outreach": Rule(PATROLLERS),
    "work_report": Rule(dict(MANAGE, agency=ALL), views={"agency": views.AgencyWorkReport}),
    "work_report_document": Rule(MANAGE),
}


def rule_for(operation):
    try:
        return RULES[operation]
    except KeyError:
        raise RuntimeError(f"route {operation} has no rule in gateway.policy.RULES") from None


@dataclass
class Grant:
    """What the policy allowed one call: who acts, the record it was checked against
    (`record`, when the check had to read it), the filter a listing must apply, the capacity
    an officer acts in, and the view its answer goes out through."""
    principal: object
    record: dict | None = None
    filters: dict = field(default_factory=dict)
    capacity: str | None = None
    view: object = None
    colleagues: frozenset = frozenset()

    def __getattr__(self, name):  # role, sub, enterprise_id, officer_id, identity
        return getattr(self.principal, name)

    @property
    def actor(self):
        """Who acts, as dispatch records it."""
        return {"role": self.principal.role,
                "id": self.principal.officer_id or self.principal.enterprise_id
                or self.principal.sub,
                "enterprise_id": self.principal.enterprise_id, "capacity": self.capacity}

    def project(self, answer, kind=None):
        """The answer as this caller may see it: through its view, item by item for a page
        or a list."""
        view = self.view.get(kind) if isinstance(self.view, dict) else self.view
        if view is None or answer is None:
            return answer
        if isinstance(answer, list):
            return [self._one(view, item) for item in answer]
        if isinstance(answer, dict) and "items" in answer and "total" in answer:
            return dict(answer, items=[self._one(view, item) for item in answer["items"]])
        return self._one(view, answer)

    def _one(self, view, item):
        if view is views.AgencyDispute and any(
                r.get("agency") == self.principal.sub and r.get("state") == "accepted"
                for r in item.get("referrals") or ()):
            view = views.ReferredDispute  # the purpose: an accepted referral
        if view is views.ColleagueOfficer and item.get("id") not in (
                self.colleagues | {self.principal.officer_id}):
            item = dict(item, phone=None, absences=[dict(a, note="")
                                                    for a in item.get("absences") or ()])
        return views.allow(view, item)


class Gate:
    """Decides one call by the table, asking the services what it must know (an officer's
    seats, departments and colleagues; the incident, request or dispute acted on). Made
    afresh for each call: it keeps what it read for that call only."""

    def __init__(self, registry, dispatch, mediation=None, appraisal=None, feeds=None,
                 fieldwork=None):
        self.registry = registry
        self.dispatch = dispatch
        self.mediation = mediation
        self.appraisal = appraisal
        self.feeds = feeds
        self.fieldwork = fieldwork
        self._reach = None
        self._record = None

    def authorize(self, operation, principal, values):
        rule = rule_for(operation)
        if rule.public:
            return Grant(principal)
        scope = rule.scopes.get(principal.role)
        if scope is None:
            raise Forbidden(f"the {principal.role} role may not do this")
        grant = Grant(principal, view=rule.views.get(principal.role))
        if scope != ALL:
            getattr(self, f"_{scope}")(grant, rule, values)
        if grant.view is views.ColleagueOfficer:
            grant.colleagues = frozenset(self.reach(principal)["colleagues"])
        grant.record = self._record
        return grant

    # --- facts ----------------------------------------------------------------------------

    def reach(self, principal):
        """The officer's seats, departments and colleagues now, asked once per call."""
        if self._reach is None:
            self._reach = self.registry.officer_reach(principal.officer_id)
        return self._reach

    def record(self, rule, values):
        """The incident, request, dispute, invitation, subscription, guard or hazard the
        operation targets, read once per call."""
        if self._record is None:
            read = {"incident": lambda: self.dispatch.get_incident(values["incident_id"]),
                    "request": lambda: self.dispatch.get_request(values["request_id"]),
                    "dispute": lambda: self.mediation.get_dispute(values["dispute_id"]),
                    "invitation": lambda: self.appraisal.get_invitation(
                        values["invitation_id"]),
                    "subscription": lambda: self.feeds.get_subscription(
                        values["subscription_id"]),
                    "guard": lambda: self.fieldwork.get_guard(values["guard_id"]),
                    "hazard": lambda: self.fieldwork.get_hazard(values["hazard_id"])}
            self._record = read[rule.target]()
        return self._record

    def _target_enterprise(self, rule, values):
        if rule.target == "enterprise":
            return values["enterprise_id"]
        if rule.target == "body_enterprise":
            body = values.get("body")
            wanted = body.get("enterprise_id") if isinstance(body, dict) else None
            return wanted if isinstance(wanted, str) and wanted else None
        return self.record(rule, values)["enterprise_id"]

    # --- scopes ---------------------------------------------------------------------------

    def _own(self, grant, rule, values):
        own = grant.principal.enterprise_id
        if rule.listing == "enterprises":
            grant.filters = {"ids": [own]}
        elif rule.listing:
            grant.filters = {"enterprise_id": own}
        elif rule.target == "body_enterprise":
            body = values.get("body")
            if isinstance(body, dict) and body.setdefault("enterprise_id", own) != own:
                raise Forbidden("an enterprise acts for itself only")
        elif self._target_enterprise(rule, values) != own:
            raise Forbidden(f"no access to this {rule.target}: it is another enterprise's")

    def _seat(self, grant, rule, values):
        seats = self.reach(grant.principal)["seats"]
        if rule.listing == "enterprises":
            grant.filters = {"ids": sorted(seats)}
            return
        if rule.listing:
            grant.filters = {"enterprise_ids": sorted(seats)}
            return
        wanted = self._target_enterprise(rule, values)
        if wanted is None and rule.target == "body_enterprise":
            return  # no enterprise named: the service refuses the input, naming the field
        if wanted not in seats:
            raise Forbidden(f"no access to enterprise {wanted}: you hold no seat on it")

    def _subscriber(self, grant, rule, values):
        if self.record(rule, values)["agency"] != grant.principal.sub:
            raise Forbidden("an agency reaches its own subscription only")

    def _self(self, grant, rule, values):
        if values.get("officer_id") != grant.principal.officer_id:
            raise Forbidden("an officer acts for itself only: its own availability, score "
                            "and objections")

    def _case(self, grant, rule, values):
        """Read a case: of an enterprise the officer holds a seat on, or that names it (an
        incident it was paged on, a request routed to it)."""
        me = grant.principal.officer_id
        seats = self.reach(grant.principal)["seats"]
        if rule.listing:
            grant.filters = {"reach": {"enterprise_ids": sorted(seats), "officer_id": me}}
            return
        case = self.record(rule, values)
        if case["enterprise_id"] not in seats and me not in _named(case):
            raise Forbidden(f"no access to this {rule.target}: not of your enterprises and "
                            "not addressed to you")

    def _paged(self, grant, rule, values):
        if grant.principal.officer_id not in _named(self.record(rule, values)):
            raise Forbidden(f"you were not paged on incident {values['incident_id']}")

    def _held(self, grant, case):
        """The seats the officer holds on the case's enterprise."""
        return set(self.reach(grant.principal)["seats"].get(case["enterprise_id"], ()))

    def _on_case(self, grant, rule, values):
        incident = self.record(rule, values)
        if grant.principal.officer_id in _named(incident):
            return
        if self._held(grant, incident) & set(CHIEF_SEATS):
            grant.capacity = "chief"
            return
        raise Forbidden(f"you were not paged on incident {values['incident_id']} and are not "
                        "one of its enterprise's three chiefs")

    def _department(self, grant, rule, values):
        if values.get("department") not in self.reach(grant.principal)["departments"]:
            raise Forbidden(f"only an officer of {values.get('department')} reports it in")

    def _routed(self, grant, rule, values):
        request = self.record(rule, values)
        if grant.principal.officer_id in _named(request):
            return
        if self._held(grant, request) & set(FIRST_SEATS):
            return
        raise Forbidden(f"request {values['request_id']} is not routed to you and you are not "
                        "its enterprise's A or B officer")


    def _referral(self, grant, rule, values):
        """An agency: the disputes referred to it (whatever the referral's state)."""
        agency = grant.principal.sub
        if rule.listing:
            grant.filters = {"agency": agency}
            return
        dispute = self.record(rule, values)
        if not any(r["agency"] == agency for r in dispute.get("referrals") or ()):
            raise Forbidden(f"dispute {values['dispute_id']} is not referred to {agency}")


def _named(case):
    """The officers a case names: paged on an incident, or the one a request is routed to."""
    if "notifications" in case:
        return {n["recipient"]["id"] for n in case["notifications"]
                if n["recipient"]["kind"] == "officer"}
    routed = case.get("routed_to") or {}
    return {routed.get("target")} if routed.get("kind") == "officer" else set()


def table():
    """The policy as a Markdown table (README's copy is checked against it by a test)."""
    from .auth import ROLES

    lines = ["| operation | " + " | ".join(ROLES) + " |",
             "|---|" + "---|" * len(ROLES)]
    for operation, rule in RULES.items():
        if rule.public:
            cells = ["public"] * len(ROLES)
        else:
            cells = [rule.scopes.get(role, "-") + (" (view)" if role in rule.views else "")
                     for role in ROLES]
        lines.append(f"| `{operation}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
