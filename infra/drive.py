"""A county-year with planted truth, driven through a running platform's gateway over HTTP.

Everything goes through the routes, with tokens the platform accepts, as the people who
would do it: a supervisor edits the registry and drafts the list, an enterprise reports its
incidents, submits its requests, registers its disputes and rates the officers of its closed
cases, an officer acknowledges the pages it gets, moves its cases on and plans its visits.
What an officer does is drawn from its true quality (services.appraisal.simulate.plant):
how fast it acknowledges a page, whether it misses it (then dispatch pages the next on the
ladder when the window closes, for real), how its enterprises rate it. Officers outside the
planted truth (the station chiefs and the bureau leader at the top of the ladder) are of
average quality and never miss a page.

Cases run in parallel, each on a random stream of its own (seeded), so the draws do not
depend on the order the threads run in; who is paged does, a little, around the registry's
edits during the year.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from contracts.vocabulary import CHIEF_CRITERIA, CHIEF_SEATS
from services.appraisal.planted import SCENARIO, plant, rating_of
from services.enterprise.domain import credit_code_check_char

from .gateway_client import DriveFailed, error_code

POLL = 0.2
PRIORITIES = ("low", "medium", "high", "emergency")
PRIORITY_SHARES = (0.4, 0.35, 0.2, 0.05)
CHIEF_RATINGS = "/v1/appraisal/chief-ratings"


@dataclass(frozen=True)
class Scenario:
    """How big a county-year to drive: `chiefs` planted officers, each the A officer of
    `enterprises_per_chief` enterprises (and the B officer of as many others), with about
    `cases` closed cases a year (Poisson; the thin-evidence ones 0-4), `incident_share` of
    them incidents and the rest service requests."""

    chiefs: int = 40
    cases: float = 10.0
    seed: int = 1
    enterprises_per_chief: int = 3
    incident_share: float = 0.6
    workers: int = 8


# --- the county ----------------------------------------------------------------------------


@dataclass
class Enterprise:
    id: str
    leniency: float
    a: str
    b: str
    station: int


@dataclass
class County:
    """What the registry holds after `build_county`, and the truth behind it."""

    scenario: Scenario
    truth: dict                      # chief officer id -> (true quality, planted label)
    chiefs: list                     # chief officer ids, in planted order
    thin: set                        # chief ids planted with thin evidence
    leaders: dict                    # station index -> station chief id; -1: bureau leader
    stations: list
    grids: list
    enterprises: list
    cases: list = field(default_factory=list)  # (chief index, enterprise index, kind)

    def quality(self, officer_id):
        return self.truth.get(officer_id, (0.0, ""))[0]

    def planted(self, officer_id):
        return officer_id in self.truth


@dataclass
class Tally:
    """What the drive did, counted as it went (thread-safe)."""

    counts: Counter = field(default_factory=Counter)
    by_officer: dict = field(default_factory=dict)   # officer id -> Counter
    scores: dict = field(default_factory=dict)       # officer id -> [scores]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what, officer_id=None, n=1):
        with self.lock:
            self.counts[what] += n
            if officer_id is not None:
                self.by_officer.setdefault(officer_id, Counter())[what] += n

    def score(self, officer_id, value):
        with self.lock:
            self.scores.setdefault(officer_id, []).append(value)

    def of(self, officer_id):
        return self.by_officer.get(officer_id, Counter())


def draw_county(scenario):
    """The planted truth and the year's cases, before anything is registered: qualities,
    leniencies, and for each chief its cases (at one of the enterprises it is A of)."""
    rng = np.random.default_rng(scenario.seed)
    planted = plant(scenario.chiefs, rng)
    n, per = scenario.chiefs, scenario.enterprises_per_chief
    leniency = rng.normal(0.0, SCENARIO["leniency_sd"], n * per)
    counts = rng.poisson(scenario.cases, n)
    counts[planted.thin] = rng.integers(0, 5, int(planted.thin.sum()))
    cases = []
    for chief in range(n):
        for _ in range(int(counts[chief])):
            kind = "incident" if rng.random() < scenario.incident_share else "request"
            cases.append((chief, chief + n * int(rng.integers(0, per)), kind))
    order = rng.permutation(len(cases))
    return planted, leniency, [cases[i] for i in order]


def build_county(gw, scenario, progress=None):
    """Register the county through the gateway as a supervisor: stations (one per 20 chiefs)
    with two grids each, a station chief per station and a bureau leader, a duty officer per
    station, the chiefs (area chiefs), and `enterprises_per_chief` enterprises per chief,
    each assigned its A and B officer and its three chiefs."""
    planted, leniency, cases = draw_county(scenario)
    boss = gw.supervisor()
    n = scenario.chiefs
    station_count = max(1, round(n / 20))
    stations, grids, leaders = [], [], {}
    for s in range(station_count):
        station = gw.ok("POST", "/v1/stations", boss, {
            "name": f"第{s + 1}派出所", "kind": "station", "address": f"模拟县{s + 1}号"})["id"]
        stations.append(station)
        grids.append([gw.ok("POST", "/v1/grids", boss, {
            "code": f"S{s:02d}G{g}", "name": f"第{s + 1}所第{g + 1}网格",
            "station_id": station})["id"] for g in range(2)])
        leaders[s] = _officer(gw, boss, f"L{s:04d}", f"所长{s + 1}", "station_chief", station)
        _officer(gw, boss, f"A{s:04d}", f"值班民警{s + 1}", "community_officer", station)
    leaders[-1] = _officer(gw, boss, "B0000", "局长", "bureau_leader", stations[0])
    chiefs = []
    for c in range(n):
        chiefs.append(_officer(gw, boss, f"C{c:05d}", f"片长{c:03d}", "area_chief",
                               stations[c % station_count]))
        _step(progress)
    enterprises = []
    for e in range(n * scenario.enterprises_per_chief):
        a, round_ = e % n, e // n
        b = (a + 1 + round_ % max(1, n - 1)) % n
        third = (a + n // 2) % n if n > 2 else a
        s = a % station_count
        first17 = f"91520000{e:09d}"
        enterprise = gw.ok("POST", "/v1/enterprises", boss, {
            "name": f"模拟企业{e:04d}有限公司", "credit_code": first17 + credit_code_check_char(
                first17), "kind": "enterprise", "level": "above_scale", "stage": "production",
            "grid_id": grids[s][e % 2], "workforce": 100})["id"]
        gw.ok("POST", f"/v1/enterprises/{enterprise}/assignments", boss, {
            "a_officer_id": chiefs[a], "b_officer_id": chiefs[b],
            "bureau_leader_id": leaders[-1], "station_leader_id": leaders[s],
            "area_chief_id": chiefs[third], "departments": ["public_order"]})
        enterprises.append(Enterprise(enterprise, float(leniency[e]), chiefs[a], chiefs[b], s))
        _step(progress)
    thin = {chiefs[i] for i in np.flatnonzero(planted.thin)}
    return County(scenario, planted.truth(chiefs), chiefs, thin, leaders, stations, grids,
                  enterprises, cases)


def _officer(gw, boss, badge, name, role, station):
    return gw.ok("POST", "/v1/officers", boss, {
        "badge_number": badge, "name": name, "role": role, "station_id": station})["id"]


def _step(progress):
    if progress is not None:
        progress.update(1)


# --- an officer's behaviour, from its true quality -------------------------------------------


def misses(quality, rng):
    """Whether the officer lets a page go unanswered: about 6% at average quality, a third
    for a planted poor one, under 1% for a planted excellent one."""
    return rng.random() < 1.0 / (1.0 + np.exp(2.7 + 2.2 * quality))


def latency(quality, window, rng):
    """Seconds until the officer acknowledges a page: an eighth of the window at average
    quality, faster the better it is; always well inside the window (at most 60% of it)."""
    share = 0.12 * np.exp(-1.5 * quality + rng.normal(0.0, 0.35))
    return float(window * min(0.6, max(0.02, share)))


# --- cases -------------------------------------------------------------------------------------


def run_case(gw, county, number, tally, year):
    """One case of the year, from report to rating; its draws from its own seeded stream."""
    chief, enterprise_index, kind = county.cases[number]
    rng = np.random.default_rng([county.scenario.seed, number])
    enterprise = county.enterprises[enterprise_index]
    closed = (incident if kind == "incident" else service_request)(gw, county, enterprise,
                                                                   rng, tally)
    if closed is not None:
        rate(gw, county, kind, closed, enterprise, rng, tally)


def incident(gw, county, enterprise, rng, tally):
    """Report, page by page until someone acknowledges (a missed page waits out its window
    and dispatch pages the next), then resolved by whoever acknowledged. The incident's id,
    or None when nobody could be paged."""
    priority = str(rng.choice(PRIORITIES, p=PRIORITY_SHARES))
    case = gw.ok("POST", "/v1/incidents", gw.enterprise(enterprise.id), {
        "enterprise_id": enterprise.id, "category": "safety_hazard", "priority": priority,
        "description": f"simulated {priority} incident"})
    tally.add("incidents")
    path = f"/v1/incidents/{case['id']}"
    acknowledged = None
    while acknowledged is None and case["state"] == "notified" and not case["unacknowledged"]:
        page = _current_page(case)
        if page is None:
            break
        officer_id = page["recipient"]["id"]
        window = (_parse(page["deadline"]) - _parse(page["sent_at"])).total_seconds()
        tally.add("pages", officer_id)
        if county.planted(officer_id) and misses(county.quality(officer_id), rng):
            tally.add("missed", officer_id)
            case = _next_page(gw, path, page, window)
            continue
        wait = latency(county.quality(officer_id), window, rng)
        if gw.stop.wait(wait):
            raise DriveFailed("stopped")
        answer = gw.call("POST", f"{path}/acknowledgements", gw.officer(officer_id),
                         {"notification_id": page["id"]})
        if answer.status_code == 200:
            acknowledged = officer_id
            tally.add("acknowledged", officer_id)
        elif error_code(answer) == "ACKNOWLEDGEMENT_TOO_LATE":  # the window closed first
            tally.add("missed", officer_id)
            case = gw.ok("GET", path, gw.supervisor())
        else:
            raise DriveFailed(f"acknowledging {page['id']}: {answer.status_code} "
                              f"{answer.text[:300]}")
    if acknowledged is None:
        gw.ok("POST", f"{path}/transitions", gw.supervisor(),
              {"state": "cancelled", "note": "nobody acknowledged"})
        tally.add("unacknowledged")
        return None
    gw.ok("POST", f"{path}/transitions", gw.officer(acknowledged),
          {"state": "resolved", "note": "handled on site"})
    tally.add("incidents_closed")
    return case["id"]


def _current_page(case):
    pages = [n for n in case["notifications"] if n["step"] is not None]
    return pages[-1] if pages else None


def _next_page(gw, path, page, window):
    """The incident once dispatch has moved past `page` (its window closed): another page
    sent, or the case flagged as unacknowledged at the top of the ladder."""
    deadline = time.monotonic() + window + 30
    while time.monotonic() < deadline:
        if gw.stop.wait(POLL):
            raise DriveFailed("stopped")
        case = gw.ok("GET", path, gw.supervisor())
        current = _current_page(case)
        if case["state"] != "notified" or case["unacknowledged"] or current is None \
                or current["id"] != page["id"]:
            return case
    raise DriveFailed(f"{path}: page {page['id']} was not followed up within {window + 30:.0f}"
                      " s of being sent")


def service_request(gw, county, enterprise, rng, tally):
    """Submitted by the enterprise (routed at once to its liaison officer), started and
    closed by that officer, sooner the better it is. The request's id, or None when it was
    not routed to an officer."""
    request = gw.ok("POST", "/v1/requests", gw.enterprise(enterprise.id), {
        "enterprise_id": enterprise.id, "service_code": "other",
        "description": "simulated request", "attributes": {"urgency": "normal"}})
    tally.add("requests")
    routed = request["routed_to"] or {}
    if routed.get("kind") != "officer":
        tally.add("requests_unrouted")
        return None
    officer_id = routed["target"]
    path = f"/v1/requests/{request['id']}/steps"
    gw.ok("POST", path, gw.officer(officer_id), {"step": "start"})
    if gw.stop.wait(latency(county.quality(officer_id), 4.0, rng)):
        raise DriveFailed("stopped")
    gw.ok("POST", path, gw.officer(officer_id), {"step": "close", "note": "done as asked"})
    tally.add("requests_closed", officer_id)
    return request["id"]


def rate(gw, county, kind, case_id, enterprise, rng, tally, timeout=120):
    """The enterprise rates each officer on the case's invitation (made by appraisal when
    dispatch's closing event reaches it): 3.5 + quality + its leniency + N(0, 0.8), a whole
    1-5; satisfied from 4 up."""
    token = gw.enterprise(enterprise.id)
    path = f"/v1/appraisal/invitations/{kind}:{case_id}"
    deadline = time.monotonic() + timeout
    while True:
        answer = gw.call("GET", path, token)
        if answer.status_code == 200:
            break
        if error_code(answer) != "INVITATION_NOT_FOUND" or time.monotonic() > deadline:
            raise DriveFailed(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        if gw.stop.wait(POLL):
            raise DriveFailed("stopped")
    tally.add("invitations")
    for officer_id in answer.json()["officer_ids"]:
        score = int(rating_of(county.quality(officer_id), enterprise.leniency, rng))
        given = gw.call("POST", f"{path}/ratings", token, {
            "officer_id": officer_id, "score": score, "satisfied": score >= 4})
        if given.status_code != 200 and error_code(given) != "ALREADY_RATED":  # a resent rating
            raise DriveFailed(f"rating on {path}: {given.status_code} {given.text[:300]}")
        tally.add("ratings", officer_id)
        tally.score(officer_id, score)


# --- the registry's edits during the year ------------------------------------------------------


def edits(gw, county, rng):
    """Edits made while the cases run, each (case number from which it applies, what it
    does, a description): a chief goes on a week's leave (its pages and requests go to its
    B officer), comes back, and an enterprise's A and B officers swap."""
    total = len(county.cases)
    ordinary = [c for c in county.chiefs if not county.truth[c][1] and c not in county.thin]
    away = ordinary[int(rng.integers(0, len(ordinary)))] if ordinary else county.chiefs[0]
    swapped = county.enterprises[int(rng.integers(0, len(county.enterprises)))]
    today = datetime.now(timezone.utc).date()

    def leave():
        gw.ok("POST", f"/v1/officers/{away}/availability", gw.supervisor(), {
            "status": "on_leave", "first_day": today.isoformat(),
            "last_day": (today + timedelta(days=6)).isoformat(), "note": "annual leave"})

    def back():
        gw.ok("POST", f"/v1/officers/{away}/availability", gw.supervisor(),
              {"status": "on_duty"})

    def swap():
        current = gw.ok("GET", f"/v1/enterprises/{swapped.id}/assignments",
                        gw.supervisor())["current"]
        gw.ok("POST", f"/v1/enterprises/{swapped.id}/assignments", gw.supervisor(), {
            "a_officer_id": current["b_officer_id"], "b_officer_id": current["a_officer_id"],
            "bureau_leader_id": current["bureau_leader_id"],
            "station_leader_id": current["station_leader_id"],
            "area_chief_id": current["area_chief_id"], "departments": current["departments"]})
        swapped.a, swapped.b = swapped.b, swapped.a

    return [(total // 4, leave, f"officer {away} on leave for a week"),
            (total // 2, back, f"officer {away} back on duty"),
            (2 * total // 3, swap, f"enterprise {swapped.id}: A and B swapped")]


# --- visits and disputes -------------------------------------------------------------------------


def plan_visits(gw, county, chief_index, tally):
    """The chief's weekly visits to the first enterprise it is A of, four weeks ahead (the
    cap: four in any 30 days); one in five chiefs also asks for a fifth, refused past the
    cap, and one in five B officers proposes a visit at A's first, merged into it."""
    rng = np.random.default_rng([county.scenario.seed, 10**6 + chief_index])
    enterprise = county.enterprises[chief_index]
    first = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0) \
        + timedelta(days=1)

    def visit(officer_id, start, purpose):
        answer = gw.call("POST", "/v1/visits", gw.officer(officer_id), {
            "enterprise_id": enterprise.id, "purpose": purpose, "start": _iso(start),
            "end": _iso(start + timedelta(hours=1))})
        if answer.status_code == 201:
            tally.add(f"visits_{answer.json()['outcome']}", officer_id)
        elif error_code(answer) == "VISIT_REFUSED":
            tally.add("visits_refused", officer_id)
        else:
            raise DriveFailed(f"POST /v1/visits: {answer.status_code} {answer.text[:300]}")

    for week in range(4):
        visit(enterprise.a, first + timedelta(days=7 * week), "weekly liaison visit")
    if rng.random() < 0.2:
        visit(enterprise.a, first + timedelta(days=24), "one more visit")
    if rng.random() < 0.2:
        visit(enterprise.b, first + timedelta(hours=2), "joining the liaison visit")


def dispute(gw, county, number, tally):
    """A wage dispute the enterprise registers; two in three are agreed at the tier it
    started at (the A officer records the signed agreement)."""
    enterprise = county.enterprises[number * 7 % len(county.enterprises)]
    taken = gw.ok("POST", "/v1/disputes", gw.enterprise(enterprise.id), {
        "enterprise_id": enterprise.id, "kind": "wage_arrears", "amount_at_stake": 20000,
        "description": f"simulated wage arrears {number}", "source": "enterprise",
        "parties": [{"kind": "workers", "side": "applicant", "name": f"工人{number}",
                     "headcount": 3},
                    {"kind": "company", "side": "respondent", "name": f"分包商{number}"}]})
    tally.add("disputes")
    tally.add(f"disputes_at_{taken['tier']}")
    if number % 3 == 2:
        return
    now = datetime.now(timezone.utc)
    agreed = gw.ok("POST", f"/v1/disputes/{taken['id']}/agreement", gw.officer(enterprise.a), {
        "facts": "拖欠工资", "issues": "支付期限",
        "terms": [{"party": 1, "obligation": "支付工资", "due": _iso(now + timedelta(days=30))}],
        "signatures": [{"party": 0, "at": _iso(now)}, {"party": 1, "at": _iso(now)}]})
    if agreed["status"] == "agreed" and agreed["tier"] == taken["start_tier"]:
        tally.add("disputes_agreed_at_first_tier")


# --- three chiefs' quarterly ratings ---------------------------------------------------------


def three_chiefs_rate(gw, county, year, quarter, tally):
    """The three chiefs (bureau leader, station chief, area chief) of the enterprise each
    chief first serves as A rate that chief for the quarter on each criterion, from its true
    quality as an enterprise would but without leniency; each as a supervisor in its seat."""
    for number, chief in enumerate(county.chiefs):
        rng = np.random.default_rng([county.scenario.seed, year, quarter, number])
        enterprise = county.enterprises[number]
        assignment = gw.ok("GET", f"/v1/enterprises/{enterprise.id}/assignments",
                           gw.supervisor())["current"]
        for seat in CHIEF_SEATS:
            rater = assignment.get(f"{seat}_id")
            if not rater or rater == chief:
                continue
            criteria = {name: int(rating_of(county.quality(chief), 0.0, rng))
                        for name in CHIEF_CRITERIA}
            gw.ok("POST", CHIEF_RATINGS, gw.supervisor(rater), {
                "officer_id": chief, "year": year, "quarter": quarter, "seat": seat,
                "criteria": criteria})
            tally.add("chief_ratings", chief)


# --- helpers -----------------------------------------------------------------------------------


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
