"""Appraisal's use cases: invitations from dispatch's closed cases, ratings, the year's
scores and lists."""
from datetime import datetime, timedelta
from functools import partial

from kit.errors import ValidationFailed

from .domain import AnnualList, ChiefRating, Invitation, SpotCheck
from .exceptions import OfficerNotRated
from .scoring import COMPONENTS, Evidence, Ratings, Rules, appraise

VALID_FOR = timedelta(days=14)


def invite(repo, case_kind, case_id, enterprise_id, officer_ids, now, valid_for=VALID_FOR):
    """An invitation for a closed case (once: a redelivered event finds the first); none
    when nobody handled it."""
    if not any(officer_ids):
        return None
    invitation, _ = repo.invitations.create_once(
        f"{case_kind}:{case_id}",
        lambda: Invitation.issue(case_kind, case_id, enterprise_id, officer_ids, now,
                                 valid_for), expect_new=True)
    return invitation


def from_event(repo, event, now):
    """The invitation an `incident.closed` or `request.closed` event calls for."""
    return invite(repo, *_case(event), now)


def from_events(repo, events, now, valid_for=VALID_FOR):
    """The invitations closing events call for, each made once (one read and one write for
    the lot): the invitations made now."""
    cases = [case for case in map(_case, events) if any(case[3])]
    return repo.invitations.create_all_once(
        (f"{kind}:{case_id}", partial(Invitation.issue, kind, case_id, enterprise_id, officers,
                                      now, valid_for))
        for kind, case_id, enterprise_id, officers in cases)


def _case(event):
    """(case kind, case id, enterprise, officers to rate) of a closing event."""
    data = event["data"]
    if event["type"] == "incident.closed":
        officers = [data["acknowledged_by"]] if data.get("acknowledged_by") else []
        return "incident", data["incident_id"], data["enterprise_id"], officers
    routed = data.get("routed_to") or {}
    officers = [routed["target"]] if routed.get("kind") == "officer" else []
    return "request", data["request_id"], data["enterprise_id"], officers


def rate(repo, invitation_id, data, actor, now):
    def step(invitation):
        invitation.rate(data["officer_id"], data["score"], data["satisfied"],
                        data.get("comment", ""), actor["id"], now)
    return repo.invitations.change(invitation_id, step)


def year_of_ratings(repo, year, rules=Rules(), now=None):
    """The year scored on all its evidence (up to `now`, if the year is not over): the
    enterprises' and the three chiefs' ratings, spot checks, and the KPI facts."""
    return appraise(evidence_of(repo, year, now), rules, seed=year)


def evidence_of(repo, year, now=None):
    """Everything the year says of the officers (scoring.Evidence): the ratings given in it,
    the three chiefs' ratings, spot-check results, and the rates counted from the KPI facts
    up to `now` (the weeks of visit cadence owed up to then, too)."""
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    until = end if now is None else max(start, min(end, now))
    rated = list(repo.ratings_between(start - VALID_FOR, end, start, end))
    officers, raters, scores = (list(column) for column in zip(*rated)) if rated else \
        ([], [], [])
    chiefs = repo.chief_ratings.all({"year": year})
    rates = {"spot_checks": spot_checks_of(repo, year)}
    counts = repo.county_facts(("acknowledged", "page_missed", "request_on_time",
                                "request_late"), start, until)
    for component, success, failure in (("acknowledgement", "acknowledged", "page_missed"),
                                        ("requests", "request_on_time", "request_late")):
        found = {}
        for (officer_id, kind), n in counts.items():
            if officer_id is not None and kind in (success, failure):
                x, trials = found.get(officer_id, (0, 0))
                found[officer_id] = (x + n * (kind == success), trials + n)
        rates[component] = found
    rates["visits"] = visit_cadence(repo, start, until)
    rates["mediation"] = lowest_tier(repo, start, until)
    return Evidence(Ratings.of(officers, raters, scores),
                    Ratings.of([c.officer_id for c in chiefs], [c.rated_by for c in chiefs],
                               [c.score for c in chiefs]),
                    rates)


def spot_checks_of(repo, year):
    """{officer: (satisfied, surveyed and reached)} over the year's four quarters."""
    found = {}
    for quarter in (1, 2, 3, 4):
        check = repo.spot_checks.find(f"{year}-Q{quarter}")
        for officer_id, (satisfied, reached) in (check.satisfaction() if check else {}).items():
            x, n = found.get(officer_id, (0, 0))
            found[officer_id] = (x + satisfied, n + reached)
    return found


