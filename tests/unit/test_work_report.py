"""The work report: what each event adds (fold), the report of any area and period (assemble,
Figures.report), the Hengkou and Weng'an figures planted event by event and read back
exactly, nothing counted twice however a batch is applied again, incidents at key
enterprises year on year, coverage, the query and answer schemas, and the printable report
in both languages. On the in-memory fake (kit.tables.MemoryDatabase)."""
import ast
import io
import sys
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts.api.work_report import ReportDocumentQuery, ReportQuery, WorkReport
from contracts.envelope import make_envelope, open_envelope
from contracts.events import CATALOGUE, EVENT_SCHEMAS
from kit.errors import ValidationFailed
from kit.schemas import dump, load
from kit.tables import MemoryDatabase, MemoryTable
from services.fieldwork import report
from services.fieldwork.figures import BINDINGS, Figures, whole_months
from services.fieldwork.report_html import printable, render_html
from services.fieldwork.report_pdf import render_pdf

YEAR = (date(2025, 1, 1), date(2025, 12, 31))
T0 = datetime(2025, 3, 3, 9, 0)
HOUR = timedelta(hours=1)


# --- planting events through their contracts ----------------------------------------------------


class Plant:
    """Opened events (as a consumer holds them after `open_event`), each dumped and loaded
    through its contract, with ids of their own."""

    def __init__(self, prefix="ev"):
        self.prefix, self.n = prefix, 0

    def event(self, kind, data, event_id=None):
        self.n += 1
        envelope = make_envelope(kind, "/tests", data.get("id", "x"), data, EVENT_SCHEMAS,
                                 event_id=event_id or f"{self.prefix}-{self.n}")
        return open_envelope(envelope, EVENT_SCHEMAS)

    def place(self, station="s1", park="p1", grid="g1", enterprise=None):
        return {"station_id": station, "park_id": park, "grid_id": grid,
                "enterprise_id": enterprise}

    def enterprise(self, id, level="other", station="s1", park="p1", grid="g1",
                   kind="enterprise.registered", name=None):
        return self.event(kind, {
            "id": id, "name": name or f"企业{id}", "credit_code": "91520000MA6DKXXX0X",
            "kind": "project" if "key" in level else "enterprise", "level": level,
            "stage": "construction", "grid_id": grid, "station_id": station, "park_id": park,
            "address": "工业园区", "workforce": 100, "migrant_workers": 10})

    def officer(self, id, name):
        return self.event("officer.registered", {
            "id": id, "badge_number": f"B{id}", "name": name, "role": "community_officer",
            "station_id": "s1", "departments": []})

    def assignment(self, enterprise, revision, a="o1", b="o2", bureau="o8", station="o7",
                   chief="o6"):
        return self.event("assignment.changed", {
            "enterprise_id": enterprise, "revision": revision, "valid_from": T0,
            "a_officer_id": a, "b_officer_id": b, "bureau_leader_id": bureau,
            "station_leader_id": station, "area_chief_id": chief, "departments": [],
            "changed_by": "admin", "previous": None})

    def patrol(self, at=T0, kind="foot", officers=("o1", "o2"), guards=2, person_times=None,
               persons=0, vehicles=0, helped=0, incidents=0, **place):
        self.n += 1
        return self.event("patrol.recorded", dict(
            self.place(**place), patrol_id=f"pt{self.n}", kind=kind, area_kind="park",
            area_id="p1", start=at, end=at + HOUR, officer_ids=list(officers), guards=guards,
            person_times=len(set(officers)) + guards if person_times is None else person_times,
            suspicious_persons=persons, suspicious_vehicles=vehicles, people_helped=helped,
            hazards_found=0, incidents_raised=incidents))

    def hazard(self, hazard_id, at=T0, on_spot=False, enterprise="e1", **place):
        return self.event("hazard.found", dict(
            self.place(enterprise=enterprise, **place), hazard_id=hazard_id, kind="fire",
            severity="medium", source="patrol", source_ref=None, rectified_on_spot=on_spot,
            found_at=at))

    def order(self, hazard_id, at=T0, kind="hazard.order_issued", enterprise="e1"):
        return self.event(kind, dict(
            self.place(enterprise=enterprise), hazard_id=hazard_id, kind="fire",
            severity="medium", deadline=at + timedelta(days=15),
            verification_visit_id=f"v-{hazard_id}", at=at))

    def rectified(self, hazard_id, at=T0, on_time=True, enterprise="e1",
                  kind="hazard.rectified"):
        return self.event(kind, dict(
            self.place(enterprise=enterprise), hazard_id=hazard_id, status="rectified",
            on_time=on_time, actor="o1", at=at))

    def outreach(self, kind, at=T0, attendees=0, guards=0, materials=0, **place):
        self.n += 1
        return self.event("outreach.held", dict(
            self.place(**place), outreach_id=f"out{self.n}", kind=kind, at=at,
            attendees=attendees, guards_trained=guards, materials=materials))

    def incident(self, incident_id, enterprise="e1", at=T0, category="theft"):
        return self.event("incident.reported", {
            "incident_id": incident_id, "enterprise_id": enterprise, "enterprise_name": "x",
            "station_id": "s1", "category": category, "priority": "low",
            "description": "x", "location": "x", "reporter_role": "enterprise",
            "reporter_id": enterprise, "reported_at": at})

    def request(self, request_id, enterprise="e1", at=T0, kind="request.closed"):
        return self.event(kind, {
            "request_id": request_id, "enterprise_id": enterprise,
            "service_code": "household_registration", "status": "closed", "at": at,
            "actor": "o1", "note": "", "routed_to": None, "referral": None,
            "expected_at": at, "rating": None})

    def dispute(self, dispute_id, enterprise="e1", at=T0):
        return self.event("dispute.registered", {
            "dispute_id": dispute_id, "enterprise_id": enterprise, "station_id": "s1",
            "park_id": "p1", "grid_id": "g1", "kind": "wage_arrears",
            "amount_at_stake": 30000, "source": "officer", "source_ref": None,
            "tier": "enterprise", "registered_at": at})

    def step(self, kind, dispute_id, enterprise="e1", at=T0, detail="", extra=""):
        return self.event(kind, {
            "dispute_id": dispute_id, "enterprise_id": enterprise, "station_id": "s1",
            "tier": "enterprise", "status": "agreed" if kind == "dispute.agreed"
            else "mediating", "detail": detail, "extra": extra, "actor": "m1", "at": at})

    def flagged(self, dispute_id, enterprise="e1", at=T0, grade="high"):
        return self.event("dispute.risk_flagged", {
            "dispute_id": dispute_id, "enterprise_id": enterprise, "station_id": "s1",
            "grade": grade, "flags": [], "rule_version": 1, "reasons": [], "at": at})

    def referral(self, dispute_id, enterprise="e1", at=T0):
        return self.event("referral.created", {
            "dispute_id": dispute_id, "enterprise_id": enterprise,
            "referral_id": f"{dispute_id}-R1", "agency": "justice", "state": "pending",
            "reason": "", "result": None, "at": at})


