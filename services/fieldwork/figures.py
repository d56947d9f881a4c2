"""The work report's read model: the figures of each area and day, kept current from the
services' events as they arrive, and the enterprises' places and who covers them.

Tables (kit.tables, laid out as MongoDB serves them well):

- `figures`: one document per (area kind, area id, day): `n` holds the day's figures as
  counters, `applied` the ids of the events counted in them, `v` a version. A batch is applied
  with one write per document (its events grouped), each write guarded by the version read
  just before it and adding its events' counts and ids together, so a document holds an
  event's counts exactly when it holds its id.
- `figures_by_month`: the same per (county, month): a county's or the province's report reads
  the whole months of its period there and only the days at its edges in `figures` (a
  province-year is 12 documents per county, not 365).
- `places`: each enterprise's county, station, park, grid, level and name, from the
  registry's `enterprise.registered` / `enterprise.updated` (or, for an enterprise those
  have not named, from the registry when asked).
- `coverage`: each enterprise's current A and B officers and three chiefs from
  `assignment.changed` (a newer `revision` replaces an older one, never the reverse), with its
  place, so one count on the indexes answers an area's coverage.
- `officers`: officers' names and badges (`officer.registered` / `officer.updated`), to name
  them in the coverage rows.
- `counted_once`: which event counted a thing that counts once (a dispute settled, a request
  handled); see services.fieldwork.report.Folded.
"""
from collections import defaultdict
from datetime import timedelta

from contracts.topology import events_exchange
from kit.tables import DuplicateKey

from .report import (COUNTED, KEY_LEVELS, a_year_before, areas, assemble, carries_place,
                     coverage, fold)

FIGURES, MONTHLY, PLACES, COVERAGE, OFFICERS, ONCE = (
    "figures", "figures_by_month", "places", "coverage", "officers", "counted_once")
PLACE_EVENTS = ("enterprise.registered", "enterprise.updated")
OFFICER_EVENTS = ("officer.registered", "officer.updated")
REGISTRY = (*PLACE_EVENTS, *OFFICER_EVENTS, "assignment.changed")
_SOURCES = {"enterprise": REGISTRY,
            "dispatch": ("incident.reported", "request.closed"),
            "mediation": ("dispute.registered", "dispute.agreed", "dispute.risk_flagged",
                          "dispute.escalated", "dispute.session_recorded", "referral.created"),
            "fieldwork": ("patrol.recorded", "hazard.found", "hazard.order_issued",
                          "hazard.order_overdue", "hazard.rectified", "outreach.held")}
# (exchange, event type) of every event the read model consumes.
BINDINGS = [(events_exchange(service), kind) for service, kinds in _SOURCES.items()
            for kind in kinds]

SEATS = ("a_officer_id", "b_officer_id", "bureau_leader_id", "station_leader_id",
         "area_chief_id")
AREA_QUERY = {"county": "county", "station": "station_id", "park": "park_id",
              "grid": "grid_id", "enterprise": "_id"}
ROWS = 100  # enterprises listed in a report's coverage (those with a gap first)
RETRIES = 20  # rounds of a batch's writes lost to another writer before giving up
CHUNK = 500  # keys asked for in one query


