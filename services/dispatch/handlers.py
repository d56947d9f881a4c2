"""Dispatch's use cases: plain functions over the domain and the ports they are given.

Every change to an incident is computed from the stored version and written only if that
version is still current (see store.Repository.save_incident); when another change won the
race the command is recomputed from the new state, which may make it a no-op (a deadline that
was acknowledged meanwhile) or a refusal (an acknowledgement that came too late). The events
of a change are derived from what it added to the incident, and stored with it.
"""
import uuid

from contracts.envelope import make_envelope
from contracts.events import DISPATCH_EVENTS, DISPATCH_SOURCE
from kit.errors import ValidationFailed, raised_as

from . import requests as req
from .domain import CLOSED_STATES, Incident, ladder_from_responders, Recipient
from .exceptions import (ChangedMeanwhile, IncidentExists, IncidentNotFound, RequestExists,
                         RequestNotFound)

ATTEMPTS = 20


def event(event_type, subject, data, now):
    return make_envelope(event_type, DISPATCH_SOURCE, subject, data, DISPATCH_EVENTS, now=now)


# --- intake ----------------------------------------------------------------------------------

def report_incident(repo, responders_of, new_id, data, reporter, policy, now):
    """Take an incident in and push it at once to its three recipients.

    `responders_of(enterprise_id)` is the registry's answer of who responds now; it is kept
    with the case, so later assignment changes do not alter it."""
    responders = _responders(responders_of, data["enterprise_id"])
    duty = responders.get("duty_officer")
    station = responders.get("station")
    incident = Incident.report(
        new_id, data["enterprise_id"], responders["enterprise_name"],
        station["id"] if station else "", data["category"], data["priority"],
        data["description"], data["location"], reporter["role"], reporter["id"],
        ladder_from_responders(responders),
        Recipient("officer", duty["officer_id"], duty["name"], "duty_officer") if duty else None,
        Recipient("station", station["id"], station["name"], "station") if station else None,
        policy, now)
    reported = event("incident.reported", incident.id, {
        "incident_id": incident.id, **{k: getattr(incident, k) for k in (
            "enterprise_id", "enterprise_name", "station_id", "category", "priority",
            "description", "location", "reporter_role", "reporter_id", "reported_at")}}, now)
    events = [reported] + events_since(incident, 0, 0, now)
    repo.add_incident(incident, events)
    return incident, events


def _responders(responders_of, enterprise_id):
    try:
        return responders_of(enterprise_id)
    except Exception as error:
        if not raised_as(error, "EnterpriseNotFound"):  # the registry's refusal, by its name
            raise
        raise ValidationFailed({"enterprise_id": [f"no enterprise {enterprise_id}"]}) from None


EXTERNAL_IDS = uuid.UUID("5b0d1f1e-7c2a-4f57-9a4e-2f1d6c0b9e11")
CLIENT_IDS = uuid.UUID("0c9a4d52-31e6-4b8e-8f0d-7a2b5e61c3f4")


def take_in(repo, responders_of, data, reporter, policy, now, request_key=None):
    """A report through the gateway. Without `request_key` it gets a new id; with one (the
    caller and its Idempotency-Key) the id derives from it, so a retry, even after a timeout
    or racing the first try, finds the incident the first try made."""
    if request_key is None:
        return report_incident(repo, responders_of, str(uuid.uuid4()), data, reporter,
                               policy, now)
    return report_once(repo, responders_of, str(uuid.uuid5(CLIENT_IDS, request_key)), data,
                       reporter, policy, now)


def report_once(repo, responders_of, incident_id, data, reporter, policy, now):
    """report_incident for an id that may have been taken in already (a redelivered or
    retried report): then the incident as it stands, and no new event."""
    try:
        return repo.get_incident(incident_id), []
    except IncidentNotFound:
        pass
    try:
        return report_incident(repo, responders_of, incident_id, data, reporter, policy, now)
    except IncidentExists:  # taken in meanwhile by another delivery of the same report
        return repo.get_incident(incident_id), []


def take_in_report(repo, responders_of, data, policy, now):
    """A report from another system, e.g. a command centre. Its (source, reference) decides
    the incident id, so the same report delivered twice makes one incident."""
    incident_id = str(uuid.uuid5(EXTERNAL_IDS, f"{data['source']}:{data['reference']}"))
    reporter = {"role": "agency", "id": data["source"]}
    fields = {k: data[k] for k in ("enterprise_id", "category", "priority", "description",
                                   "location")}
    return report_once(repo, responders_of, incident_id, fields, reporter, policy, now)


# --- changes -----------------------------------------------------------------------------------