def visit_cadence(repo, start, until):
    """{officer: (weeks kept, weeks due)}: an A officer owes each enterprise it holds a visit a
    week (Hengkou's cadence) for the whole weeks it held it in [start, until); a week with a
    visit is kept, and each visit beyond one a week to the same enterprise is counted against
    ("no visits when not needed")."""
    spans = {}
    for row in repo.assignments_until(until):
        spans.setdefault(row["enterprise_id"], []).append((row["valid_from"],
                                                           row["a_officer_id"]))
    due, held = {}, {}
    for enterprise_id, versions in spans.items():
        for (since, officer_id), (next_since, _) in zip(versions, versions[1:] + [(until, None)]):
            days = (min(next_since, until) - max(since, start)).days
            if officer_id and days >= 7:
                due[officer_id] = due.get(officer_id, 0) + days // 7
                held.setdefault(officer_id, set()).add(enterprise_id)
    kept, surplus = {}, {}
    for (officer_id, _, value), n in repo.county_facts(("visit",), start, until,
                                                      by_value=True).items():
        if value.split("|")[0] in held.get(officer_id, ()):
            kept[officer_id] = kept.get(officer_id, 0) + 1
            surplus[officer_id] = surplus.get(officer_id, 0) + n - 1
    return {officer_id: (max(0, min(kept.get(officer_id, 0), weeks)
                             - surplus.get(officer_id, 0)), weeks)
            for officer_id, weeks in due.items()}


def lowest_tier(repo, start, until):
    """{officer: (agreements reached without escalation, agreements)}: the disputes of its
    enterprises settled where they were taken in, credited to the A officer of the day."""
    disputes = {}
    for (officer_id, kind, dispute_id), _ in repo.county_facts(
            ("dispute_agreed", "dispute_escalated"), start, until, by_value=True).items():
        disputes.setdefault(officer_id, {}).setdefault(kind, set()).add(dispute_id)
    found = {}
    for officer_id, kinds in disputes.items():
        agreed = kinds.get("dispute_agreed", set())
        if agreed:
            found[officer_id] = (len(agreed - kinds.get("dispute_escalated", set())),
                                 len(agreed))
    return found


def rules_from(given):
    """The rules of the configuration (APPRAISAL_RULES, already loaded through its schema)
    over the defaults. Rules that differ from the defaults need a version of their own, so
    that no score says it used rules it did not."""
    given = dict(given or {})
    if set(given) - {"version"} and given.get("version", Rules.version) == Rules.version:
        raise ValidationFailed({"version": [f"rules that differ from version "
                                            f"{Rules.version}'s need a version of their own"]})
    if "weights" in given:
        given["weights"] = tuple(sorted(given["weights"].items(),
                                        key=lambda kv: COMPONENTS.index(kv[0])))
    return Rules(**given)


def rate_as_chief(repo, data, actor, now):
    """One of the three chiefs rates an officer for a quarter (once per seat)."""
    rating = ChiefRating.give(data["officer_id"], data["year"], data["quarter"], data["seat"],
                              data["criteria"], actor["id"], now)
    return repo.chief_ratings.add(rating)


def draft_list(repo, year, actor, now, rules=Rules()):
    """Draft the year's list from the evidence as it stands (again, while it is a draft)."""
    appraisal = year_of_ratings(repo, year, rules, now)
    if repo.lists.find(str(year)) is None:
        drafted, created = repo.lists.create_once(
            str(year), lambda: AnnualList.draft(year, appraisal, actor["id"], now))
        if created:
            return drafted
    return repo.lists.change(str(year), lambda a: a.redraft(appraisal, actor["id"], now))


def officer_score(repo, officer_id, year, now=None, rules=Rules()):
    """One officer's score and explanation for the year (None: no evidence of it)."""
    return year_of_ratings(repo, year, rules, now).by_id().get(officer_id)


def officer_year(repo, officer_id, year, now=None, rules=Rules()):
    """One officer's year: its score (None without evidence) and its KPIs; OfficerNotRated
    when there is neither."""
    score = officer_score(repo, officer_id, year, now, rules)
    kpis_ = kpis(repo, officer_id, year)
    if score is None and not any(kpis_[k] for k in ("acknowledged", "pages_missed",
                                                    "requests_closed")):
        raise OfficerNotRated(officer_id)
    return {"officer_id": officer_id, "year": year, "score": score, "kpis": kpis_}


def record_facts(repo, event):
    """The facts one event states about officers, each kept once however often the event is
    delivered (see FACTS); the facts, as (officer, kind, value)."""
    return FACTS[event["type"]](repo, event)


