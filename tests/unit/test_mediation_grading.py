"""Risk grading, rule by rule and flag by flag: each row is the facts of a dispute and the grade,
flags and starting tier the default rules (version 1) give them. A revision of the rules is a
new version; a grade keeps the version that made it."""
import pytest

from services.mediation.grading import (CIVIL_TO_CRIMINAL as C2C, CRIMINAL_TO_DEADLY as C2D,
                                        Facts, RuleSet)

RULES = RuleSet()

CASES = [
    # (name, facts, grade, flags, tier)
    ("nothing fires", Facts(), "low", (), "enterprise"),
    ("amount below medium", Facts(amount=49_999), "low", (), "enterprise"),
    ("amount at medium", Facts(amount=50_000), "medium", (), "enterprise"),
    ("amount at high", Facts(amount=500_000), "high", (), "enterprise"),
    ("amount at critical", Facts(amount=5_000_000), "critical", (), "panel"),
    ("headcount below medium", Facts(people=9), "low", (), "enterprise"),
    ("headcount at medium", Facts(people=10), "medium", (), "enterprise"),
    ("a large group may turn criminal", Facts(people=30), "high", (C2C,), "enterprise"),
    ("headcount at critical", Facts(people=100), "critical", (C2C,), "panel"),
    ("threats", Facts(signals=frozenset({"threats"})), "high", (C2C,), "enterprise"),
    ("weapons", Facts(signals=frozenset({"weapons"})), "critical", (C2C, C2D), "panel"),
    ("self-harm", Facts(signals=frozenset({"self_harm"})), "critical", (C2D,), "panel"),
    ("a repeat raises one grade and flags", Facts(repeats=1), "medium", (C2C,), "enterprise"),
    ("a repeat on a medium amount", Facts(amount=60_000, repeats=2), "high", (C2C,),
     "enterprise"),
    ("a repeat never passes critical", Facts(amount=5_000_000, repeats=1), "critical", (C2C,),
     "panel"),
    ("the larger of amount and headcount", Facts(amount=60_000, people=35), "high", (C2C,),
     "enterprise"),
    ("a dispute between companies starts at the park", Facts(kind="business_contract"), "low",
     (), "park"),
    ("land and compensation starts at the park", Facts(kind="land_compensation"), "low", (),
     "park"),
    ("obstruction of construction starts at the park",
     Facts(kind="construction_obstruction", people=12), "medium", (), "park"),
]


@pytest.mark.parametrize("name,facts,grade,flags,tier", CASES, ids=[c[0] for c in CASES])
def test_each_rule_and_flag(name, facts, grade, flags, tier):
    graded = RULES.grade(facts)
    assert (graded.grade, graded.flags, graded.start_tier) == (grade, flags, tier)
    assert graded.rule_version == 1
    assert graded.alarming == (grade in ("high", "critical") or bool(flags))


def test_every_grade_gives_the_reasons_that_made_it():
    graded = RULES.grade(Facts(amount=600_000, people=12, signals=frozenset({"threats"})))
    assert graded.grade == "high"
    assert graded.reasons == ("amount at stake 600000 >= 500000: high",
                              "12 people involved >= 10: medium",
                              "threats reported: at least high, civil_may_turn_criminal")
    assert RULES.grade(Facts()).reasons == ("no rule fired: low",)


def test_a_revision_is_a_new_version_and_old_grades_keep_theirs():
    before = RULES.grade(Facts(amount=100_000))
    revised = RULES.revised(amount={"medium": 20_000, "high": 100_000, "critical": 1_000_000})
    after = revised.grade(Facts(amount=100_000))
    assert (before.grade, before.rule_version) == ("medium", 1)
    assert (after.grade, after.rule_version) == ("high", 2)
    assert revised.revised(large_group=50).version == 3
    assert RULES.version == 1 and RULES.grade(Facts(amount=100_000)) == before


@pytest.mark.parametrize("changes,field", [
    ({"amount": {"medium": 10, "high": 5, "critical": 20}}, "amount"),
    ({"people": {"medium": 10, "high": 20}}, "people"),
    ({"people": {"medium": -1, "high": 20, "critical": 30}}, "people"),
    ({"panel_from": "severe"}, "panel_from"),
])
def test_rules_that_cannot_grade_are_named(changes, field):
    assert field in RULES.revised(**changes).check()
    assert RULES.check() == {}
