"""The work report over a province-year: its read model loaded from the events, then the
province's, a county's and a station's report timed.

    python bench/work_report.py [--counties 100] [--scale 1.0] [--batch 200] [--repeat 5]
                                [--seed 2025] [--keep]

Generates a year of field work for `--counties` counties, each shaped like the Weng'an and
Hengkou reports (at `--scale` 1: 330 enterprises with their A/B officers and three chiefs,
500 patrols on foot or in vehicles and 450 video patrols, tens of hazards with their orders,
outreach with 20,000 leaflets, 150 requests closed, 128 disputes with their agreements, risk
flags, meetings and escalations, 300 incidents in the year and 330 in the year before), as
opened events in the order they happen. Applies them through `Figures.apply` in batches of
`--batch` (each county's events for that county, the registry's first) into the embedded
store in a temporary data folder, then times `report("province", None, Jan 1, Dec 31)`, the
province's from Mar 15 to Nov 10 (its edges read day by day), one county's and one
station's year: min, median and max of `--repeat` runs. Prints the load rate and
what the province's report counts beside what was generated. It reports; it never passes or
fails (target: the province-year under 1 s).
"""
import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # eventlet announces its maintenance mode on import
    from kit.storage import open_database  # noqa: E402
from services.fieldwork.figures import Figures  # noqa: E402
from services.fieldwork.report import fold  # noqa: E402

YEAR = 2025
START, END = date(YEAR, 1, 1), date(YEAR, 12, 31)
RAGGED = (date(YEAR, 3, 15), date(YEAR, 11, 10))  # whole months and 27 days at the edges
STATIONS, GRIDS, COMMUNITY = 3, 10, 100
# per county at --scale 1 (the Weng'an and Hengkou reports, a county's scale in DOMAIN.md)
SHAPE = {"enterprises": 330, "street_patrols": 500, "video_patrols": 450, "hazards": 30,
         "requests": 150, "disputes": 128, "incidents": 300, "incidents_before": 330}
SHOWN = ("patrols", "person_times", "police_times", "hazards_found", "rectified",
         "materials", "screened", "settled", "risks_flagged", "services_handled",
         "incidents", "key_incidents", "obstruction")


