"""Field work's use cases: plain functions over the domain and the repository they are given.
Time is a parameter; where a record belongs comes from `places` (the registry, asked by the
service: see service.Places), which raises InvalidFieldWork naming the field for an area,
enterprise or officer that does not exist.

Every check is made before anything is written, so refused input creates nothing. A record
made from a caller's Idempotency-Key takes its id from it, so a retry finds what the first try
made; a patrol's hazards take theirs from the patrol's, so a retry after a crash between them
finishes the job instead of repeating it.
"""
import uuid

from .domain import Guard, Hazard, Outreach, Patrol
from .exceptions import InvalidFieldWork
from .report_html import render_html
from .report_pdf import render_pdf

REQUEST_IDS = uuid.UUID("3f6c1d0a-92b4-4c7e-8e21-5a7d9b0c4e13")
PATROL_HAZARDS = uuid.UUID("a47e0b6c-1f35-4d28-9c60-7e2b8d5f1a94")
DOCUMENTS = {"html": "text/html", "pdf": "application/pdf"}


def new_id(kind, request_key=None):
    """A new record's id: derived from `request_key` (the caller and its Idempotency-Key) when
    there is one."""
    return str(uuid.uuid5(REQUEST_IDS, f"{kind}:{request_key}") if request_key
               else uuid.uuid4())


def register_guard(repo, places, data, actor, now, request_key=None):
    places.of_enterprise(data["enterprise_id"], "enterprise_id")
    guard_id = new_id("guard", request_key)
    return repo.guards.create_once(guard_id, lambda: Guard.register(
        guard_id, data["enterprise_id"], data["name"], data["phone"], now))[0]


def record_patrol(repo, places, data, actor, now, request_key=None):
    """Record a patrol with its findings: each hazard found becomes a hazard (with its order),
    each incident finding is raised to dispatch (patrol.incident_raised)."""
    place = places.of_area(data["area_kind"], data["area_id"], "area_id")
    _check_members(repo, places, data["members"])
    findings = data["findings"]
    hazard_places = [places.of_enterprise(h["enterprise_id"],
                                          f"findings.hazards.{i}.enterprise_id")
                     for i, h in enumerate(findings["hazards"])]
    for i, raised in enumerate(findings["incidents"]):
        places.of_enterprise(raised["enterprise_id"], f"findings.incidents.{i}.enterprise_id")
    patrol_id = new_id("patrol", request_key)
    hazard_ids = [str(uuid.uuid5(PATROL_HAZARDS, f"{patrol_id}/{i}"))
                  for i in range(len(findings["hazards"]))]
    patrol = Patrol.record(patrol_id, data, place, hazard_ids, actor, now)  # checks first
    for hazard_id, found, hazard_place in zip(hazard_ids, findings["hazards"], hazard_places):
        found = dict(found, found_at=min(data["end"], now))
        repo.hazards.create_once(hazard_id, lambda h=hazard_id, f=found, p=hazard_place:
                                 Hazard.find(h, p, f, "patrol", patrol_id, actor, now))
    return repo.patrols.create_once(patrol_id, lambda: patrol)[0]


def _check_members(repo, places, members):
    officers = [m["id"] for m in members if m["kind"] == "officer"]
    guards = [m["id"] for m in members if m["kind"] == "guard"]
    unknown = places.unknown_officers(officers)
    if unknown:
        raise InvalidFieldWork({"members": [f"no officer with id {', '.join(unknown)}"]})
    known = repo.guards_named(guards)
    missing = [g for g in dict.fromkeys(guards) if g not in known]
    if missing:
        raise InvalidFieldWork({"members": [f"no guard with id {', '.join(missing)}"]})


def report_hazard(repo, places, data, actor, now, request_key=None):
    """A hazard found on a visit or reported by the enterprise itself (`actor`: who reports,
    as the gateway established it; what an enterprise reports is the enterprise's, whatever
    the body says)."""
    place = places.of_enterprise(data["enterprise_id"], "enterprise_id")
    source = "enterprise" if actor["role"] == "enterprise" else data["source"]
    hazard_id = new_id("hazard", request_key)
    return repo.hazards.create_once(hazard_id, lambda: Hazard.find(
        hazard_id, place, data, source, data.get("source_ref"), actor["id"], now))[0]


def report_rectified(repo, hazard_id, actor, now):
    return repo.hazards.change(hazard_id, lambda h: h.report_rectified(actor, now))


def verify_hazard(repo, hazard_id, passed, actor, now):
    return repo.hazards.change(hazard_id, lambda h: h.verify(passed, actor, now))


def fire_deadline(repo, hazard_id, now):
    """Mark the hazard's order overdue if its deadline has really passed unrectified; safe to
    call any number of times, from any process. Returns (hazard, whether it was marked)."""
    fired = []

    def fire(hazard):
        fired[:] = [hazard.deadline_passed(now)]
        if not fired[0]:
            return False

    return repo.hazards.change(hazard_id, fire), fired[0]


def verification_planned(repo, visit):
    """Dispatch planned a visit (`visit`: a visit.planned or visit.merged event's data): if it
    verifies a hazard's order, the hazard keeps how it was planned. Idempotent."""
    hazard_id = repo.hazard_verified_by_visit(visit["visit_id"])
    if hazard_id is None:
        return None
    return repo.hazards.change(hazard_id, lambda h: h.verification_planned(
        visit["visit_id"], visit["start"], visit["merged_into"]) or False)


def record_outreach(repo, places, data, actor, now, request_key=None):
    """Record outreach; each guard trained on it has the training in its record."""
    place = places.of_area(data["area_kind"], data["area_id"], "area_id")
    known = repo.guards_named(data["guard_ids"])
    missing = [g for g in dict.fromkeys(data["guard_ids"]) if g not in known]
    if missing:
        raise InvalidFieldWork({"guard_ids": [f"no guard with id {', '.join(missing)}"]})
    outreach_id = new_id("outreach", request_key)
    outreach = repo.outreach.create_once(outreach_id, lambda: Outreach.hold(
        outreach_id, data, place, actor, now))[0]
    for guard_id in outreach.guard_ids:
        repo.guards.change(guard_id, lambda g: g.trained(outreach.id, outreach.kind,
                                                         outreach.at) or False)
    return outreach


def work_report(repo, places, query, county):
    """The work report from the read model alone (repo.figures): the registry is asked only
    whether a station, park, grid or enterprise named exists (InvalidFieldWork naming area_id
    if not). A county without an id is `county`, this platform's."""
    kind, area_id = query["area_kind"], query.get("area_id")
    if kind == "county" and area_id is None:
        area_id = county
    elif kind not in ("province", "county"):
        places.of_area(kind, area_id, "area_id")
    return repo.figures.report(kind, area_id, query["start"], query["end"])


def work_report_document(repo, places, query, county):
    """{"media_type", "content"}: the report printable, as HTML or PDF, in `query["lang"]`."""
    report, lang = work_report(repo, places, query, county), query["lang"]
    content = (render_pdf(report, lang) if query["format"] == "pdf"
               else render_html(report, lang).encode("utf-8"))
    return {"media_type": DOCUMENTS[query["format"]], "content": content}
