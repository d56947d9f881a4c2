"""Ids another service can know in advance: where one service asks another to make a record
from its own (an incident from a patrol's finding, a verification visit from a hazard's
order), the id follows from what asked, so the asking side names the record before it exists
and a request delivered twice makes it once."""
import uuid

# Incidents reported by another system: (source, reference) decides the id.
EXTERNAL_INCIDENTS = uuid.UUID("5b0d1f1e-7c2a-4f57-9a4e-2f1d6c0b9e11")
VERIFICATION_VISITS = uuid.UUID("9d3c2a57-40f1-4c43-8a9e-61c5b7e0f2d8")


def external_incident_id(source: str, reference: str) -> str:
    """The id dispatch gives the incident reported by `source` under `reference`."""
    return str(uuid.uuid5(EXTERNAL_INCIDENTS, f"{source}:{reference}"))


def verification_visit_id(hazard_id: str) -> str:
    """The id of the visit that verifies hazard `hazard_id`'s rectification."""
    return str(uuid.uuid5(VERIFICATION_VISITS, hazard_id))