class Figures:
    """The read model over a service's `database` (kit.tables). Its guarantees:

    - an event counts at most once in any area's figures, however often and in whatever
      batches it is applied, and a batch that failed part-way (the process killed between
      two writes) counts, applied again, what it had not counted yet;
    - an event counts on the day of its own business time (services.fieldwork.report), for
      the county given and the areas it names or its enterprise is in when it is counted;
    - a report reads only this read model: it never waits for another service.

    It does not order events: a report holds what has arrived, and an event that arrives late
    counts on its own day from then on."""

    def __init__(self, database):
        self.figures = database.table(FIGURES)
        self.monthly = database.table(MONTHLY)
        self.places = database.table(PLACES)
        self.coverage = database.table(COVERAGE)
        self.officers = database.table(OFFICERS)
        self.once = database.table(ONCE)

    def ensure_indexes(self):
        for table in (self.figures, self.monthly):
            table.ensure_index([("kind", 1), ("area", 1), ("day", 1)])
            table.ensure_index([("kind", 1), ("day", 1)])  # a province: every county
        for field in AREA_QUERY.values():
            if field != "_id":
                self.coverage.ensure_index([(field, 1), ("covered", 1), ("_id", 1)])
        # the fields an area's coverage is counted on: answered by a GROUP BY in SQL
        self.coverage.ensure_index([("key", 1), ("a_and_b", 1), ("three_chiefs", 1)])

    # --- places ----------------------------------------------------------------------------

    def place(self, enterprise_id):
        """The enterprise's place as last recorded ({"county", "station_id", "park_id",
        "grid_id", "level", "name"}), or None if the read model has not met it."""
        row = self.places.get(enterprise_id)
        return None if row is None else {k: v for k, v in row.items() if k != "_id"}

    # --- applying events -----------------------------------------------------------------------

    def apply(self, events, county, place_of):
        """Count `events` (opened events: {"id", "type", "time", "data"}, data loaded through
        its schema) for `county` and the areas inside it; keep the registry's places,
        officers and assignments. `place_of(enterprise_id)` gives the place of an enterprise
        the read model does not know yet ({"station_id", "park_id", "grid_id", "level"}, or
        None): a place it gives is kept, and not asked for again. Events of other types are
        ignored.

        Safe to repeat with any part of the same events (see the class's guarantees)."""
        events = [e for e in events if e["type"] in COUNTED or e["type"] in REGISTRY]
        known = self._known_places(events)
        counted, assignments = [], {}
        for event in events:
            kind, data = event["type"], event["data"]
            if kind in PLACE_EVENTS:
                known[data["id"]] = self._record_place(data, county)
            elif kind in OFFICER_EVENTS:
                _upsert(self.officers, {"_id": data["id"]}, {"$set": {
                    "name": data["name"], "badge_number": data["badge_number"]}})
            elif kind == "assignment.changed":
                latest = assignments.get(data["enterprise_id"])
                if latest is None or data["revision"] > latest["revision"]:
                    assignments[data["enterprise_id"]] = data
            else:
                place = None if carries_place(event) else \
                    self._place(known, data["enterprise_id"], county, place_of)
                folded = fold(event, place)
                if folded is not None:
                    counted.append((event["id"], folded,
                                    [("county", county), *areas(event, place)]))
        for enterprise_id, data in assignments.items():
            self._record_assignment(data, self._place(known, enterprise_id, county, place_of),
                                    county)
        self._count(self._first_of_each(counted), county)

    def _known_places(self, events):
        """The places of the enterprises the events name, read in one go."""
        wanted = {e["data"]["enterprise_id"] for e in events
                  if e["type"] in (*COUNTED, "assignment.changed")
                  and not carries_place(e) and e["data"].get("enterprise_id")}
        return {row["_id"]: row for row in _find_keys(self.places, wanted)}

    def _place(self, known, enterprise_id, county, place_of):
        if enterprise_id in known:
            return known[enterprise_id]
        asked = place_of(enterprise_id)
        if asked is None:
            known[enterprise_id] = None
            return None
        place = {"county": county, "station_id": asked.get("station_id"),
                 "park_id": asked.get("park_id"), "grid_id": asked.get("grid_id"),
                 "level": asked.get("level"), "name": asked.get("name")}
        # only where the registry's own events have not placed it meanwhile: those are newer
        _upsert(self.places, {"_id": enterprise_id}, {"$setOnInsert": place})
        known[enterprise_id] = place
        return place

    def _record_place(self, data, county):
        place = {"county": county, "station_id": data["station_id"],
                 "park_id": data["park_id"], "grid_id": data["grid_id"],
                 "level": data["level"], "name": data["name"]}
        _upsert(self.places, {"_id": data["id"]}, {"$set": place})
        _upsert(self.coverage, {"_id": data["id"]}, {
            "$set": {**place, "key": place["level"] in KEY_LEVELS},
            "$setOnInsert": {"revision": 0, "valid_from": None, **dict.fromkeys(SEATS),
                             "a_and_b": False, "three_chiefs": False, "covered": False}})
        return place

    def _record_assignment(self, data, place, county):
        seats = {seat: data[seat] for seat in SEATS}
        a_and_b = bool(seats["a_officer_id"] and seats["b_officer_id"])
        chiefs = all(seats[s] for s in ("bureau_leader_id", "station_leader_id",
                                        "area_chief_id"))
        place = place or {"county": county}
        change = {"$set": {**seats, "revision": data["revision"],
                           "valid_from": data["valid_from"], "a_and_b": a_and_b,
                           "three_chiefs": chiefs, "covered": a_and_b and chiefs,
                           "county": place.get("county", county),
                           **{f: place.get(f) for f in ("station_id", "park_id", "grid_id",
                                                        "level", "name")},
                           "key": place.get("level") in KEY_LEVELS}}
        older = {"_id": data["enterprise_id"], "revision": {"$lt": data["revision"]}}
        try:
            self.coverage.update(older, change, upsert=True)
        except DuplicateKey:
            # the enterprise has a row: replaced only if it holds an older revision (a row
            # made meanwhile by its registration holds revision 0)
            self.coverage.update(older, change)

    @staticmethod
    def _first_of_each(counted):
        """The counted events without repeats in the batch: an event id once, and of those
        counting a thing once, only the first (the store keeps which one across batches)."""
        seen, kept, firsts = set(), [], {}
        for event_id, folded, targets in counted:
            if event_id in seen:
                continue
            seen.add(event_id)
            if folded.once is not None:
                firsts.setdefault(folded.once, event_id)
            kept.append((event_id, folded, targets))
        return kept, firsts

    def _claim(self, firsts):
        """{once name: id of the event that counts it}, claiming those not claimed yet for
        the batch's first event of each. A claim is never given up: the event that made it
        counts when applied again, any other never."""
        claims = {row["_id"]: row["event"] for row in _find_keys(self.once, firsts)}
        for name, event_id in firsts.items():
            if name in claims:
                continue
            try:
                self.once.insert({"_id": name, "event": event_id})
                claims[name] = event_id
            except DuplicateKey:  # claimed meanwhile by another writer
                claims[name] = self.once.get(name)["event"]
        return claims

    def _count(self, batch, county):
        counted, firsts = batch
        claims = self._claim(firsts) if firsts else {}
        days, months = defaultdict(dict), defaultdict(dict)  # document -> {event id: counts}
        for event_id, folded, targets in counted:
            if folded.once is not None and claims.get(folded.once) != event_id:
                continue
            day = folded.day.isoformat()
            for kind, area in targets:
                days[(kind, area, day)][event_id] = folded.counts
            months[("county", county, _month(folded.day))][event_id] = folded.counts
        for table, groups in ((self.figures, days), (self.monthly, months)):
            pending = {_key(*doc): (doc, events) for doc, events in groups.items()}
            for _ in range(RETRIES):
                if not pending:
                    break
                pending = self._write(table, pending)
            else:
                raise RuntimeError(f"{len(pending)} documents of {table.name} kept changing "
                                   f"under this writer for {RETRIES} rounds")

    @staticmethod
    def _write(table, pending):
        """One round: every document read, each written if it has not changed since; the
        documents another writer changed meanwhile, to do again."""
        stored = {row["_id"]: row for row in _find_keys(table, pending)}
        updates, inserts = [], []
        for key, ((kind, area, day), events) in pending.items():
            row = stored.get(key)
            applied = set(row["applied"]) if row else set()
            fresh = [event_id for event_id in events if event_id not in applied]
            if not fresh:
                continue
            sums = defaultdict(int)
            for event_id in fresh:
                for name, n in events[event_id].items():
                    sums[name] += n
            if row is None:
                inserts.append({"_id": key, "kind": kind, "area": area, "day": day,
                                "n": dict(sums), "applied": fresh, "v": 1})
            else:
                updates.append((key, {"_id": key, "v": row["v"]}, {
                    "$inc": {**{f"n.{name}": n for name, n in sums.items()}, "v": 1},
                    "$push": {"applied": {"$each": fresh}}}))
        lost = []
        if updates:
            done = table.update_each([(query, change) for _, query, change in updates])
            lost += [key for (key, _, _), ok in zip(updates, done) if not ok]
        if inserts:
            try:
                table.insert_all(inserts)
            except DuplicateKey:  # some made meanwhile: each on its own, the others again
                for row in inserts:
                    try:
                        table.insert(row)
                    except DuplicateKey:
                        lost.append(row["_id"])
        return {key: pending[key] for key in lost}

    # --- reading --------------------------------------------------------------------------------

    def report(self, area_kind, area_id, start, end):
        """The work report (services.fieldwork.report.assemble) of an area (`area_id` None
        for the province: every county held) over the days start..end, both included: the
        figures of the period and of the same days a year before, and the area's coverage as
        it is now."""
        period = self._counts(area_kind, area_id, start, end)
        before = self._counts(area_kind, area_id, *a_year_before(start, end))
        return assemble(area_kind, area_id, start, end, period, before,
                        self._coverage(area_kind, area_id))

    def _counts(self, area_kind, area_id, start, end):
        """The figures documents that make up start..end: for a county (or every county),
        its whole months by month and the days before and after them by day."""
        if area_kind not in ("province", "county"):
            return _between(self.figures, area_kind, area_id, start.isoformat(),
                            end.isoformat())
        months, edges = whole_months(start, end)
        found = [] if months is None else _between(
            self.monthly, "county", area_id, _month(months[0]), _month(months[1]))
        for first, last in edges:
            found += _between(self.figures, "county", area_id, first.isoformat(),
                              last.isoformat())
        return found

    def _coverage(self, area_kind, area_id):
        query = {} if area_kind == "province" else {AREA_QUERY[area_kind]: area_id}
        tally = self.coverage.tally(query, ("key", "a_and_b", "three_chiefs"))
        rows = self.coverage.find(query, sort=[("covered", 1), ("_id", 1)], limit=ROWS)
        names = {row["_id"]: row for row in _find_keys(
            self.officers, {row[seat] for row in rows for seat in SEATS if row.get(seat)})}
        return coverage({tuple(bool(v) for v in flags): n for flags, n in tally.items()},
                        [_row(row, names) for row in rows])


