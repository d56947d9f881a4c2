"""The service catalogue: what an enterprise may ask for, and the typed attributes each
service asks (Open311 GeoReport v2 service definitions). Pure Python.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

# AGENCIES: other agencies an out-of-scope request is referred to.
from contracts.clock import naive_utc
from contracts.vocabulary import AGENCIES  # noqa: F401

from .exceptions import InvalidRequest

DATATYPES = ("string", "number", "datetime", "singlevaluelist", "multivaluelist")
# Who handles a service by default: a department, or the enterprise's liaison officer
# ("liaison"), who also takes legal consultations to the policy specialists.
HANDLERS = ("household_registration", "traffic", "public_order", "policy_specialist", "liaison")
# The handlers that are officers: a request for their services goes to the liaison officer.
OFFICER_HANDLERS = ("policy_specialist", "liaison")
STRING_MAX = 500


@dataclass(frozen=True)
class AttributeDefinition:
    """One extra question a service asks (Open311 service definition attribute)."""

    code: str
    datatype: str
    required: bool = False
    description: str = ""
    values: tuple[str, ...] = ()
    minimum: float | None = None  # numbers only


@dataclass(frozen=True)
class ServiceDefinition:
    code: str
    name: str
    description: str
    handled_by: str
    expected_hours: int
    attributes: tuple[AttributeDefinition, ...] = ()
    service_notice: str = ""

    @property
    def metadata(self) -> bool:
        """Open311: whether the service asks for attributes beyond the description."""
        return bool(self.attributes)

    def attribute(self, code: str) -> AttributeDefinition | None:
        return next((a for a in self.attributes if a.code == code), None)


SERVICES: dict[str, ServiceDefinition] = {s.code: s for s in (
    ServiceDefinition(
        "household_registration", "Household registration and residence permits",
        "Hukou transfers and residence permits for the enterprise's employees, handled in "
        "batches on site.",
        handled_by="household_registration", expected_hours=72,
        attributes=(
            AttributeDefinition("applicant_count", "number", required=True,
                                description="How many employees apply", minimum=1),
            AttributeDefinition("residence_permit", "singlevaluelist",
                                description="Residence permit wanted", values=("new", "renewal")),
        ),
        service_notice="Collect each applicant's ID card and labour contract beforehand."),
    ServiceDefinition(
        "vehicle_administration", "Vehicle administration",
        "Registration, transfer, inspection and licence matters for the enterprise's fleet and "
        "drivers.",
        handled_by="traffic", expected_hours=72,
        attributes=(
            AttributeDefinition("business_kind", "singlevaluelist", required=True,
                                description="What needs doing",
                                values=("registration", "transfer", "inspection",
                                        "licence_plate", "driving_licence")),
            AttributeDefinition("vehicle_count", "number", required=True,
                                description="How many vehicles or drivers", minimum=1),
        )),
    ServiceDefinition(
        "permits", "Permits",
        "Permits the police issue: hazardous chemicals, explosives, security services; "
        "including lost permit-system accounts.",
        handled_by="public_order", expected_hours=48,
        attributes=(
            AttributeDefinition("permit_type", "singlevaluelist", required=True,
                                description="Which permit",
                                values=("hazardous_chemicals", "explosives", "security_service",
                                        "other")),
            AttributeDefinition("matter", "singlevaluelist", description="What about it",
                                values=("new_application", "renewal", "change",
                                        "account_recovery")),
        ),
        service_notice="Have the business licence and the current permit number at hand."),
    ServiceDefinition(
        "legal_consultation", "Legal consultation",
        "A question on law or police procedure, answered by a policy specialist through the "
        "liaison officer.",
        handled_by="policy_specialist", expected_hours=24,
        attributes=(
            AttributeDefinition("topic", "singlevaluelist", required=True, description="Topic",
                                values=("labour_dispute", "contract_fraud",
                                        "intellectual_property", "debt_collection",
                                        "compliance", "other")),
            AttributeDefinition("preferred_channel", "singlevaluelist",
                                description="How the answer should come",
                                values=("phone", "video", "on_site")),
        )),
    ServiceDefinition(
        "security_inspection", "Security inspection",
        "An on-site inspection of the enterprise's security arrangements, on request.",
        handled_by="public_order", expected_hours=72,
        attributes=(
            AttributeDefinition("areas", "multivaluelist", required=True,
                                description="What to inspect",
                                values=("fire_safety", "hazardous_materials", "perimeter",
                                        "cctv", "cash_handling", "dormitories")),
            AttributeDefinition("preferred_date", "datetime",
                                description="When the enterprise would like it"),
        )),
    ServiceDefinition(
        "appointment_booking", "Appointment",
        "Book a time with the liaison officer, at the enterprise or at the station.",
        handled_by="liaison", expected_hours=24,
        attributes=(
            AttributeDefinition("preferred_time", "datetime", required=True,
                                description="Preferred time (ISO 8601)"),
            AttributeDefinition("attendees", "number", description="Who will attend",
                                minimum=1),
            AttributeDefinition("topic", "string", description="What it is about"),
        )),
    ServiceDefinition(
        "other", "Other request",
        "Anything else; the liaison officer routes it or refers it to the right agency.",
        handled_by="liaison", expected_hours=48,
        attributes=(
            AttributeDefinition("urgency", "singlevaluelist", description="How urgent",
                                values=("normal", "urgent")),
        )),
)}


def _missing(value) -> bool:
    return value is None or (isinstance(value, (str, list, tuple)) and not
                             (value.strip() if isinstance(value, str) else value))


def _clean_value(definition: AttributeDefinition, value):
    """The value in its proper type; raises ValueError with the reason otherwise."""
    kind = definition.datatype
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError("must be text")
        value = value.strip()
        if len(value) > STRING_MAX:
            raise ValueError(f"must be at most {STRING_MAX} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                try:
                    value = float(value.strip())
                except ValueError:
                    raise ValueError("must be a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        if definition.minimum is not None and value < definition.minimum:
            raise ValueError(f"must be at least {definition.minimum:g}")
        return value
    if kind == "datetime":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("must be an ISO 8601 date and time") from None
        elif not isinstance(value, datetime):
            raise ValueError("must be an ISO 8601 date and time")
        return naive_utc(value)
    if kind == "singlevaluelist":
        if value not in definition.values:
            raise ValueError(f"must be one of {', '.join(definition.values)}")
        return value
    if kind == "multivaluelist":
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of values")
        unknown = [v for v in value if v not in definition.values]
        if unknown:
            raise ValueError(f"{', '.join(map(str, unknown))} not among "
                             f"{', '.join(definition.values)}")
        return list(dict.fromkeys(value))
    raise ValueError(f"unknown datatype {kind}")


def validate_attributes(service_code: str, attributes: dict | None) -> dict:
    """The attributes cleaned for `service_code`: numbers as int/float, datetimes as naive UTC,
    list values checked and de-duplicated, empty optional ones left out. Raises InvalidRequest
    naming every bad attribute as "attributes.<code>"."""
    definition = SERVICES.get(service_code)
    if definition is None:
        raise InvalidRequest({"service_code": [f"unknown service {service_code!r}"]})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise InvalidRequest({"attributes": ["must be a mapping of attribute code to value"]})
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for code in attributes:
        if definition.attribute(code) is None:
            errors[f"attributes.{code}"] = [f"not an attribute of {service_code}"]
    for attribute in definition.attributes:
        value = attributes.get(attribute.code)
        if _missing(value):
            if attribute.required:
                errors[f"attributes.{attribute.code}"] = ["is required"]
            continue
        try:
            cleaned[attribute.code] = _clean_value(attribute, value)
        except ValueError as reason:
            errors[f"attributes.{attribute.code}"] = [str(reason)]
    if errors:
        raise InvalidRequest(errors)
    return cleaned