def _step_facts(repo, event):
    """An acknowledgement (its latency, to the second), or a missed page (and, for an A
    officer, the failover it caused): kept once per event."""
    data = event["data"]
    if event["type"] == "incident.acknowledged":
        latency = data.get("latency_seconds")
        facts = [(data["officer_id"], "acknowledged",
                  None if latency is None else int(round(latency)))]
    else:
        facts = [(data["officer_id"], "page_missed", None)] + (
            [(data["officer_id"], "failover_caused", None)]
            if data.get("role") == "a_officer" else [])
    for officer_id, fact, value in facts:
        repo.record_fact(f"{event['id']}:{fact}", officer_id, fact, value, data["at"])
    return facts


def _request_facts(repo, event):
    """A request closed on time or late, for the officer it was routed to: once per event."""
    data = event["data"]
    routed = data.get("routed_to") or {}
    if routed.get("kind") != "officer":
        return []
    fact = "request_on_time" if data["at"] <= data["expected_at"] else "request_late"
    repo.record_fact(f"{event['id']}:{fact}", routed["target"], fact, None, data["at"])
    return [(routed["target"], fact, None)]


def _visit_facts(repo, event):
    """A visit counts once for each officer on it, whichever event names it (a proposal
    merged into a visit counts as that visit): its enterprise and ISO week are the value."""
    data = event["data"]
    visit_id = data.get("merged_into") or data["visit_id"]
    year, week, _ = data["start"].isocalendar()
    value = f"{data['enterprise_id']}|{year}-W{week:02d}"
    facts = [(officer_id, "visit", value)
             for officer_id in sorted({data["officer_id"], *data["participants"]} - {None})]
    for officer_id, fact, value in facts:
        repo.record_fact(f"visit:{visit_id}:{officer_id}", officer_id, fact, value,
                         data["start"])
    return facts


def _assignment_facts(repo, event):
    """Who holds the enterprise's A seat from when (kept once per revision)."""
    data = event["data"]
    repo.record_assignment(data["enterprise_id"], data["revision"], data["a_officer_id"],
                           data["valid_from"])
    return []


def _dispute_facts(repo, event):
    """An agreement or an escalation of a dispute, credited to the enterprise's A officer of
    the day (none known: nobody); once per dispute."""
    data = event["data"]
    officer_id = repo.a_officer_at(data["enterprise_id"], data["at"])
    if officer_id is None:
        return []
    fact = "dispute_agreed" if event["type"] == "dispute.agreed" else "dispute_escalated"
    repo.record_fact(f"dispute:{data['dispute_id']}:{fact}", officer_id, fact,
                     data["dispute_id"], data["at"])
    return [(officer_id, fact, data["dispute_id"])]


# What each event appraisal consumes for its KPIs says, by type.
FACTS = {"incident.acknowledged": _step_facts, "incident.page_missed": _step_facts,
         "request.closed": _request_facts, "visit.planned": _visit_facts,
         "visit.merged": _visit_facts, "assignment.changed": _assignment_facts,
         "dispute.agreed": _dispute_facts, "dispute.escalated": _dispute_facts}


def kpis(repo, officer_id, year):
    """The officer's KPIs for the year, from the facts kept."""
    counts = repo.facts_of(officer_id, datetime(year, 1, 1), datetime(year + 1, 1, 1))
    total = {}
    latencies = {}
    for (kind, value), n in counts.items():
        total[kind] = total.get(kind, 0) + n
        if kind == "acknowledged" and value is not None:
            latencies[value] = latencies.get(value, 0) + n
    requests = total.get("request_on_time", 0) + total.get("request_late", 0)
    return {"acknowledged": total.get("acknowledged", 0),
            "median_acknowledgement_seconds": _median(latencies),
            "pages_missed": total.get("page_missed", 0),
            "failovers_caused": total.get("failover_caused", 0),
            "requests_closed": requests,
            "requests_on_time": total.get("request_on_time", 0),
            "requests_on_time_share": round(total.get("request_on_time", 0) / requests, 4)
            if requests else None}


def _median(histogram):
    ordered = sorted(histogram.items())
    count = sum(histogram.values())
    if not count:
        return None
    middle, seen = (count - 1) / 2, 0
    low = high = None
    for value, n in ordered:
        if low is None and seen + n > int(middle):
            low = value
        if seen + n > int(middle + 0.5):
            high = value
            break
        seen += n
    return (low + high) / 2


def quarter_span(year, quarter):
    start = datetime(year, 3 * (quarter - 1) + 1, 1)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, end


def draw_spot_check(repo, year, quarter, per_officer, seed, actor, now):
    """The quarter's sample, drawn once: asking again gives the sample drawn first."""
    start, end = quarter_span(year, quarter)
    cases = [(officer_id, invitation.id) for invitation in repo.issued_between(start, end)
             for officer_id in invitation.officer_ids]
    check, _ = repo.spot_checks.create_once(f"{year}-Q{quarter}", lambda: SpotCheck.draw(
        year, quarter, cases, per_officer, seed, actor["id"], now))
    return check
