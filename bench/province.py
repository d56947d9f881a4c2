"""A province-year of data for benchmarks: the registry's counties and a year of incidents.

Pure and deterministic (no I/O): the same arguments give the same records.

- `build_province(counties, per_county, effective_from)`: synthetic counties for the
  registry, as its domain records with their ids chosen. A county has three stations, ten
  grids, a bureau leader, a chief per station and per grid, a hundred community officers and
  `per_county` enterprises, each assigned A and B officers and the three chiefs. Names and
  codes carry the county number, so counties clash neither with each other nor with the
  demo county.
- `closed_incidents(covers, count, now, seed)`: `count` incidents spread over the year before
  `now` and over the enterprises in `covers`, each reported, paged, acknowledged (a tenth
  after a failover from A to B) and closed, through dispatch's own domain, as a year of
  dispatch's work leaves them: nothing pending, nothing to publish.
"""
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from bson import ObjectId

from services.dispatch.domain import (CATEGORIES, PRIORITIES, Incident, Policy, Recipient,
                                      ladder_from_responders)
from services.enterprise.domain import (AssignmentVersion, Contact, Enterprise, Grid, Officer,
                                        Station, credit_code_check_char)

STATIONS = 3
GRIDS = 10
COMMUNITY_OFFICERS = 100
_KINDS = {"station": 1, "grid": 2, "officer": 3, "enterprise": 4}


@dataclass
class Province:
    stations: list = field(default_factory=list)
    grids: list = field(default_factory=list)
    officers: list = field(default_factory=list)
    enterprises: list = field(default_factory=list)
    assignments: list = field(default_factory=list)  # (enterprise id, AssignmentVersion)

    def covers(self):
        """Who responds for each enterprise, shaped as the registry's `responders` answer
        (the parts dispatch keeps with an incident)."""
        officers = {o.id: o for o in self.officers}
        stations = {s.id: s for s in self.stations}
        enterprises = {e.id: e for e in self.enterprises}
        covers = []
        for enterprise_id, version in self.assignments:
            enterprise = enterprises[enterprise_id]
            seats = [{"seat": seat.removesuffix("_id"), "officer_id": officer_id,
                      "name": officers[officer_id].name, "available": True}
                     for seat in ("a_officer_id", "b_officer_id", "station_leader_id",
                                  "bureau_leader_id")
                     if (officer_id := getattr(version, seat))]
            station = stations[enterprise.station_id]
            area_chief = officers[version.area_chief_id]
            covers.append({"enterprise_id": enterprise_id, "enterprise_name": enterprise.name,
                           "seats": seats,
                           "duty_officer": {"officer_id": area_chief.id,
                                            "name": area_chief.name},
                           "station": {"id": station.id, "name": station.name}})
        return covers


def _id(kind, county, number):
    return str(ObjectId(f"{_KINDS[kind]:02x}{county:06x}{number:016x}"))


def _credit_code(county, number):
    first17 = f"9152{county:04d}{county:03d}{number:06d}"
    return first17 + credit_code_check_char(first17)


def build_province(counties, per_county, effective_from):
    province = Province()
    for county in range(counties):
        _add_county(province, county, per_county, effective_from)
    return province


def _add_county(province, county, per_county, effective_from):
    name = f"第{county + 1:03d}县"
    stations = [Station(_id("station", county, s), f"{name}第{s + 1}派出所", "station",
                        f"{name}城关镇{s + 1}号", f"0851-{county:03d}{s:04d}")
                for s in range(STATIONS)]
    grids = [Grid(_id("grid", county, g), f"P{county:03d}-G{g:02d}", f"{name}第{g + 1}网格",
                  stations[g % STATIONS].id) for g in range(GRIDS)]

    def officer(number, role, station_id, title):
        return Officer(_id("officer", county, number), f"P{county:03d}{number:04d}",
                       f"{title}{county}-{number}", role, station_id, ["public_order"],
                       f"139{county:04d}{number:04d}")

    bureau = officer(0, "bureau_leader", stations[0].id, "局长")
    chiefs = [officer(1 + s, "station_chief", station.id, "所长")
              for s, station in enumerate(stations)]
    area_chiefs = [officer(10 + g, "area_chief", grid.station_id, "片长")
                   for g, grid in enumerate(grids)]
    community = [officer(100 + i, "community_officer", grids[i % GRIDS].station_id, "民警")
                 for i in range(COMMUNITY_OFFICERS)]
    province.stations += stations
    province.grids += grids
    province.officers += [bureau, *chiefs, *area_chiefs, *community]
    for e in range(per_county):
        grid = grids[e % GRIDS]
        enterprise = Enterprise(
            _id("enterprise", county, e), f"{name}企业{e:04d}有限公司", _credit_code(county, e),
            "enterprise", "above_scale" if e % 3 else "other", "production", grid.id,
            grid.station_id, None, f"{name}工业路{e}号", 50 + e % 400, e % 50,
            Contact(f"联系人{e}", ""))
        first = (2 * e) % COMMUNITY_OFFICERS  # each community officer holds ~2 seats per 100
        province.enterprises.append(enterprise)
        province.assignments.append((enterprise.id, AssignmentVersion(
            effective_from, community[first].id,
            community[(first + 1) % COMMUNITY_OFFICERS].id, bureau.id,
            chiefs[(e % GRIDS) % STATIONS].id, area_chiefs[e % GRIDS].id, ("public_order",),
            "bench")))


# --- a year of incidents -----------------------------------------------------------------------

_CLOSINGS = ("resolved",) * 17 + ("referred",) * 2 + ("cancelled",)
_POLICY = Policy()


def closed_incidents(covers, count, now, seed=2025):
    """`count` closed incidents (dispatch.domain.Incident), reported over the year before
    `now` (none in its last hour), oldest first."""
    rng = random.Random(seed)
    year = timedelta(days=365).total_seconds() - 3600
    moments = sorted(rng.random() * year for _ in range(count))
    for n, back in enumerate(reversed(moments)):
        yield _closed_incident(rng, covers[rng.randrange(len(covers))],
                               now - timedelta(seconds=3600 + back), n)


def _closed_incident(rng, cover, reported_at, n):
    duty, station = cover["duty_officer"], cover["station"]
    incident = Incident.report(
        str(uuid.UUID(int=rng.getrandbits(128), version=4)), cover["enterprise_id"],
        cover["enterprise_name"], station["id"] if station else "", rng.choice(CATEGORIES),
        rng.choice(PRIORITIES), f"厂区报警 {n}: 需民警到场处置", "厂区", "enterprise",
        cover["enterprise_id"], ladder_from_responders(cover),
        Recipient("officer", duty["officer_id"], duty["name"], "duty_officer") if duty else None,
        Recipient("station", station["id"], station["name"], "station") if station else None,
        _POLICY, reported_at)
    if incident.deadline is None:  # nobody to page: flagged at intake, closed by a chief
        incident.move_to("cancelled", "bench", reported_at + timedelta(hours=1))
        return incident
    if rng.random() < 0.1 and len(incident.ladder) > 1:  # A missed the page: B takes it
        incident.fire_deadline(_POLICY, incident.deadline)
    page = next(p for p in reversed(incident.notifications) if p.step is not None)
    acked_at = page.sent_at + timedelta(seconds=rng.randint(20, 240))
    incident.acknowledge(page.id, page.recipient.id, acked_at)
    incident.move_to(rng.choice(_CLOSINGS), page.recipient.id,
                     acked_at + timedelta(minutes=rng.randint(30, 2880)), "处置完毕")
    return incident