def _row(row, officers):
    def who(officer_id):
        officer = officers.get(officer_id)
        return {"id": officer_id, "name": officer["name"] if officer else None,
                "badge_number": officer["badge_number"] if officer else None} \
            if officer_id else None
    return {"enterprise_id": row["_id"], "name": row.get("name"), "level": row.get("level"),
            "key": bool(row.get("key")), "covered": bool(row.get("covered")),
            "revision": row.get("revision") or 0,
            **{seat.removesuffix("_id"): who(row.get(seat)) for seat in SEATS}}


def _key(kind, area, day):
    return f"{kind}:{area}:{day}"


def _month(day):
    return day.isoformat()[:7]  # 2025-03: how a document of figures_by_month names its span


def _between(table, kind, area_id, first, last):
    """The `n` of the documents of `kind` in `table` (of `area_id`; of every area of the
    kind when None) whose span is from `first` to `last`, both included."""
    query = {"kind": kind, "day": {"$gte": first, "$lte": last}}
    if area_id is not None:
        query["area"] = area_id
    return [row["n"] for row in table.find(query)]


def whole_months(start, end):
    """((first, last) of the whole calendar months inside start..end, or None; the spans of
    days before and after them, as (first, last) pairs, none empty)."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end) if end == _next_month(end) - timedelta(days=1) else \
        end.replace(day=1)
    if first >= after:
        return None, [(start, end)]
    edges = [(start, first - timedelta(days=1))] if start < first else []
    if after <= end:
        edges.append((after, end))
    return (first, after - timedelta(days=1)), edges


def _next_month(day):
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _find_keys(table, keys):
    keys = sorted(keys)
    found = []
    for start in range(0, len(keys), CHUNK):
        found += table.find({"_id": {"$in": keys[start:start + CHUNK]}})
    return found


def _upsert(table, query, change):
    """`update(query, change, upsert=True)`, once more as a plain update when another writer
    inserted the document between the two halves of the upsert (MongoDB may report that)."""
    try:
        table.update(query, change, upsert=True)
    except DuplicateKey:
        table.update(query, change)