def change_incident(repo, incident_id, change, now):
    """Apply `change(incident) -> bool` (False: nothing to do) and write it, retrying on a
    lost race. Returns (incident, events written)."""
    for _ in range(ATTEMPTS):
        incident = repo.get_incident(incident_id)
        version, n_notifications, n_audit = (incident.version, len(incident.notifications),
                                             len(incident.audit))
        if not change(incident):
            return incident, []
        events = events_since(incident, n_notifications, n_audit, now)
        if repo.save_incident(incident, version, events):
            return incident, events
    raise ChangedMeanwhile({"incident_id": ["too many concurrent changes; try again"]})


def acknowledge(repo, incident_id, notification_id, officer_id, now):
    return change_incident(
        repo, incident_id, lambda i: i.acknowledge(notification_id, officer_id, now), now)


def fire_deadline(repo, incident_id, policy, now):
    """Act on an incident's acknowledgement deadline if it has really passed; otherwise just
    put the stored deadline right. Safe to call any number of times, from any process."""
    def fire(incident):
        if not incident.deadline_passed(now):
            return False
        incident.fire_deadline(policy, now)
        return True

    try:
        incident, events = change_incident(repo, incident_id, fire, now)
    except IncidentNotFound:  # a deadline row written just before an intake that failed
        repo.drop_deadline(incident_id)
        return None, []
    if not events:  # nothing was due: the stored deadline row was early or stale
        if incident.deadline is None or not incident.is_open():
            repo.drop_deadline(incident_id)
        else:
            repo.set_deadline(incident_id, incident.deadline)
    return incident, events


def move_incident(repo, incident_id, state, actor, note, now):
    def move(incident):
        incident.check_may_act(actor["role"], actor["id"], actor.get("enterprise_id"), state,
                               actor.get("capacity"))
        if incident.state == state:
            return False  # the same command again: already done
        incident.move_to(state, actor["id"], now, note)
        return True

    return change_incident(repo, incident_id, move, now)


def call_departments(repo, incident_id, departments, actor, now):
    def call(incident):
        incident.check_may_act(actor["role"], actor["id"], actor.get("enterprise_id"),
                               capacity=actor.get("capacity"))
        return bool(incident.call_departments(departments, actor["id"], now))

    return change_incident(repo, incident_id, call, now)


def department_acknowledges(repo, incident_id, department, actor, now):
    return change_incident(
        repo, incident_id,
        lambda i: i.department_acknowledges(department, actor["id"], now), now)


# --- events from what a change added ---------------------------------------------------------

_STEP_EVENTS = {"acknowledged": "incident.acknowledged", "missed": "incident.page_missed",
                "failover": "incident.failed_over", "escalation": "incident.escalated",
                "flagged": "incident.flagged_unacknowledged"}


def events_since(incident, n_notifications, n_audit, now):
    """The events for what a change added, in the order it happened."""
    events = []
    new_pages = iter(incident.notifications[n_notifications:])
    roles = {r.id: r.role for r in incident.ladder}
    for entry in incident.audit[n_audit:]:
        if entry.kind == "notified":
            events.append(_page_event(incident, next(new_pages), now))
        elif entry.kind in _STEP_EVENTS:
            events.append(event(_STEP_EVENTS[entry.kind], incident.id, {
                "incident_id": incident.id, "enterprise_id": incident.enterprise_id,
                "at": entry.at, "officer_id": entry.who, "role": roles.get(entry.who, ""),
                "detail": entry.detail,
                "latency_seconds": _ack_latency(incident, entry)}, now))
        elif entry.kind == "state" and _state_of(entry) not in ("reported", "notified",
                                                                "acknowledged"):
            events.extend(_state_events(incident, entry, now))
        elif entry.kind == "department_acknowledged":
            events.append(event("department.acknowledged", incident.id, {
                "incident_id": incident.id, "enterprise_id": incident.enterprise_id,
                "department": entry.detail, "actor": entry.who, "at": entry.at}, now))
    return events


def _state_of(entry):
    return entry.detail.split(":")[0]


def _page_event(incident, notification, now):
    return event("notification.issued", incident.id, {
        "notification_id": notification.id, "incident_id": incident.id,
        "enterprise_id": incident.enterprise_id, "recipient": notification.recipient,
        "reason": notification.reason, "category": incident.category,
        "priority": incident.priority, "description": incident.description,
        "location": incident.location, "sent_at": notification.sent_at,
        "ack_deadline": notification.deadline}, now)


def _state_events(incident, entry, now):
    state = _state_of(entry)
    events = [event("incident.state_changed", incident.id, {
        "incident_id": incident.id, "enterprise_id": incident.enterprise_id, "state": state,
        "actor": entry.who, "at": entry.at, "note": entry.detail.partition(": ")[2]}, now)]
    if state in CLOSED_STATES:
        events.append(event("incident.closed", incident.id, {
            "incident_id": incident.id, "enterprise_id": incident.enterprise_id,
            "state": state, "closed_at": entry.at, "reported_at": incident.reported_at,
            "acknowledged_by": incident.acknowledged_by,
            "officer_ids": sorted(incident.notified_officer_ids())}, now))
    return events


