"""Value lists more than one party shares (services, the gateway, the contracts)."""

# Mediation: what a dispute is about, and where it came from.
DISPUTE_KINDS = ("wage_arrears", "labour_contract", "injury_compensation",
                 "construction_obstruction", "land_compensation", "business_contract",
                 "neighbourhood", "other")
DISPUTE_SOURCES = ("officer", "mediator", "enterprise", "incident", "request", "agency")
