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
DISPUTE_STATUSES = ("mediating", "agreed", "closed", "refused", "excluded")
PARTY_KINDS = ("enterprise", "workers", "individual", "company")
PARTY_SIDES = ("applicant", "respondent")
RISK_GRADES = ("low", "medium", "high", "critical")
RISK_FLAGS = ("civil_may_turn_criminal", "criminal_may_turn_deadly")
RISK_SIGNALS = ("threats", "weapons", "self_harm")
TIERS = ("enterprise", "park", "panel")
# Police mediation does not apply (Public Security Administration Punishment Law Art. 9 and
# the procedure rules).
EXCLUSION_GROUNDS = ("hired_violence", "group_fight", "repeat_offender", "party_refuses",
                     "confrontation", "suspect_absconded")
REFERRED_FOR = ("police_case", "criminal_investigation", "litigation_or_arbitration",
                "labour_inspection", "other")
SESSION_KINDS = ("mediation", "analysis_meeting")
SESSION_OUTCOMES = ("agreed", "no_agreement", "adjourned", "party_refused", "confrontation")
# A multi-agency panel's members, who receive referrals.
PANEL_AGENCIES = ("market_regulation", "emergency_management", "environment", "justice",
                  "labour", "township_government")
REFERRAL_STATES = ("pending", "accepted", "declined", "done")
REFERRAL_RESULTS = ("successful", "not_successful")
REFERRAL_REASONS = ("party_refused_services", "lack_of_capacity", "no_longer_needed",
                    "unable_to_contact_party", "unable_to_contact_agency", "settled", "other")

# The three chiefs who rate a liaison officer each quarter, and what they rate it on (1-5).
CHIEF_SEATS = ("bureau_leader", "station_leader", "area_chief")
CHIEF_CRITERIA = ("responsiveness", "problem_solving", "conduct")

# --- agencies' feeds ---------------------------------------------------------------------

# The grounds a feed's purpose may name for protected fields to reach an agency (PIPL Art. 13).
LEGAL_BASES = ("consent", "contract", "statutory_duty", "emergency", "public_interest",
               "disclosed", "other_law")

# --- field work ---------------------------------------------------------------------------

# A patrol on foot, in a vehicle, or by watching the video network; the area it covered.
PATROL_KINDS = ("foot", "vehicle", "video")
PATROL_AREAS = ("park", "grid", "enterprise")
PATROL_MEMBERS = ("officer", "guard")
HAZARD_KINDS = ("fire", "hazardous_chemicals", "site_security", "traffic", "public_order",
                "other")
HAZARD_SEVERITIES = ("low", "medium", "high", "critical")
# Days an enterprise has to rectify a hazard, by severity (the rectification order's deadline).
RECTIFY_DAYS = {"low": 30, "medium": 15, "high": 7, "critical": 1}
HAZARD_SOURCES = ("patrol", "visit", "enterprise")
HAZARD_STATUSES = ("rectified", "ordered", "reported_rectified", "overdue")
OUTREACH_KINDS = ("legal_session", "training", "guard_training", "publicity")
# The areas a work report is made for: a province is every county the platform holds.
REPORT_AREAS = ("province", "county", "station", "park", "grid", "enterprise")
REPORT_LANGUAGES = ("zh", "en")
