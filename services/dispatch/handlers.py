"""Dispatch's use cases: plain functions over the domain and the repository they are given.

Every change goes through its collection's `change` (kit.collection): computed from the
stored version, written only if that version is still current, recomputed from the new state
when another change won the race, which may make it a no-op (a deadline acknowledged
meanwhile) or a refusal (an acknowledgement that came too late). The events a change records
are written with it; the handlers never build an event.
"""
import uuid
from datetime import timedelta

from contracts.identities import external_incident_id
from kit.errors import ValidationFailed, raised_as

from .domain import Incident, Recipient, ladder_from_responders
from .exceptions import InvalidRequest, IncidentNotFound
from .service_requests import Routing, ServiceRequest, default_routing
from .visits import Visit, VisitBook, cadence_compliance, verifying_officer
CLIENT_IDS = uuid.UUID("0c9a4d52-31e6-4b8e-8f0d-7a2b5e61c3f4")


# --- intake ----------------------------------------------------------------------------------

def report_incident(repo, responders_of, data, policy, now, reporter=None, request_key=None,
                    ladder_seats=None):
    """Take an incident in and push it at once to its three recipients (the responsible
    officer, the officer on duty at the station, the station).

    - From a user (`reporter`, through the gateway): a new incident; with `request_key` (the
      caller and its Idempotency-Key) its id derives from the key, so a retry, even after a
      timeout or racing the first try, finds the incident the first try made.
    - From another system (no `reporter`; `data` carries `source` and `reference`, e.g. a
      command centre): the agency reports it and (source, reference) decides the id, so the
      same report delivered twice makes one incident.

    `responders_of(enterprise_id)` is the registry's answer of who responds now; it is kept
    with the case, so later assignment changes do not alter it. `ladder_seats` keeps only
    those seats of the ladder, in that order (a dispute's risk goes to the station's leader
    first)."""
    if reporter is None:
        reporter = {"role": "agency", "id": data["source"]}
        key = external_incident_id(data["source"], data["reference"])
    else:
        key = None if request_key is None else uuid.uuid5(CLIENT_IDS, request_key)

    def report(incident_id):
        responders = _responders(responders_of, data["enterprise_id"])
        duty = responders.get("duty_officer")
        station = responders.get("station")
        ladder = ladder_from_responders(responders)
        if ladder_seats is not None:
            ladder = sorted((r for r in ladder if r.role in ladder_seats),
                            key=lambda r: ladder_seats.index(r.role))
        return Incident.report(
            incident_id, data["enterprise_id"], responders["enterprise_name"],
            station["id"] if station else "", data["category"], data["priority"],
            data["description"], data["location"], reporter["role"], reporter["id"],
            ladder,
            Recipient("officer", duty["officer_id"], duty["name"], "duty_officer")
            if duty else None,
            Recipient("station", station["id"], station["name"], "station") if station else None,
            policy, now)

    if key is None:
        return repo.incidents.add(report(str(uuid.uuid4())))
    return repo.incidents.create_once(str(key), lambda: report(str(key)))[0]


def link_dispute(repo, event, now):
    """Mediation made a dispute of an incident or a request (its `dispute.registered` with
    that source): keep the link on the case, so each names the other. Idempotent."""
    data = event["data"]
    cases = {"incident": repo.incidents, "request": repo.requests}
    collection = cases.get(data["source"])
    if collection is None or not data.get("source_ref"):
        return None
    return collection.change(data["source_ref"],
                             lambda case: case.link_dispute(data["dispute_id"], now))


def take_in_patrol_incident(repo, responders_of, event, policy, now):
    """A patrol's finding that is to be an incident (field work's `patrol.incident_raised`)
    is taken in as a report from field work, its finding's id the reference: its id is then
    the one the event names (contracts.identities.external_incident_id), and a redelivered
    event makes no second incident."""
    data = event["data"]
    report = {field: data[field] for field in ("enterprise_id", "category", "priority",
                                                "description", "location")}
    return report_incident(repo, responders_of,
                           dict(report, source="fieldwork", reference=data["finding_id"]),
                           policy, now)


RISK_LADDER = ("station_leader", "bureau_leader")
OVERDUE_PRIORITIES = {"critical": "emergency", "high": "high"}  # any other severity: medium


