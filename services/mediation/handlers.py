"""Mediation's use cases: plain functions over the domain and the repository. Time, the rules
and where the enterprise is (`place`, from the registry) are parameters."""
import statistics as stats
import uuid
from datetime import timedelta

from .domain import Dispute, Party
from .exceptions import InvalidRules, NotAllowed

REQUEST_IDS = uuid.UUID("6f1c2b7e-0d3a-4e5f-9a8b-1c2d3e4f5a6b")


def dispute_id_for(request_key=None):
    """A new dispute's id: derived from `request_key` (the caller and its Idempotency-Key, or
    the case it comes from), so a retry finds the dispute its first try made."""
    return str(uuid.uuid5(REQUEST_IDS, request_key) if request_key else uuid.uuid4())


def register_dispute(repo, place, data, actor, timing, now, request_key=None):
    """Take a dispute in, graded by the current rules."""
    dispute_id = dispute_id_for(request_key)

    def create():
        _check_parties(data)
        rules = repo.current_rules()
        parties = [Party(**p) for p in data["parties"]]
        repeats = repo.earlier_between(parties, now - timedelta(days=rules.repeat_window_days))
        return Dispute.register(dispute_id, place, data, rules, repeats, actor["id"], timing,
                                now)

    dispute, _ = repo.disputes.create_once(dispute_id, create)
    return dispute


def register_reported(repo, place, report, timing, now):
    """A dispute another system reported (`report`: the dispute with its `system` and
    `reference`): the system's reference decides the id, so the same report twice makes one
    dispute."""
    data = dict(report)
    system, reference = data.pop("system"), data.pop("reference")
    data.update(source="agency", source_ref=f"{system}:{reference}")
    return register_dispute(repo, place, data, {"role": "agency", "id": system}, timing, now,
                            request_key=f"external:{system}:{reference}")


def from_case(repo, case, kind, place, data, actor, timing, now):
    """Turn an incident or a request (`case`: its kind, id and description) into a dispute:
    one per case, however often it is asked (the id derives from the case)."""
    data = dict(data, source=case["kind"], source_ref=case["id"],
                description=case["description"] or f"from {case['kind']} {case['id']}",
                exclusion=None)
    return register_dispute(repo, place, data, actor, timing, now,
                            request_key=f"{kind}:{case['id']}")


def _check_parties(data):
    sides = {p["side"] for p in data["parties"]}
    if sides != {"applicant", "respondent"}:
        raise NotAllowed("parties", "a dispute has at least one applicant and one respondent")


def change(repo, dispute_id, step):
    """Apply `step(dispute)` and store it (again from the new state if another change won)."""
    return repo.disputes.change(dispute_id, step)


def regrade(repo, dispute_id, data, actor, timing, now):
    rules = repo.current_rules()

    def step(dispute):
        window = timedelta(days=rules.repeat_window_days)
        repeats = repo.earlier_between(dispute.parties, dispute.registered_at - window,
                                       until=dispute.registered_at, but=dispute_id)
        return dispute.regrade(rules, actor["id"], timing, now,
                               amount=data.get("amount_at_stake"), signals=data.get("signals"),
                               repeats=repeats)
    return change(repo, dispute_id, step)


def revise_rules(repo, changes, attempts=5):
    """A new version of the grading rules with `changes`; grades made before keep theirs."""
    for _ in range(attempts):
        current = repo.current_rules()
        revised = current.revised(**changes)
        errors = revised.check()
        if errors:
            raise InvalidRules(errors)
        if repo.store_rules(revised):
            return revised
    raise NotAllowed("version", "the rules changed meanwhile; try again")


def fire_deadlines(repo, dispute_id, timing, now):
    """Act on the dispute's deadlines due by `now` (each once: a second try finds them
    gone)."""
    fired = []

    def step(dispute):
        fired[:] = dispute.deadlines_passed(timing, now)
        return bool(fired)
    dispute = repo.disputes.change(dispute_id, step)
    return dispute, list(fired)


def statistics(repo, start, end, area=None):
    """The Weng'an table (and Dongying's figures) for disputes taken in during [start, end)."""
    counts = repo.statistics(start, end, area)
    by_status, risks = counts["by_status"], counts["risks"]
    screened = sum(by_status.values())
    resolved = by_status.get("agreed", 0) + by_status.get("closed", 0)
    settled = sum(counts["at_start_tier"].values())
    kept = counts["kept"]
    judged = kept.get(True, 0) + kept.get(False, 0)
    year = timedelta(days=365)
    incidents = repo.incidents_between(start, end, area)
    before = repo.incidents_between(start - year, end - year, area)
    return {"start": start, "end": end, "area": area or {},
            "incidents": incidents, "incidents_a_year_before": before,
            "incidents_change": round((incidents - before) / before, 4) if before else None,
            "screened": screened, "resolved": resolved,
            "resolution_rate": round(resolved / screened, 4) if screened else None,
            "risks_found": sum(risks.values()),
            # a risk is defused once the agreement that settled it was performed, and watched
            # while it is mediated or its agreement is still being followed up
            "risks_defused": risks.get("closed", 0),
            "risks_watched": risks.get("mediating", 0) + risks.get("agreed", 0),
            "analysis_meetings": sum(n * c for n, c in counts["meetings"].items()),
            "settled_at_lowest_tier": round(counts["at_start_tier"].get(True, 0) / settled, 4)
            if settled else None,
            "median_days_to_settle": _median(counts["days_to_settle"]),
            "agreements_kept_on_time": round(kept.get(True, 0) / judged, 4) if judged else None}


def _median(histogram):
    values = sorted((v, n) for v, n in histogram.items() if v is not None)
    total = sum(n for _, n in values)
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value, n in values:
        for position in middle:
            if seen <= position < seen + n:
                found.append(value)
        seen += n
    return float(stats.mean(found))