class County:
    """One county's registry and a year of its field work as opened events (each
    {"id", "type", "time", "data"}, data as its schema loads it), oldest first."""

    def __init__(self, number, rng, scale=1.0):
        self.id = f"county-{number:03d}"
        self.rng = rng
        self.scale = scale
        c = number
        self.stations = [f"s{c:03d}-{s}" for s in range(STATIONS)]
        self.park = f"p{c:03d}"  # in the first station's area
        self.grids = [(f"g{c:03d}-{g:02d}", self.stations[g % STATIONS]) for g in range(GRIDS)]
        self.bureau = f"o{c:03d}-bureau"
        self.chiefs = {s: f"o{c:03d}-chief{i}" for i, s in enumerate(self.stations)}
        self.area_chiefs = {g: f"o{c:03d}-area{i}" for i, (g, _) in enumerate(self.grids)}
        self.community = [f"o{c:03d}-c{i:03d}" for i in range(COMMUNITY)]
        count = max(1, round(SHAPE["enterprises"] * scale))
        self.enterprises = []
        for i in range(count):
            grid, station = self.grids[i % GRIDS]
            level = ("city_key_project" if i % 10 == 0 else "district_key_project"
                     if i % 10 == 1 else "above_scale" if i % 3 else "other")
            self.enterprises.append({"id": f"e{c:03d}-{i:04d}", "grid_id": grid,
                                     "station_id": station, "level": level,
                                     "park_id": self.park if station == self.stations[0]
                                     and i % 2 == 0 else None})
        self.key = [e for e in self.enterprises if e["level"].endswith("key_project")]

    def n(self, figure):
        return max(1, round(SHAPE[figure] * self.scale))

    def events(self):
        """The registry's events (at the year's start), then the year's work in time order."""
        t0 = datetime(YEAR - 1, 1, 1)
        registry = [self._event("officer.registered", t0, {
            "id": officer, "badge_number": officer.upper(), "name": f"民警{officer}",
            "role": role, "station_id": self.stations[0], "departments": []})
            for officer, role in ([(self.bureau, "bureau_leader")]
                                  + [(o, "station_chief") for o in self.chiefs.values()]
                                  + [(o, "area_chief") for o in self.area_chiefs.values()]
                                  + [(o, "community_officer") for o in self.community])]
        for i, e in enumerate(self.enterprises):
            registry.append(self._event("enterprise.registered", t0, {
                "id": e["id"], "name": f"{self.id}企业{i:04d}", "credit_code": "x" * 18,
                "kind": "project" if e in self.key else "enterprise", "level": e["level"],
                "stage": "construction", "grid_id": e["grid_id"],
                "station_id": e["station_id"], "park_id": e["park_id"], "address": "园区",
                "workforce": 100, "migrant_workers": 20}))
            first = (2 * i) % COMMUNITY
            registry.append(self._event("assignment.changed", t0, {
                "enterprise_id": e["id"], "revision": 1, "valid_from": t0,
                "a_officer_id": self.community[first],
                "b_officer_id": None if i % 50 == 49 else self.community[first + 1],
                "bureau_leader_id": self.bureau, "station_leader_id": self.chiefs[
                    e["station_id"]], "area_chief_id": self.area_chiefs[e["grid_id"]],
                "departments": ["public_order"], "changed_by": "bench", "previous": None}))
        work = (self._patrols() + self._hazards() + self._outreach() + self._requests()
                + self._disputes() + self._incidents())
        work.sort(key=lambda event: event["time"])
        return registry + work

    # --- what a year holds ------------------------------------------------------------------

    def _event(self, kind, at, data):
        return {"id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "type": kind,
                "time": at, "data": data}

    def _moment(self, year=YEAR):
        return datetime(year, 1, 1) + timedelta(seconds=self.rng.randrange(365 * 86400))

    def _somewhere(self, enterprise=None):
        """A place of field work: an enterprise's, the park or a grid."""
        rng = self.rng
        if enterprise is None and rng.random() < 0.4:
            enterprise = rng.choice(self.enterprises)
        if enterprise is not None:
            return {"station_id": enterprise["station_id"], "park_id": enterprise["park_id"],
                    "grid_id": enterprise["grid_id"], "enterprise_id": enterprise["id"]}
        grid, station = rng.choice(self.grids)
        return {"station_id": station, "park_id": self.park if station == self.stations[0]
                and rng.random() < 0.5 else None, "grid_id": grid, "enterprise_id": None}

    def _patrols(self):
        rng, events = self.rng, []
        street = self.n("street_patrols")
        for i in range(street + self.n("video_patrols")):
            at, place = self._moment(), self._somewhere()
            officers = rng.sample(self.community, 1 if i >= street else rng.randint(2, 4))
            guards = 0 if i >= street else rng.randint(0, 6)
            kind = "video" if i >= street else ("foot" if i % 2 else "vehicle")
            events.append(self._event("patrol.recorded", at, dict(
                place, patrol_id=f"pt-{self.id}-{i}", kind=kind,
                area_kind="enterprise" if place["enterprise_id"] else
                "park" if place["park_id"] else "grid",
                area_id=place["enterprise_id"] or place["park_id"] or place["grid_id"],
                start=at, end=at + timedelta(hours=2), officer_ids=officers, guards=guards,
                person_times=len(officers) + guards,
                suspicious_persons=int(rng.random() < 0.25),
                suspicious_vehicles=int(rng.random() < 0.17),
                people_helped=int(rng.random() < 0.05), hazards_found=0,
                incidents_raised=int(rng.random() < 0.01))))
        return events

    def _hazards(self):
        rng, events = self.rng, []
        for i in range(self.n("hazards")):
            at = self._moment()
            place = self._somewhere(rng.choice(self.enterprises))
            facts = dict(place, hazard_id=f"hz-{self.id}-{i}", kind="fire", severity="medium")
            on_spot = rng.random() < 0.3
            events.append(self._event("hazard.found", at, dict(
                facts, source="patrol", source_ref=None, rectified_on_spot=on_spot,
                found_at=at)))
            if on_spot:
                continue
            order = dict(facts, deadline=at + timedelta(days=15),
                         verification_visit_id=f"v-{self.id}-{i}")
            events.append(self._event("hazard.order_issued", at + timedelta(hours=1),
                                      dict(order, at=at + timedelta(hours=1))))
            late = rng.random() < 0.15
            if late:
                events.append(self._event("hazard.order_overdue", at + timedelta(days=15),
                                          dict(order, at=at + timedelta(days=15))))
            done = at + timedelta(days=rng.randint(16, 30) if late else rng.randint(1, 14))
            events.append(self._event("hazard.rectified", done, dict(
                place, hazard_id=facts["hazard_id"], status="rectified", on_time=not late,
                actor=self.community[0], at=done)))
        return events

    def _outreach(self):
        events = []
        for kind, count, materials in (("legal_session", 6, 0), ("training", 10, 0),
                                       ("guard_training", 7, 0), ("publicity", 8, 2500)):
            for i in range(max(1, round(count * self.scale))):
                at = self._moment()
                events.append(self._event("outreach.held", at, dict(
                    self._somewhere(), outreach_id=f"out-{self.id}-{kind}-{i}", kind=kind,
                    at=at, attendees=self.rng.randint(15, 80),
                    guards_trained=12 if kind == "guard_training" else 0,
                    materials=materials)))
        return events

    def _requests(self):
        events = []
        for i in range(self.n("requests")):
            at, enterprise = self._moment(), self.rng.choice(self.enterprises)
            events.append(self._event("request.closed", at, {
                "request_id": f"rq-{self.id}-{i}", "enterprise_id": enterprise["id"],
                "service_code": "household_registration", "status": "closed", "at": at,
                "actor": self.community[0], "note": "", "routed_to": None, "referral": None,
                "expected_at": at, "rating": None}))
        return events

    def _disputes(self):
        rng, events = self.rng, []
        for i in range(self.n("disputes")):
            at, e = self._moment(), rng.choice(self.enterprises)
            dispute_id = f"d-{self.id}-{i}"
            events.append(self._event("dispute.registered", at, {
                "dispute_id": dispute_id, "enterprise_id": e["id"],
                "station_id": e["station_id"], "park_id": e["park_id"],
                "grid_id": e["grid_id"], "kind": "wage_arrears", "amount_at_stake": 30000,
                "source": "officer", "source_ref": None, "tier": "enterprise",
                "registered_at": at}))

            def step(kind, when, detail="", extra=""):
                return self._event(kind, when, {
                    "dispute_id": dispute_id, "enterprise_id": e["id"],
                    "station_id": e["station_id"], "tier": "enterprise",
                    "status": "agreed" if kind == "dispute.agreed" else "mediating",
                    "detail": detail, "extra": extra, "actor": "bench", "at": when})
            if rng.random() < 0.04:
                events.append(self._event("dispute.risk_flagged", at, {
                    "dispute_id": dispute_id, "enterprise_id": e["id"],
                    "station_id": e["station_id"], "grade": "high", "flags": [],
                    "rule_version": 1, "reasons": [], "at": at}))
            if rng.random() < 0.3:
                events.append(step("dispute.session_recorded", at + timedelta(days=1),
                                   "analysis_meeting", "adjourned"))
            if rng.random() < 0.08:
                events.append(step("dispute.escalated", at + timedelta(days=2), "decision",
                                   "enterprise"))
            if rng.random() < 0.95:
                events.append(step("dispute.agreed", at + timedelta(days=rng.randint(1, 20)),
                                   "1"))
        return events

    def _incidents(self):
        rng, events = self.rng, []
        for year, count in ((YEAR - 1, self.n("incidents_before")), (YEAR, self.n("incidents"))):
            for i in range(count):
                at = self._moment(year)
                e = rng.choice(self.key) if rng.random() < 0.1 else rng.choice(self.enterprises)
                events.append(self._event("incident.reported", at, {
                    "incident_id": f"i-{self.id}-{year}-{i}", "enterprise_id": e["id"],
                    "enterprise_name": "x", "station_id": e["station_id"],
                    "category": "obstruction" if rng.random() < 0.02 else "theft",
                    "priority": "low", "description": "x", "location": "x",
                    "reporter_role": "enterprise", "reporter_id": e["id"], "reported_at": at}))
        return events