def report_dispute_risk(repo, responders_of, event, policy, now):
    """Mediation graded a dispute high, critical or flagged (its `dispute.risk_flagged`
    event): an incident of category dispute pages the station's leader (see
    _page_station_leader). Its text names the dispute and its grade, nothing personal."""
    data = event["data"]
    flags = ", ".join(data["flags"])
    return _page_station_leader(repo, responders_of, event, "mediation", {
        "enterprise_id": data["enterprise_id"], "category": "dispute",
        "priority": "emergency" if "criminal_may_turn_deadly" in data["flags"] else "high",
        "description": f"dispute {data['dispute_id']} graded {data['grade']}"
                       + (f" ({flags})" if flags else "")
                       + f" by rules v{data['rule_version']}"}, policy, now)


def report_overdue_order(repo, responders_of, event, policy, now):
    """A hazard's rectification order passed its deadline unrectified (field work's
    `hazard.order_overdue`): an incident of category safety_hazard pages the station's leader
    (see _page_station_leader), emergency for a critical hazard, high for a high one, medium
    otherwise. Its text names the hazard, its kind, severity and deadline, nothing personal.
    An order that names no enterprise is refused (ValidationFailed)."""
    data = event["data"]
    return _page_station_leader(repo, responders_of, event, "fieldwork", {
        "enterprise_id": _ordered_enterprise(data), "category": "safety_hazard",
        "priority": OVERDUE_PRIORITIES.get(data["severity"], "medium"),
        "description": f"hazard {data['hazard_id']} ({data['kind']}, {data['severity']}) not "
                       f"rectified by its deadline {data['deadline']:%Y-%m-%d %H:%M} UTC"},
        policy, now)


def _page_station_leader(repo, responders_of, event, source, facts, policy, now):
    """An incident of `facts` (enterprise_id, category, priority, description), reported by
    `source` under the event's id, pages the station's leader at once (then the bureau's
    leader, on the same ladder as any incident), and the officer on duty and the station are
    told. The event's id decides the incident's, so a redelivered event makes no second
    one."""
    report = dict(facts, location="", source=source, reference=event["id"])
    return report_incident(repo, responders_of, report, policy, now, ladder_seats=RISK_LADDER)


def _ordered_enterprise(data):
    """The enterprise a hazard's order was given to."""
    if data["enterprise_id"] is None:
        raise ValidationFailed({"enterprise_id": [
            f"the order for hazard {data['hazard_id']} names no enterprise"]})
    return data["enterprise_id"]


def _responders(responders_of, enterprise_id):
    try:
        return responders_of(enterprise_id)
    except Exception as error:
        if not raised_as(error, "EnterpriseNotFound"):  # the registry's refusal, by its name
            raise
        raise ValidationFailed({"enterprise_id": [f"no enterprise {enterprise_id}"]}) from None


# --- changes -----------------------------------------------------------------------------------

def acknowledge(repo, incident_id, notification_id, officer_id, now):
    return repo.incidents.change(
        incident_id, lambda incident: incident.acknowledge(notification_id, officer_id, now))


def fire_deadline(repo, incident_id, policy, now):
    """Act on an incident's acknowledgement deadline if it has really passed; otherwise just
    put the stored deadline row right. Safe to call any number of times, from any process.
    Returns the incident, or None when there is none (its row is dropped)."""
    due = []

    def fire(incident):
        due[:] = [incident.deadline_passed(now)]
        if not due[0]:
            return False
        incident.fire_deadline(policy, now)

    try:
        incident = repo.incidents.change(incident_id, fire)
    except IncidentNotFound:  # a deadline row written just before an intake that failed
        repo.deadlines.drop(incident_id)
        return None
    if not due[0]:  # nothing was due: the stored deadline row was early or stale
        repo.deadlines.follow(incident)
    return incident


def move_incident(repo, incident_id, state, actor, note, now):
    def move(incident):
        incident.check_may_act(actor["role"], actor["id"], actor.get("enterprise_id"), state,
                               actor.get("capacity"))
        if incident.state == state:
            return False  # the same command again: already done
        incident.move_to(state, actor["id"], now, note)

    return repo.incidents.change(incident_id, move)


def call_departments(repo, incident_id, departments, actor, now):
    def call(incident):
        incident.check_may_act(actor["role"], actor["id"], actor.get("enterprise_id"),
                               capacity=actor.get("capacity"))
        return bool(incident.call_departments(departments, actor["id"], now))

    return repo.incidents.change(incident_id, call)