def _ack_latency(incident, entry):
    if entry.kind != "acknowledged":
        return None
    pages = [n for n in incident.notifications
             if n.recipient.id == entry.who and n.step is not None]
    return (entry.at - pages[-1].sent_at).total_seconds() if pages else None


# --- enterprise requests ---------------------------------------------------------------------

_STEP_EVENT = {"route": "request.routed", "start": "request.started",
               "refer": "request.referred", "follow_up": "request.followed_up",
               "close": "request.closed", "rate": "request.rated"}


def submit_request(repo, responders_of, new_id, data, actor, now):
    """Take a request in and route it at once: to the department that handles its service,
    or to the enterprise's liaison officer (A, or B while A is absent)."""
    request = req.ServiceRequest.submit(new_id, data["enterprise_id"], data["service_code"],
                                        data["description"], data["attributes"], now,
                                        actor["id"])  # checks the attributes first
    responders = _responders(responders_of, data["enterprise_id"])
    events = [_request_event("request.submitted", request, actor["id"], "", now)]
    liaison = (responders.get("to_call") or {}).get("officer_id")
    try:
        routing = req.default_routing(request.definition, liaison)
    except req.InvalidRequest:
        routing = None  # no liaison officer: it waits, submitted, for a supervisor to route
    if routing is not None:
        request.route(routing, now, "dispatch", "routed on submission")
        events.append(_request_event("request.routed", request, "dispatch",
                                     "routed on submission", now))
    repo.add_request(request, events)
    return request


def submit(repo, responders_of, data, actor, now, request_key=None):
    """A request through the gateway; `request_key` as for take_in."""
    if request_key is None:
        return submit_request(repo, responders_of, str(uuid.uuid4()), data, actor, now)
    request_id = str(uuid.uuid5(CLIENT_IDS, request_key))
    try:
        return repo.get_request(request_id)[0]
    except RequestNotFound:
        pass
    try:
        return submit_request(repo, responders_of, request_id, data, actor, now)
    except RequestExists:  # taken in meanwhile by another try of the same request
        return repo.get_request(request_id)[0]


def request_step(repo, request_id, command, actor, now):
    """Move a request on: route, start, refer, follow_up, close or rate."""
    step = command["step"]
    for _ in range(ATTEMPTS):
        request, version = repo.get_request(request_id)
        request.check_may_take(step, actor["role"], actor.get("enterprise_id"))
        note = command.get("note", "")
        if step == "route":
            request.route(req.Routing(command.get("routed_to_kind", ""),
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
            request.rate(command.get("rating"), now, actor["id"])
        events = [_request_event(_STEP_EVENT[step], request, actor["id"], note, now)]
        if repo.save_request(request, version, events):
            return request
    raise ChangedMeanwhile({"request_id": ["too many concurrent changes; try again"]})


def _request_event(event_type, request, actor, note, now):
    return event(event_type, request.id, {
        "request_id": request.id, "enterprise_id": request.enterprise_id,
        "service_code": request.service_code, "status": request.status, "at": now,
        "actor": actor, "note": note, "routed_to": request.routed_to,
        "referral": request.referral, "expected_at": request.expected_at,
        "rating": request.rating}, now)


# --- visits ------------------------------------------------------------------------------------

def plan_visit(repo, new_id, data, officer_id, policy, now):
    """Plan a visit, merged into one already planned nearby, or refused past the limit."""
    for _ in range(ATTEMPTS):
        visits, version = repo.visit_book(data["enterprise_id"])
        proposed = req.Visit(new_id, data["enterprise_id"], officer_id, data["purpose"],
                             data["start"], data["end"])
        outcome = req.plan_visit(visits, proposed, policy)
        if outcome.kind == "merged":
            book = [outcome.visit if v.id == outcome.visit.id else v for v in visits]
            book.append(outcome.absorbed)
        else:
            book = [*visits, outcome.visit]
        events = [_visit_event(f"visit.{outcome.kind}", outcome.absorbed or outcome.visit,
                               now)]
        if repo.save_visit_book(data["enterprise_id"], book, version, events):
            return outcome
    raise ChangedMeanwhile({"enterprise_id": ["too many concurrent changes; try again"]})


def _visit_event(event_type, visit, now):
    return event(event_type, visit.id, {
        "visit_id": visit.id, "enterprise_id": visit.enterprise_id,
        "officer_id": visit.officer_id, "purpose": visit.purpose, "start": visit.start,
        "end": visit.end, "participants": visit.participants,
        "merged_into": visit.merged_into}, now)


def cadence(repo, assignments, now):
    """Per assigned enterprise: did its lead (the bureau leader of its three chiefs) visit in
    the last month, and its liaison officer (A) in the last week?"""
    enterprises = [(a["enterprise_id"], a.get("bureau_leader_id"), a.get("a_officer_id"))
                   for a in assignments]
    return req.cadence_compliance(enterprises, repo.all_visits(), now)