def spread(n, start=T0, days=300):
    """n moments spread over `days` days from `start`."""
    return [start + timedelta(days=days * i // max(n, 1), hours=i % 9) for i in range(n)]


def hengkou(plant):
    """Hengkou's report, event by event: 36 services handled on enterprises' behalf, 15 hazards
    found and rectified, 42 disputes screened and settled, 6 obstruction-of-construction cases,
    6 legal trainings, 20,000 leaflets, 1,200 police-times on patrol; with events around them
    that count nothing, or count elsewhere."""
    events = [plant.enterprise("e1", "city_key_project"),
              plant.enterprise("e2", "district_key_project", grid="g2", park=None)]
    events += [plant.request(f"r{i}", "e1" if i % 2 else "e2", at)
               for i, at in enumerate(spread(36))]
    events += [plant.request("r0", "e2", T0, kind="request.rated")]
    for i, at in enumerate(spread(15)):
        events += [plant.hazard(f"h{i}", at), plant.order(f"h{i}", at + HOUR),
                   plant.rectified(f"h{i}", at + 5 * HOUR, on_time=i % 5 != 0,
                                   kind="hazard.rectification_reported"),
                   plant.rectified(f"h{i}", at + 6 * HOUR, on_time=i % 5 != 0)]
    for i, at in enumerate(spread(42)):
        events += [plant.dispute(f"d{i}", "e1", at),
                   plant.step("dispute.agreed", f"d{i}", "e1", at + 2 * HOUR, "1")]
    # one reopened and agreed again: still one dispute settled
    events += [plant.step("dispute.reopened", "d3", "e1", T0 + 40 * HOUR, "term:0"),
               plant.step("dispute.agreed", "d3", "e1", T0 + 50 * HOUR, "1")]
    events += [plant.incident(f"i{i}", "e1", at, "obstruction")
               for i, at in enumerate(spread(6))]
    events += [plant.outreach("legal_session", at, attendees=40)
               for at in spread(6)]
    events += [plant.outreach("publicity", at, materials=2500) for at in spread(8)]
    # 400 patrols of three officers (one named twice: counted once) = 1,200 police-times
    events += [plant.patrol(at, "vehicle", ("o1", "o2", "o3", "o1"), guards=1)
               for at in spread(400)]
    return events


def wengan(plant):
    """Weng'an's report, event by event: 3,600 patrol person-times, 500 patrols and 450 video
    patrols, 6 hazards found and rectified on the spot, 123 suspicious persons and 83 vehicles
    checked, 27 people helped, 7 trainings of the joint patrol team."""
    events = []
    for i, at in enumerate(spread(500)):
        events.append(plant.patrol(at, "foot" if i % 2 else "vehicle", ("o1", "o2"),
                                   guards=4, persons=1 if i < 123 else 0,
                                   vehicles=1 if i < 83 else 0, helped=1 if i < 27 else 0,
                                   grid="g3", park=None))
    for i, at in enumerate(spread(450)):
        events.append(plant.patrol(at, "video", ("o3",) if i < 300 else ("o3", "o4"),
                                   guards=0, grid="g3", park=None))
    events += [plant.hazard(f"wh{i}", at, on_spot=True, enterprise="w1", grid="g3",
                            park=None) for i, at in enumerate(spread(6))]
    events += [plant.outreach("guard_training", at, attendees=20, guards=12, grid="g3",
                              park=None) for at in spread(7)]
    return events


HENGKOU = {"services_handled": 36, "hazards_found": 15, "rectified": 15, "screened": 42,
           "settled": 42, "obstruction": 6, "legal_sessions": 6, "materials": 20_000,
           "police_times": 1_200}
WENGAN = {"person_times": 3_600, "street_patrols": 500, "video_patrols": 450,
          "patrols": 950, "hazards_found": 6, "rectified_on_spot": 6, "suspicious_persons": 123,
          "suspicious_vehicles": 83, "people_helped": 27, "guard_trainings": 7}


def no_registry(enterprise_id):
    return None


@pytest.fixture
def store():
    figures = Figures(MemoryDatabase())
    figures.ensure_indexes()
    return figures


def county_figures(store, county):
    return store.report("county", county, *YEAR)["figures"]


def nonzero(figures):
    return {name: n for name, n in figures.items() if n}


# --- fold ---------------------------------------------------------------------------------------


def test_each_event_counts_on_the_day_of_its_own_business_time():
    plant, late = Plant(), datetime(2025, 6, 30, 23, 59)
    cases = [
        (plant.patrol(late), {"patrols": 1, "street_patrols": 1, "foot_patrols": 1,
                              "person_times": 4, "police_times": 2, "guard_times": 2}),
        # field work sends hazard.rectified for it too: that is what counts it rectified
        (plant.hazard("h1", late, on_spot=True), {"hazards_found": 1, "rectified_on_spot": 1}),
        (plant.order("h1", late), {"orders_issued": 1}),
        (plant.order("h1", late, kind="hazard.order_overdue"), {"overdue": 1}),
        (plant.rectified("h1", late, on_time=False), {"rectified": 1}),
        (plant.outreach("training", late, attendees=30, guards=5),
         {"trainings": 1, "attendees": 30, "guards_trained": 5}),
        (plant.incident("i1", at=late, category="obstruction"),
         {"incidents": 1, "obstruction": 1}),
        (plant.request("r1", at=late), {"services_handled": 1}),
        (plant.dispute("d1", at=late), {"screened": 1}),
        (plant.step("dispute.agreed", "d1", at=late), {"settled": 1}),
        (plant.flagged("d1", at=late), {"risks_flagged": 1}),
        (plant.step("dispute.escalated", "d1", at=late, detail="decision"), {"escalated": 1}),
        (plant.step("dispute.session_recorded", "d1", at=late, detail="analysis_meeting"),
         {"analysis_meetings": 1}),
        (plant.referral("d1", at=late), {"referred": 1}),
    ]
    for event, counts in cases:
        folded = report.fold(event)
        assert (folded.day, folded.counts) == (date(2025, 6, 30), counts), event["type"]
    assert {event["type"] for event, _ in cases} == set(report.COUNTED)


def test_events_that_count_nothing_fold_to_none():
    plant = Plant()
    assert report.fold(plant.step("dispute.session_recorded", "d1", detail="mediation")) is None
    assert report.fold(plant.request("r1", kind="request.rated")) is None
    assert report.fold(plant.rectified("h1", kind="hazard.verification_failed")) is None
    assert report.fold(plant.enterprise("e1")) is None


def test_what_counts_once_is_named_and_a_key_enterprise_is_told_by_its_place():
    plant = Plant()
    assert report.fold(plant.step("dispute.agreed", "d7")).once == "settled:d7"
    assert report.fold(plant.flagged("d7")).once == "risk:d7"
    assert report.fold(plant.request("r7")).once == "request:r7"
    assert report.fold(plant.dispute("d7")).once is None
    incident = plant.incident("i1")
    assert report.fold(incident, {"level": "district_key_project"}).counts == {
        "incidents": 1, "key_incidents": 1}
    assert report.fold(incident, {"level": "above_scale"}).counts == {"incidents": 1}


def test_an_event_counts_where_it_names_itself_or_where_its_enterprise_is():
    plant = Plant()
    assert report.areas(plant.patrol(station="s2", park=None, grid="g4")) == [
        ("station", "s2"), ("grid", "g4")]
    assert report.areas(plant.hazard("h1", station="s2", park="p2", grid="g4")) == [
        ("station", "s2"), ("park", "p2"), ("grid", "g4"), ("enterprise", "e1")]
    place = {"station_id": "s3", "park_id": None, "grid_id": "g5"}
    assert report.areas(plant.incident("i1", "e9"), place) == [
        ("station", "s3"), ("grid", "g5"), ("enterprise", "e9")]
    assert report.areas(plant.request("r1", "e9"), None) == [("enterprise", "e9")]


def test_the_report_module_is_pure():
    """Standard library and the contracts' value lists only (the import-linter contract for
    domain modules holds it too once services/fieldwork is a package)."""
    tree = ast.parse(Path(report.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"contracts.vocabulary"}, imported


def test_every_figure_has_a_section_labels_and_what_adds_to_it():
    names = [figure.name for figure in report.FIGURES]
    assert len(names) == len(set(names))
    sections = {name for name, _, _ in report.SECTIONS}
    assert all(f.section in sections and f.zh and f.en and f.summed for f in report.FIGURES)
    assert set(HENGKOU) | set(WENGAN) <= set(names)


def test_the_bindings_are_catalogued_and_hold_every_type_that_counts():
    catalogued = {(f"{service}.events", kind) for service, kinds in CATALOGUE.items()
                  for kind in kinds}
    assert set(BINDINGS) <= catalogued
    assert set(report.COUNTED) <= {kind for _, kind in BINDINGS}
    assert {"enterprise.registered", "enterprise.updated", "assignment.changed"} <= {
        kind for _, kind in BINDINGS}


# --- the planted reports ------------------------------------------------------------------------


def test_hengkou_planted_event_by_event_reads_back_exactly(store):
    for event in hengkou(Plant("hk")):
        store.apply([event], "hengkou", no_registry)
    figures = county_figures(store, "hengkou")
    assert {name: figures[name] for name in HENGKOU} == HENGKOU
    assert figures["key_incidents"] == 6 and figures["incidents"] == 6
    assert figures["orders_issued"] == 15 and figures["rectified_on_time"] == 12


def test_wengan_planted_in_batches_reads_back_exactly(store):
    events = wengan(Plant("wa"))
    for start in range(0, len(events), 37):
        store.apply(events[start:start + 37], "wengan", no_registry)
    figures = county_figures(store, "wengan")
    assert {name: figures[name] for name in WENGAN} == WENGAN
    assert figures["foot_patrols"] + figures["vehicle_patrols"] == 500


def test_a_batch_applied_twice_counts_once(store):
    events = hengkou(Plant("hk"))
    store.apply(events, "hengkou", no_registry)
    once = county_figures(store, "hengkou")
    store.apply(events, "hengkou", no_registry)
    store.apply(list(reversed(events[:300])) + events[:300], "hengkou", no_registry)
    assert county_figures(store, "hengkou") == once
    assert {name: once[name] for name in HENGKOU} == HENGKOU


class Killed(Exception):
    pass


class DyingTable(MemoryTable):
    """A table of a process killed after `budget["left"]` more writes (to any of the tables
    sharing the budget): it shares the documents of the table it stands for."""

    def __init__(self, table, budget):
        super().__init__(table.name)
        self.rows, self.unique, self._lock = table.rows, table.unique, table._lock
        self.budget = budget

    def _write(self):
        if self.budget["left"] == 0:
            raise Killed()
        self.budget["left"] -= 1

    def update(self, query, changes, upsert=False):
        self._write()
        return super().update(query, changes, upsert)

    def insert(self, row):
        self._write()
        return super().insert(row)


def killed_after(database, writes):
    """A database whose figures tables die after `writes` writes, over the same documents."""
    Figures(database)  # its tables made, so the dying one shares them
    dying, budget = MemoryDatabase(), {"left": writes}
    dying.tables = dict(database.tables)
    for name in ("figures", "figures_by_month", "counted_once"):
        dying.tables[name] = DyingTable(database.table(name), budget)
    return dying


def test_a_batch_half_applied_then_applied_whole_counts_once():
    plant = Plant("k")
    events = [plant.enterprise("e1", "city_key_project"), plant.assignment("e1", 1)]
    events += [plant.patrol(at, enterprise="e1", persons=1) for at in spread(30, days=5)]
    events += [plant.incident(f"i{i}", "e1", at) for i, at in enumerate(spread(10, days=5))]
    events += [plant.step("dispute.agreed", "d1", "e1", T0), plant.flagged("d1"),
               plant.flagged("d1", at=T0 + 30 * HOUR, grade="critical")]
    clean = Figures(MemoryDatabase())
    clean.apply(events, "c1", no_registry)
    areas = (("county", "c1"), ("station", "s1"), ("grid", "g1"), ("enterprise", "e1"))
    expected = {area: clean.report(*area, *YEAR)["figures"] for area in areas}
    county = expected[("county", "c1")]
    assert county["risks_flagged"] == 1 and county["patrols"] == 30
    writes = 0
    while True:
        database = MemoryDatabase()
        try:
            Figures(killed_after(database, writes)).apply(events, "c1", no_registry)
        except Killed:
            pass
        else:
            break  # enough writes to finish: every point of death was tried
        figures = Figures(database)
        figures.apply(events[::2], "c1", no_registry)  # part of it again, then all of it
        figures.apply(events, "c1", no_registry)
        for area, counts in expected.items():
            assert figures.report(*area, *YEAR)["figures"] == counts, (writes, area)
        writes += 1
    assert writes > 10


def test_a_dispute_settled_or_flagged_again_counts_once_even_across_batches(store):
    plant = Plant()
    first = [plant.dispute("d1"), plant.step("dispute.agreed", "d1", at=T0), plant.flagged("d1")]
    again = [plant.step("dispute.agreed", "d1", at=T0 + 48 * HOUR),
             plant.flagged("d1", at=T0 + 50 * HOUR, grade="critical"),
             plant.request("r1"), plant.request("r1", at=T0 + HOUR)]
    store.apply(first, "c1", no_registry)
    store.apply(again, "c1", no_registry)
    store.apply(first + again, "c1", no_registry)
    figures = county_figures(store, "c1")
    assert (figures["screened"], figures["settled"], figures["risks_flagged"],
            figures["services_handled"]) == (1, 1, 1, 1)
    # counted on the first agreement's day
    assert store.report("county", "c1", T0.date(), T0.date())["figures"]["settled"] == 1


# --- areas and periods --------------------------------------------------------------------------


def test_every_area_kind_and_the_province_over_two_counties(store):
    store.apply(hengkou(Plant("hk")), "hengkou", no_registry)
    store.apply(wengan(Plant("wa")), "wengan", no_registry)
    province = store.report("province", None, *YEAR)
    hk, wa = county_figures(store, "hengkou"), county_figures(store, "wengan")
    assert province["figures"] == {name: hk[name] + wa[name] for name in hk}
    assert province["area"] == {"kind": "province", "id": None}
    # the key enterprises' incidents are e1's; e2 is in grid g2 and no park
    assert store.report("enterprise", "e1", *YEAR)["figures"]["obstruction"] == 6
    assert store.report("enterprise", "e2", *YEAR)["figures"]["services_handled"] == 18
    assert store.report("grid", "g2", *YEAR)["figures"]["services_handled"] == 18
    assert store.report("park", "p1", *YEAR)["figures"]["services_handled"] == 18
    assert store.report("station", "s1", *YEAR)["figures"]["services_handled"] == 36
    assert store.report("grid", "g3", *YEAR)["figures"]["person_times"] == 3_600
    assert store.report("park", "p1", *YEAR)["figures"]["person_times"] == 400 * 4
    assert store.report("county", "nowhere", *YEAR)["figures"] == report.total([])


def test_a_county_reads_whole_months_by_month_and_the_days_at_the_edges():
    plant, store = Plant(), Figures(MemoryDatabase())
    moments = [datetime(2024, 12, 20) + timedelta(days=d, hours=d % 24) for d in range(420)]
    events = [plant.patrol(at, officers=("o1",), guards=d % 3, station="s1" if d % 2 else "s2")
              for d, at in enumerate(moments)]
    store.apply(events, "c1", no_registry)
    store.apply(events[:40], "c2", no_registry)
    for start, end in ((date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 3, 15),
                       date(2025, 5, 10)), (date(2025, 3, 15), date(2025, 3, 20)),
                       (date(2024, 12, 31), date(2025, 2, 1)), (date(2025, 2, 1),
                       date(2025, 2, 28)), (date(2025, 2, 2), date(2026, 2, 27))):
        wanted = report.total(report.fold(e).counts for e in events
                              if start <= e["data"]["start"].date() <= end)
        county = store.report("county", "c1", start, end)["figures"]
        stations = [store.report("station", s, start, end)["figures"] for s in ("s1", "s2")]
        assert county == wanted == report.total(stations), (start, end)
        assert store.report("province", None, start, end)["figures"]["patrols"] == \
            wanted["patrols"] + store.report("county", "c2", start, end)["figures"]["patrols"]
    assert whole_months(date(2025, 3, 15), date(2025, 5, 10)) == (
        (date(2025, 4, 1), date(2025, 4, 30)),
        [(date(2025, 3, 15), date(2025, 3, 31)), (date(2025, 5, 1), date(2025, 5, 10))])
    assert whole_months(date(2025, 3, 2), date(2025, 3, 30)) == (
        None, [(date(2025, 3, 2), date(2025, 3, 30))])
    assert whole_months(date(2024, 2, 1), date(2024, 2, 29)) == (
        (date(2024, 2, 1), date(2024, 2, 29)), [])


def test_a_period_holds_its_first_and_last_days_only():
    store = Figures(MemoryDatabase())
    plant = Plant()
    days = [datetime(2025, 5, d, 23, 59) for d in (1, 2, 3, 4)]
    store.apply([plant.patrol(at) for at in days], "c1", no_registry)
    two = store.report("county", "c1", date(2025, 5, 2), date(2025, 5, 3))
    assert (two["figures"]["patrols"], two["days"]) == (2, 2)
    assert store.report("county", "c1", date(2025, 5, 4), date(2025, 5, 4))[
        "figures"]["patrols"] == 1


def test_incidents_at_key_enterprises_year_on_year(store):
    plant = Plant()
    events = [plant.enterprise("k1", "city_key_project"), plant.enterprise("o1", "other")]
    events += [plant.incident(f"a{i}", "k1", datetime(2024, 3, 1) + timedelta(days=i))
               for i in range(35)]
    events += [plant.incident(f"b{i}", "k1", datetime(2025, 3, 1) + timedelta(days=i))
               for i in range(26)]
    events += [plant.incident(f"c{i}", "o1", datetime(2025, 3, 1)) for i in range(9)]
    store.apply(events, "c1", no_registry)
    key = store.report("county", "c1", date(2025, 3, 1), date(2025, 12, 31))["key_incidents"]
    assert key == {"value": 26, "start_before": date(2024, 3, 1),
                   "end_before": date(2024, 12, 31), "a_year_before": 35, "change": -0.2571}
    assert report.a_year_before(date(2024, 2, 29), date(2024, 3, 1)) == (
        date(2023, 2, 28), date(2023, 3, 1))
    assert store.report("county", "c1", date(2024, 3, 1), date(2024, 12, 31))[
        "key_incidents"]["change"] is None


def test_an_enterprise_the_registry_has_not_announced_is_placed_by_asking_it_once(store):
    asked = []

    def place_of(enterprise_id):
        asked.append(enterprise_id)
        return {"station_id": "s9", "park_id": None, "grid_id": "g9",
                "level": "district_key_project"}

    plant = Plant()
    store.apply([plant.incident("i1", "e5"), plant.incident("i2", "e5")], "c1", place_of)
    store.apply([plant.request("r1", "e5")], "c1", place_of)
    assert asked == ["e5"]
    assert store.place("e5")["grid_id"] == "g9" and store.place("nobody") is None
    figures = store.report("grid", "g9", *YEAR)["figures"]
    assert (figures["incidents"], figures["key_incidents"], figures["services_handled"]) == (
        2, 2, 1)
    # the registry's own word replaces what it answered
    store.apply([plant.enterprise("e5", "other", station="s1", grid="g1")], "c1", place_of)
    store.apply([plant.incident("i3", "e5")], "c1", place_of)
    assert store.report("grid", "g1", *YEAR)["figures"]["incidents"] == 1
    assert store.place("e5")["level"] == "other"


# --- coverage -----------------------------------------------------------------------------------


def test_coverage_counts_the_seats_held_now_and_lists_the_gaps_first(store):
    plant = Plant()
    events = [plant.officer("o1", "张警官"), plant.enterprise("e1", "city_key_project"),
              plant.enterprise("e2", "other"), plant.enterprise("e3", "district_key_project"),
              plant.enterprise("e4", "other", station="s2", park=None, grid="g9"),
              plant.assignment("e1", 2, a="o1", b="o2"),
              plant.assignment("e1", 1, a="o5", b=None),  # older: ignored, though later
              plant.assignment("e2", 1, b=None),
              plant.assignment("e3", 1, chief=None)]
    store.apply(events, "c1", no_registry)
    store.apply([plant.assignment("e1", 1, a="o5", b=None)], "c1", no_registry)
    cover = store.report("county", "c1", *YEAR)["coverage"]
    assert {k: v for k, v in cover.items() if k != "rows"} == {
        "enterprises": 4, "key_enterprises": 2, "with_a_and_b": 2, "with_three_chiefs": 2,
        "covered": 1, "key_covered": 1, "rows_not_shown": 0}
    assert [row["enterprise_id"] for row in cover["rows"]] == ["e2", "e3", "e4", "e1"]
    e1 = cover["rows"][-1]
    assert e1["a_officer"] == {"id": "o1", "name": "张警官", "badge_number": "Bo1"}
    assert e1["b_officer"] == {"id": "o2", "name": None, "badge_number": None}
    assert (e1["revision"], e1["key"], e1["covered"]) == (2, True, True)
    assert cover["rows"][2]["a_officer"] is None  # e4: registered, never assigned
    assert store.report("station", "s2", *YEAR)["coverage"]["enterprises"] == 1
    assert store.report("enterprise", "e3", *YEAR)["coverage"]["with_three_chiefs"] == 0
    assert store.report("province", None, *YEAR)["coverage"]["enterprises"] == 4


def test_an_enterprise_that_moves_is_covered_where_it_is_now(store):
    plant = Plant()
    store.apply([plant.enterprise("e1"), plant.assignment("e1", 1)], "c1", no_registry)
    store.apply([plant.enterprise("e1", grid="g7", kind="enterprise.updated")], "c1",
                no_registry)
    assert store.report("grid", "g7", *YEAR)["coverage"]["covered"] == 1
    assert store.report("grid", "g1", *YEAR)["coverage"]["enterprises"] == 0


def test_a_long_list_of_enterprises_is_cut_and_says_how_many_were_left_out(store):
    plant = Plant()
    store.apply([plant.enterprise(f"e{i:03d}") for i in range(130)], "c1", no_registry)
    cover = store.report("county", "c1", *YEAR)["coverage"]
    assert (len(cover["rows"]), cover["rows_not_shown"]) == (100, 30)


# --- the query and the answer -------------------------------------------------------------------


def test_the_query_names_the_field_it_refuses():
    good = {"area_kind": "county", "area_id": "c1", "start": "2025-01-01", "end": "2025-12-31"}
    assert load(ReportQuery, good) == {"area_kind": "county", "area_id": "c1",
                                       "start": date(2025, 1, 1), "end": date(2025, 12, 31),
                                       "lang": "zh"}
    assert load(ReportQuery, {"area_kind": "province", "start": "2025-01-01",
                              "end": "2025-01-01", "lang": "en"})["area_id"] is None
    assert load(ReportDocumentQuery, good)["format"] == "html"
    assert load(ReportDocumentQuery, dict(good, format="pdf", lang="en"))["format"] == "pdf"
    with pytest.raises(ValidationFailed) as refused:
        load(ReportDocumentQuery, dict(good, format="docx"))
    assert list(refused.value.errors) == ["format"]
    with pytest.raises(ValidationFailed):
        load(ReportQuery, dict(good, format="pdf"))  # the JSON answer has no format
    # a county without an id is the platform's own (the service names it)
    assert load(ReportQuery, dict(good, area_id=None))["area_id"] is None
    for change, field in ((dict(area_kind="grid", area_id=None), "area_id"),
                          (dict(area_kind="city"), "area_kind"),
                          (dict(end="2024-12-31"), "end"), (dict(end="2028-01-02"), "end"),
                          (dict(lang="fr"), "lang"), (dict(start="yesterday"), "start"),
                          (dict(area_kind="province"), "area_id"), (dict(extra=1), "extra")):
        with pytest.raises(ValidationFailed) as refused:
            load(ReportQuery, dict(good, **change))
        assert field in refused.value.errors, (change, refused.value.errors)


def test_the_answer_dumps_every_figure_and_the_coverage(store):
    store.apply(hengkou(Plant("hk")) + [Plant("a").assignment("e1", 1)], "hengkou",
                no_registry)
    answer = dump(WorkReport, store.report("county", "hengkou", *YEAR))
    assert answer["start"] == "2025-01-01" and answer["area"] == {"kind": "county",
                                                                   "id": "hengkou"}
    assert answer["figures"]["materials"] == 20_000
    assert [s["name"] for s in answer["sections"]] == [name for name, _, _ in report.SECTIONS]
    assert sum(len(s["figures"]) for s in answer["sections"]) == len(report.FIGURES)
    rows = {row["enterprise_id"]: row for row in answer["coverage"]["rows"]}
    assert rows["e1"]["a_officer"]["id"] == "o1" and rows["e2"]["a_officer"] is None
    assert WorkReport().validate(answer) == {}


# --- printed ------------------------------------------------------------------------------------


@pytest.fixture
def hengkou_report(store):
    store.apply(hengkou(Plant("hk")) + [Plant("a").officer("o1", "刘警官"),
                                        Plant("b").assignment("e1", 1)], "hengkou", no_registry)
    return store.report("county", "hengkou", *YEAR)


@pytest.mark.parametrize("lang, labels", [
    ("zh", ("警企联络工作报告", "代办帮办业务(件)", "发放宣传资料(份)", "出动警力(人次)",
            "重点项目周边警情同比", "刘警官", "空缺")),
    ("en", ("Police-enterprise liaison work report", "services handled on enterprises' behalf",
            "leaflets and materials handed out", "police-times on patrol",
            "Incidents at key enterprises, year on year", "刘警官", "vacant")),
])
def test_the_html_holds_the_figures_and_the_labels_of_its_language(hengkou_report, lang,
                                                                    labels):
    page = unescape(render_html(hengkou_report, lang))
    for label in labels:
        assert label in page, label
    for name, value in HENGKOU.items():
        figure = report.BY_NAME[name]
        row = f"<td>{figure.zh if lang == 'zh' else figure.en}</td>" \
              f"<td class=\"value\">{value:,}</td>"
        assert row in page, row
    other = "Police-enterprise liaison work report" if lang == "zh" else "警企联络工作报告"
    assert other not in page


def test_the_pdf_is_chinese_text_and_the_same_report_gives_the_same_bytes(hengkou_report):
    first = render_pdf(hengkou_report, "zh")
    assert first.startswith(b"%PDF")
    assert render_pdf(hengkou_report, "zh") == first
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(first)).pages)
    assert "代办帮办业务(件)" in text and "20,000" in text and "1,200" in text
    english = render_pdf(hengkou_report, "en")
    assert english.startswith(b"%PDF") and english != first
    assert b"STSong-Light" in first


def test_the_printable_shows_a_change_and_none_when_there_was_nothing_before():
    before = report.assemble("county", "c1", *YEAR, [{"key_incidents": 26}],
                             [{"key_incidents": 35}], report.coverage({}, []))
    rows = dict(printable(before, "en").blocks[-2].table.rows)
    assert rows["Change"] == "-25.7%"
    none = report.assemble("county", "c1", *YEAR, [], [], report.coverage({}, []))
    assert dict(printable(none, "zh").blocks[-2].table.rows)["同比变化"] == "—"