def department_acknowledges(repo, incident_id, department, actor, now):
    return repo.incidents.change(
        incident_id,
        lambda incident: incident.department_acknowledges(department, actor["id"], now))


# --- enterprise requests ---------------------------------------------------------------------

def submit_request(repo, responders_of, data, actor, now, request_key=None):
    """Take a request in and route it at once: to the department that handles its service,
    or to the enterprise's liaison officer (A, or B while A is absent). `request_key` as for
    report_incident: a retry finds the request its first try made."""
    def submit(request_id):
        request = ServiceRequest.submit(request_id, data["enterprise_id"], data["service_code"],
                                        data["description"], data["attributes"], now,
                                        actor["id"])  # checks the attributes first
        responders = _responders(responders_of, data["enterprise_id"])
        liaison = (responders.get("to_call") or {}).get("officer_id")
        try:
            routing = default_routing(request.definition, liaison)
        except InvalidRequest:
            routing = None  # no liaison officer: it waits, submitted, for a supervisor
        if routing is not None:
            request.route(routing, now, "dispatch", "routed on submission")
        return request

    if request_key is None:
        return repo.requests.add(submit(str(uuid.uuid4())))
    request_id = str(uuid.uuid5(CLIENT_IDS, request_key))
    return repo.requests.create_once(request_id, lambda: submit(request_id))[0]


def request_step(repo, request_id, command, actor, now):
    """Move a request on: route, start, refer, follow_up, close or rate."""
    step, note = command["step"], command.get("note", "")

    def take(request):
        request.check_may_take(step, actor["role"], actor.get("enterprise_id"))
        if step == "route":
            request.route(Routing(command.get("routed_to_kind", ""),
                                  command.get("routed_to", "")), now, actor["id"], note)
        elif step == "start":
            request.start(now, actor["id"], note)
        elif step == "refer":
            request.refer(command.get("agency", ""), now, actor["id"], note)
        elif step == "follow_up":
            request.follow_up(now, actor["id"], note)
        elif step == "close":
            request.close(now, actor["id"], note)
        else:
            request.rate(command.get("rating"), now, actor["id"], note)

    return repo.requests.change(request_id, take)


# --- visits ------------------------------------------------------------------------------------

def plan_visit(repo, new_id, data, officer_id, policy):
    """Plan a visit, merged into one already planned nearby, or refused past the limit.
    Returns how it was planned (visits.PlanOutcome)."""
    enterprise_id = data["enterprise_id"]
    proposed = Visit(new_id, enterprise_id, officer_id, data["purpose"], data["start"],
                     data["end"])
    book = repo.visit_books.change(enterprise_id, lambda book: book.plan(proposed, policy),
                                   new=VisitBook)
    return book.outcome_of(new_id)


VERIFICATION_LENGTH = timedelta(hours=1)


def plan_verification(repo, responders_of, event, policy):
    """A hazard's rectification order was issued (field work's `hazard.order_issued`): the
    check of its rectification is planned as the visit the event names, from the order's
    deadline for VERIFICATION_LENGTH, by the enterprise's A officer (else B, else the
    station's leader; visits.verifying_officer). It is a required visit: merged into one
    planned nearby or planned alone, and past the enterprise's limit merged into the nearest
    visit of the full period, never refused. A book that holds the visit already (a
    redelivered event) is left as it is. Returns how it was planned (visits.PlanOutcome)."""
    data = event["data"]
    enterprise_id, visit_id = _ordered_enterprise(data), data["verification_visit_id"]

    def plan(book):
        if book.holds(visit_id):
            return False
        officer_id = verifying_officer(_responders(responders_of, enterprise_id),
                                       data["hazard_id"])
        book.plan(Visit(visit_id, enterprise_id, officer_id,
                        f"hazard verification {data['hazard_id']}", data["deadline"],
                        data["deadline"] + VERIFICATION_LENGTH), policy, required=True)

    book = repo.visit_books.change(enterprise_id, plan, new=VisitBook)
    return book.outcome_of(visit_id)


def cadence(repo, assignments, now):
    """Per assigned enterprise: did its lead (the bureau leader of its three chiefs) visit in
    the last month, and its liaison officer (A) in the last week?"""
    enterprises = [(a["enterprise_id"], a.get("bureau_leader_id"), a.get("a_officer_id"))
                   for a in assignments]
    return cadence_compliance(enterprises, repo.all_visits(), now)
