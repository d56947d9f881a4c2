"""Where field work's records belong, from the registry: an area's or an enterprise's station,
park and grid, and whether officers exist. A refusal by the registry becomes InvalidFieldWork
naming the caller's field.

What the registry said is reused for KNOWN_FOR seconds by every worker of the process: an
area's place and an officer's existence change rarely (the registry deletes neither), and a
patrol names several of each. Only what exists is kept: a refusal is asked again next time.
"""
import time

from kit.errors import raised_as

from .domain import Place
from .exceptions import InvalidFieldWork

KNOWN_FOR = 300.0
_known = {}  # (kind, id) -> (when the registry said, Place or True)
_NOT_FOUND = ("StationNotFound", "ParkNotFound", "GridNotFound", "EnterpriseNotFound",
              "OfficerNotFound")


class Places:
    def __init__(self, registry, clock=time.monotonic):
        self.registry = registry
        self.clock = clock

    def of_enterprise(self, enterprise_id, field):
        return self.of_area("enterprise", enterprise_id, field)

    def of_area(self, kind, area_id, field):
        """The Place of station, park, grid or enterprise `area_id`."""
        place = self._recalled((kind, area_id))
        if place is None:
            found = self._ask(lambda: self.registry.get_enterprise(area_id) if kind == "enterprise"
                              else self.registry.get_place(kind, area_id),
                              field, f"no {kind} with id {area_id}")
            place = self._kept((kind, area_id), Place(
                station_id=area_id if kind == "station" else found["station_id"],
                park_id=area_id if kind == "park" else found.get("park_id"),
                grid_id=area_id if kind == "grid" else found.get("grid_id"),
                enterprise_id=area_id if kind == "enterprise" else None))
        return place

    def for_report(self, enterprise_id):
        """Where an enterprise the work report's read model has not heard of is, and its
        level, as the registry says now (services.fieldwork.figures.Figures.apply)."""
        enterprise = self.registry.get_enterprise(enterprise_id)
        return {k: enterprise.get(k) for k in ("station_id", "park_id", "grid_id", "level")}

    def unknown_officers(self, officer_ids):
        """The ids among `officer_ids` the registry has no officer for."""
        unknown = []
        for officer_id in dict.fromkeys(officer_ids):
            if self._recalled(("officer", officer_id)):
                continue
            try:
                self.registry.get_officer(officer_id)
            except Exception as error:
                if not raised_as(error, "OfficerNotFound"):
                    raise
                unknown.append(officer_id)
            else:
                self._kept(("officer", officer_id), True)
        return unknown

    def _recalled(self, key):
        said = _known.get(key)
        if said is not None and self.clock() - said[0] < KNOWN_FOR:
            return said[1]
        return None

    def _kept(self, key, answer):
        _known[key] = (self.clock(), answer)
        return answer

    def _ask(self, call, field, reason):
        try:
            return call()
        except Exception as error:
            if any(raised_as(error, name) for name in _NOT_FOUND):
                raise InvalidFieldWork({field: [reason]}) from None
            raise
