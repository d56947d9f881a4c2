"""Appraisal's use cases: invitations from dispatch's closed cases, ratings, the year's
scores and lists."""
from datetime import datetime, timedelta

from .domain import AnnualList, Invitation, SpotCheck
from .exceptions import OfficerNotRated
from .scoring import Ratings, Rules, appraise

VALID_FOR = timedelta(days=14)


def invite(repo, case_kind, case_id, enterprise_id, officer_ids, now, valid_for=VALID_FOR):
    """An invitation for a closed case (once: a redelivered event finds the first); none
    when nobody handled it."""
    if not any(officer_ids):
        return None
    invitation, _ = repo.invitations.create_once(
        f"{case_kind}:{case_id}",
        lambda: Invitation.issue(case_kind, case_id, enterprise_id, officer_ids, now,
                                 valid_for))
    return invitation


def from_event(repo, event, now):
    """The invitation an `incident.closed` or `request.closed` event calls for."""
    data = event["data"]
    if event["type"] == "incident.closed":
        officers = [data["acknowledged_by"]] if data.get("acknowledged_by") else []
        return invite(repo, "incident", data["incident_id"], data["enterprise_id"], officers,
                      now)
    routed = data.get("routed_to") or {}
    officers = [routed["target"]] if routed.get("kind") == "officer" else []
    return invite(repo, "request", data["request_id"], data["enterprise_id"], officers, now)


def rate(repo, invitation_id, data, actor, now):
    def step(invitation):
        invitation.rate(data["officer_id"], data["score"], data["satisfied"],
                        data.get("comment", ""), actor["id"], now)
    return repo.invitations.change(invitation_id, step)


def year_of_ratings(repo, year, rules=Rules()):
    """The ratings given in `year` (the enterprise rating, per officer), scored."""
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    officers, raters, scores = [], [], []
    for invitation in repo.issued_between(start - VALID_FOR, end):
        for rating in invitation.ratings:
            if start <= rating.rated_at < end:
                officers.append(rating.officer_id)
                raters.append(invitation.enterprise_id)
                scores.append(rating.score)
    return appraise(Ratings.of(officers, raters, scores), rules, seed=year)


def draft_list(repo, year, actor, now):
    """Draft the year's list from the ratings as they stand (again, while it is a draft)."""
    appraisal = year_of_ratings(repo, year)
    if repo.lists.find(str(year)) is None:
        drafted, created = repo.lists.create_once(
            str(year), lambda: AnnualList.draft(year, appraisal, actor["id"], now))
        if created:
            return drafted
    return repo.lists.change(str(year), lambda a: a.redraft(appraisal, actor["id"], now))


def officer_score(repo, officer_id, year):
    """One officer's score and explanation for the year (None: not rated that year)."""
    return year_of_ratings(repo, year).by_id().get(officer_id)


def officer_year(repo, officer_id, year):
    """One officer's year: its score (None without a rating) and its KPIs; OfficerNotRated
    when there is neither."""
    score, kpis_ = officer_score(repo, officer_id, year), kpis(repo, officer_id, year)
    if score is None and not any(kpis_[k] for k in ("acknowledged", "pages_missed",
                                                    "requests_closed")):
        raise OfficerNotRated(officer_id)
    return {"officer_id": officer_id, "year": year, "score": score, "kpis": kpis_}


def record_facts(repo, event):
    """The KPI facts one of dispatch's events states, kept once per event: an acknowledgement
    (its latency, to the second), a missed page (and, for an A officer, the failover it
    caused), a request closed on time or late (for the officer it was routed to)."""
    data, kind = event["data"], event["type"]
    facts = []
    if kind == "incident.acknowledged":
        latency = data.get("latency_seconds")
        facts.append((data["officer_id"], "acknowledged",
                      None if latency is None else int(round(latency))))
    elif kind == "incident.page_missed":
        facts.append((data["officer_id"], "page_missed", None))
        if data.get("role") == "a_officer":
            facts.append((data["officer_id"], "failover_caused", None))
    elif kind == "request.closed":
        routed = data.get("routed_to") or {}
        if routed.get("kind") == "officer":
            on_time = data["at"] <= data["expected_at"]
            facts.append((routed["target"], "request_on_time" if on_time else "request_late",
                          None))
    at = data.get("at") or data.get("closed_at")
    for officer_id, fact, value in facts:
        repo.record_fact(f"{event['id']}:{fact}", officer_id, fact, value, at)
    return facts


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