def province(counties, seed, scale=1.0):
    rng = random.Random(seed)
    return [County(number, random.Random(rng.getrandbits(64)), scale)
            for number in range(counties)]


def expected(events_by_county, start=START, end=END):
    """What the province's report should count: each event folded on its own (the bench's
    check on the read model, not its timing)."""
    places = {}
    counts, seen_once = Counter(), set()
    for events in events_by_county:
        for event in events:
            if event["type"] == "enterprise.registered":
                places[event["data"]["id"]] = event["data"]
        for event in events:
            folded = fold(event, places.get(event["data"].get("enterprise_id")))
            if folded is None or not start <= folded.day <= end:
                continue
            if folded.once is not None:
                if folded.once in seen_once:
                    continue
                seen_once.add(folded.once)
            counts.update(folded.counts)
    return counts


def place_of(enterprise_id):
    return None  # the registry's events come first: it is never asked


def timed(call, repeat):
    timings, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        timings.append(time.perf_counter() - began)
    return result, timings


def row(name, timings):
    return (f"  {name:<28} {min(timings) * 1000:8.1f} / {statistics.median(timings) * 1000:8.1f}"
            f" / {max(timings) * 1000:8.1f} ms (min / median / max of {len(timings)})")


def run(args):
    began = time.perf_counter()
    counties = province(args.counties, args.seed, args.scale)
    events = [county.events() for county in counties]
    total = sum(map(len, events))
    print(f"{total} events of {args.counties} counties generated in "
          f"{time.perf_counter() - began:.1f} s "
          f"({Counter(e['type'] for e in events[0]).most_common(4)} ... in the first)",
          flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="work-report-"))
    try:
        database = open_database("fieldwork", None, workdir)
        store = Figures(database)
        store.ensure_indexes()
        began = time.perf_counter()
        for county, county_events in zip(counties, events):
            for start in range(0, len(county_events), args.batch):
                store.apply(county_events[start:start + args.batch], county.id, place_of)
        loaded = time.perf_counter() - began
        documents = store.figures.count()
        print(f"load: {total:,} events in {loaded:.1f} s = {total / loaded:,.0f} events/s "
              f"(batches of {args.batch}); {documents:,} day documents", flush=True)
        report, province_timings = timed(lambda: store.report("province", None, START, END),
                                         args.repeat)
        _, ragged_timings = timed(lambda: store.report("province", None, *RAGGED), args.repeat)
        county = counties[len(counties) // 2]
        _, county_timings = timed(lambda: store.report("county", county.id, START, END),
                                  args.repeat)
        _, station_timings = timed(lambda: store.report("station", county.stations[1],
                                                        START, END), args.repeat)
        print("report, Jan 1 - Dec 31:")
        print(row("province", province_timings))
        print(row("province, Mar 15 - Nov 10", ragged_timings))
        print(row(f"county {county.id}", county_timings))
        print(row(f"station {county.stations[1]}", station_timings))
        wanted = expected(events)
        figures = report["figures"]
        print("province figures (read model / generated):")
        for name in SHOWN:
            mark = "" if figures[name] == wanted[name] else "  <- differs"
            print(f"  {name:<18} {figures[name]:>10,} / {wanted[name]:>10,}{mark}")
        key = report["key_incidents"]
        cover = report["coverage"]
        print(f"  key incidents a year before {key['a_year_before']:,}, change "
              f"{key['change']}; coverage: {cover['enterprises']:,} enterprises, "
              f"{cover['covered']:,} covered")
        database.close()  # the last connection: the write-ahead log goes into the file
        size = sum(p.stat().st_size for p in (workdir / "fieldwork").iterdir())
        print(f"the embedded store's file: {size / 1e6:,.1f} MB")
        return report, wanted
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="each county's events as a share of a real county's")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--keep", action="store_true")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
