"""Where field work's records belong, from the registry: an area's or an enterprise's station,
park and grid, and whether officers exist. Asked over RPC once per record and place per call;
a refusal by the registry becomes InvalidFieldWork naming the caller's field."""
from kit.errors import raised_as

from .domain import Place
from .exceptions import InvalidFieldWork

_NOT_FOUND = ("StationNotFound", "ParkNotFound", "GridNotFound", "EnterpriseNotFound",
              "OfficerNotFound")


class Places:
    def __init__(self, registry):
        self.registry = registry
        self._known = {}

    def of_enterprise(self, enterprise_id, field):
        return self.of_area("enterprise", enterprise_id, field)

    def of_area(self, kind, area_id, field):
        """The Place of station, park, grid or enterprise `area_id`."""
        key = (kind, area_id)
        if key not in self._known:
            found = self._ask(lambda: self.registry.get_enterprise(area_id) if kind == "enterprise"
                              else self.registry.get_place(kind, area_id),
                              field, f"no {kind} with id {area_id}")
            self._known[key] = Place(
                station_id=area_id if kind == "station" else found["station_id"],
                park_id=area_id if kind == "park" else found.get("park_id"),
                grid_id=area_id if kind == "grid" else found.get("grid_id"),
                enterprise_id=area_id if kind == "enterprise" else None)
        return self._known[key]

    def unknown_officers(self, officer_ids):
        """The ids among `officer_ids` the registry has no officer for."""
        unknown = []
        for officer_id in dict.fromkeys(officer_ids):
            try:
                self.registry.get_officer(officer_id)
            except Exception as error:
                if not raised_as(error, "OfficerNotFound"):
                    raise
                unknown.append(officer_id)
        return unknown

    def _ask(self, call, field, reason):
        try:
            return call()
        except Exception as error:
            if any(raised_as(error, name) for name in _NOT_FOUND):
                raise InvalidFieldWork({field: [reason]}) from None
            raise
