"""The value lists the platform shares: what an event, an RPC answer or an HTTP body may say.

Plain tuples, so the contracts, every service's domain and the gateway can name the same
values without importing one another.
"""

# --- the registry ------------------------------------------------------------------------

STATION_KINDS = ("station", "park_post")
ENTERPRISE_KINDS = ("enterprise", "project")
LEVELS = ("city_key_project", "district_key_project", "above_scale", "other")
STAGES = ("signing", "landing", "construction", "production")
OFFICER_ROLES = (
    "bureau_leader",
    "station_chief",
    "team_leader",
    "area_chief",
    "community_officer",
    "auxiliary_officer",
    "policy_specialist",
)
# Police specialist departments (the "N" of "1+N"): on call for incidents, routed requests.
DEPARTMENTS = (
    "criminal_investigation",
    "narcotics_control",
    "traffic",
    "household_registration",
    "cyber_security",
    "economic_crime",
    "public_order",
)
ABSENCE_KINDS = ("off_duty", "on_leave")

# --- dispatch ----------------------------------------------------------------------------

CATEGORIES = ("theft", "fraud", "violence", "dispute", "obstruction", "safety_hazard",
              "traffic", "other")
PRIORITIES = ("low", "medium", "high", "emergency")
STATES = ("reported", "notified", "acknowledged", "on_scene", "resolved", "referred",
          "cancelled")

# --- service requests --------------------------------------------------------------------

# The service catalogue's codes, in the catalogue's order (services.dispatch: what each asks).
SERVICE_CODES = ("household_registration", "vehicle_administration", "permits",
                 "legal_consultation", "security_inspection", "appointment_booking", "other")
REQUEST_STATUSES = ("submitted", "routed", "in_progress", "referred", "closed")
# Other agencies an out-of-scope request is referred to.
AGENCIES = (
    "market_regulation",
    "emergency_management",
    "environment",
    "justice",
    "urban_management",
    "township_government",
    "labour",
)
DESCRIPTION_MAX = 2000
NOTE_MAX = 2000

# --- mediation ---------------------------------------------------------------------------

# What a dispute is about, and where it came from.
DISPUTE_KINDS = ("wage_arrears", "labour_contract", "injury_compensation",
                 "construction_obstruction", "land_compensation", "business_contract",
                 "neighbourhood", "other")
DISPUTE_SOURCES = ("officer", "mediator", "enterprise", "incident", "request", "agency")
