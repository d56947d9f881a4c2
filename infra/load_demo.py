"""Load the demo county into a running registry, through its RPC interface (so every record
goes through the same checks and publishes the same events as any other)."""
from datetime import datetime, time, timedelta, timezone

from nameko.standalone.rpc import ClusterRpcProxy

from .demo import build_demo_county


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
    return (f"Demo county loaded: {len(stations)} stations and posts, {len(parks)} parks, "
            f"{len(grids)} grids, {len(enterprises)} enterprises and projects, "
            f"{len(officers)} officers, {len(county['assignments'])} assignments.")
