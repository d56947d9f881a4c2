"""Load the demo county into a running registry, through its RPC interface (so every record
goes through the same checks and publishes the same events as any other)."""
from datetime import datetime, time, timedelta, timezone

from nameko.standalone.rpc import ClusterRpcProxy

from contracts.vocabulary import CHIEF_CRITERIA, CHIEF_SEATS

from .demo import build_demo_county
from .demo_fieldwork import field_year, load_field_work


def _iso(moment):
    return datetime.combine(moment, time.min, tzinfo=timezone.utc).isoformat()


def load_demo(amqp_uri, today=None):
    """Load the county unless the registry already has stations; returns a one-line summary."""
    today = today or datetime.now(timezone.utc).date()  # the platform counts days in UTC
    county = build_demo_county(today)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        registry = cluster.enterprise
        if registry.list_places("station", {"per_page": 1})["total"]:
            return "The registry already has data; the demo county was not loaded again."
        stations = {s["name"]: registry.create_place("station", s)["id"]
                    for s in county["stations"]}
        parks = {p["name"]: registry.create_place("park", {
            "name": p["name"], "station_id": stations[p["station"]], "address": p["address"],
        })["id"] for p in county["parks"]}
        grids = {g["code"]: registry.create_place("grid", {
            "code": g["code"], "name": g["name"], "station_id": stations[g["station"]],
        })["id"] for g in county["grids"]}
        enterprises = {}
        for row in county["enterprises"]:
            data = {k: v for k, v in row.items() if k not in ("grid", "park")}
            data["grid_id"] = grids[row["grid"]]
            data["park_id"] = parks[row["park"]] if row["park"] else None
            enterprises[row["credit_code"]] = registry.register_enterprise(data)["id"]
        officers = {}
        for row in county["officers"]:
            data = {k: v for k, v in row.items() if k != "station"}
            data["station_id"] = stations[row["station"]]
            officers[row["badge_number"]] = registry.register_officer(data)["id"]
        for row in county["absences"]:
            registry.change_availability(officers[row["badge_number"]], {
                "status": "on_leave", "first_day": row["start"].isoformat(),
                "last_day": row["end"].isoformat(), "note": row["note"]})
        for i, row in enumerate(county["assignments"]):
            command = {seat + "_id": officers.get(row[seat]) for seat in
                       ("a_officer", "b_officer", "bureau_leader", "station_leader",
                        "area_chief")}
            command["departments"] = row["departments"]
            enterprise_id = enterprises[row["credit_code"]]
            if i % 5 == 0 and command["a_officer_id"] and command["b_officer_id"]:
                # An earlier arrangement, so the file shows a history: A and B swapped.
                earlier = dict(command, a_officer_id=command["b_officer_id"],
                               b_officer_id=command["a_officer_id"],
                               effective_from=_iso(today - timedelta(days=180)))
                registry.assign(enterprise_id, earlier, "demo-loader")
            command["effective_from"] = _iso(today - timedelta(days=30))
            registry.assign(enterprise_id, command, "demo-loader")
        disputes = load_disputes(cluster.mediation, list(enterprises.values()))
        chief_ratings = load_chief_ratings(cluster.appraisal, county["assignments"], officers,
                                           today)
        seated = {row["credit_code"]: [officers[row[seat]] for seat in ("a_officer", "b_officer")
                                       if officers.get(row[seat])]
                  for row in county["assignments"]}
        field_work = load_field_work(cluster.fieldwork, field_year(
            today, [(e, seated.get(code, [])) for code, e in enterprises.items()],
            list(parks.values()), list(grids.values()), list(officers.values())))
    return (f"Demo county loaded: {len(stations)} stations and posts, {len(parks)} parks, "
            f"{len(grids)} grids, {len(enterprises)} enterprises and projects, "
            f"{len(officers)} officers, {len(county['assignments'])} assignments, "
            f"{disputes} disputes, {chief_ratings} three-chiefs ratings; a year of field "
            f"work: {field_work}.")


def load_chief_ratings(appraisal, assignments, officers, today):
    """This quarter's ratings of each A officer by the three chiefs of its first enterprise
    (figures drawn from its badge number, so every load gives the same)."""
    given, year, quarter = 0, today.year, (today.month - 1) // 3 + 1
    rated = set()
    for row in assignments:
        officer_id = officers.get(row["a_officer"])
        if officer_id is None or officer_id in rated:
            continue
        rated.add(officer_id)
        for k, seat in enumerate(CHIEF_SEATS):
            if officers.get(row[seat]) is None:
                continue
            base = sum(map(ord, row["a_officer"])) + k
            appraisal.rate_as_chief({
                "officer_id": officer_id, "year": year, "quarter": quarter, "seat": seat,
                "criteria": {c: 3 + (base + i) % 3 for i, c in enumerate(CHIEF_CRITERIA)}},
                {"role": "supervisor", "id": officers[row[seat]]})
            given += 1
    return given


# (kind, amount, workers, signals, what became of it): a county's month of disputes in the
# seeds' proportions: most settled where they arose, a few risks, one still watched.
DEMO_DISPUTES = (
    ("wage_arrears", 86_000, 23, (), "kept"),
    ("wage_arrears", 32_000, 6, (), "kept"),
    ("labour_contract", 12_000, 1, (), "kept"),
    ("injury_compensation", 150_000, 1, (), "agreed"),
    ("construction_obstruction", 0, 15, ("threats",), "kept"),
    ("business_contract", 640_000, 1, (), "agreed"),
    ("land_compensation", 220_000, 8, (), "mediating"),
    ("neighbourhood", 3_000, 1, (), "kept"),
    ("wage_arrears", 410_000, 35, ("threats",), "agreed"),
    ("labour_contract", 8_000, 1, (), "mediating"),
)
MEDIATOR = {"role": "mediator", "id": "demo-loader"}


def load_disputes(mediation, enterprise_ids):
    """Take the demo disputes in through mediation, with their sessions and agreements."""
    now = datetime.now(timezone.utc)
    for n, (kind, amount, workers, signals, outcome) in enumerate(DEMO_DISPUTES):
        applicant = ({"kind": "workers", "side": "applicant", "name": f"{n + 1}号车间工人",
                      "headcount": workers} if workers > 1 else
                     {"kind": "individual", "side": "applicant", "name": f"申请人{n + 1}"})
        dispute = mediation.register_dispute({
            "enterprise_id": enterprise_ids[(n * 7) % len(enterprise_ids)], "kind": kind,
            "amount_at_stake": amount, "signals": list(signals), "source": "officer",
            "description": "演示纠纷", "parties": [
                applicant, {"kind": "enterprise", "side": "respondent", "name": "被申请企业"}],
        }, MEDIATOR, f"demo-loader:dispute-{n}")
        if signals:
            mediation.record_session(dispute["id"], {
                "kind": "analysis_meeting", "at": _iso(now), "place": "派出所会议室",
                "attendees": ["所长", "驻企民警", "调解员"], "outcome": "adjourned"}, MEDIATOR)
        if outcome == "mediating":
            continue
        signed = _iso(now)
        mediation.agree(dispute["id"], {
            "facts": "双方对事实无异议", "issues": "支付金额与期限",
            "terms": [{"party": 1, "obligation": "按约支付", "due": _iso(now + timedelta(days=15))}],
            "signatures": [{"party": 0, "at": signed}, {"party": 1, "at": signed}]}, MEDIATOR)
        if outcome == "kept":
            mediation.term_performed(dispute["id"], 0, MEDIATOR)
    return len(DEMO_DISPUTES)
