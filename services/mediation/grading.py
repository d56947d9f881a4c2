"""Risk grading: a dispute's grade (low, medium, high, critical) and its two flags, from rules
kept as configuration and versioned. Pure Python.

A `RuleSet` is one version of the rules. Every grade records the version that made it and the
reasons it gives, one per rule that fired, so anyone can check a grade against the rules of its
version; changing the rules makes a new version and leaves the grades made before as they were.

What the rules look at (`Facts`): the amount at stake, how many people are involved (the
workers' headcount and the individuals), what the intake or a later change reported (threats,
weapons, self-harm), and how many earlier disputes between the same parties were taken in
within the repeat window (90 days by default).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from contracts.vocabulary import RISK_GRADES as GRADES, RISK_SIGNALS as SIGNALS, TIERS

CIVIL_TO_CRIMINAL = "civil_may_turn_criminal"
CRIMINAL_TO_DEADLY = "criminal_may_turn_deadly"


@dataclass(frozen=True)
class Facts:
    amount: int = 0
    people: int = 0
    signals: frozenset = frozenset()
    repeats: int = 0   # earlier disputes between the same parties within the window
    kind: str = "other"


@dataclass(frozen=True)
class Grade:
    grade: str
    flags: tuple[str, ...]
    reasons: tuple[str, ...]
    rule_version: int
    start_tier: str

    @property
    def alarming(self) -> bool:
        """High, critical or flagged: the station's leader is told at once and a warning
        letter goes to the township government."""
        return GRADES.index(self.grade) >= GRADES.index("high") or bool(self.flags)


@dataclass(frozen=True)
class RuleSet:
    """One version of the grading rules. Thresholds are the lowest value that reaches a grade
    (amounts in yuan): `amount` and `people` map a grade to its threshold."""

    version: int = 1
    amount: dict = field(default_factory=lambda: {"medium": 50_000, "high": 500_000,
                                                  "critical": 5_000_000})
    people: dict = field(default_factory=lambda: {"medium": 10, "high": 30, "critical": 100})
    large_group: int = 30          # people: a group this large may turn criminal
    repeat_window_days: int = 90
    # signal -> (the grade it raises the dispute to at least, the flags it sets)
    signals: dict = field(default_factory=lambda: {
        "threats": ("high", (CIVIL_TO_CRIMINAL,)),
        "weapons": ("critical", (CIVIL_TO_CRIMINAL, CRIMINAL_TO_DEADLY)),
        "self_harm": ("critical", (CRIMINAL_TO_DEADLY,)),
    })
    # the tier a dispute starts at: by kind (disputes with another company or over land go to
    # the park first), and at least `panel` from this grade on
    park_kinds: tuple = ("construction_obstruction", "land_compensation", "business_contract")
    panel_from: str = "critical"

    def grade(self, facts: Facts) -> Grade:
        level, flags, reasons = 0, [], []

        def raise_to(grade, reason):
            nonlocal level
            reasons.append(reason)
            level = max(level, GRADES.index(grade))

        for grade in GRADES[:0:-1]:
            if facts.amount >= self.amount[grade]:
                raise_to(grade, f"amount at stake {facts.amount} >= {self.amount[grade]}: "
                                f"{grade}")
                break
        for grade in GRADES[:0:-1]:
            if facts.people >= self.people[grade]:
                raise_to(grade, f"{facts.people} people involved >= {self.people[grade]}: "
                                f"{grade}")
                break
        if facts.people >= self.large_group:
            flags.append(CIVIL_TO_CRIMINAL)
            reasons.append(f"a group of {facts.people} >= {self.large_group}: "
                           f"{CIVIL_TO_CRIMINAL}")
        if facts.repeats:
            flags.append(CIVIL_TO_CRIMINAL)
            raise_to(GRADES[min(level + 1, len(GRADES) - 1)],
                     f"{facts.repeats} earlier dispute(s) between the same parties within "
                     f"{self.repeat_window_days} days: one grade up, {CIVIL_TO_CRIMINAL}")
        for signal in SIGNALS:
            if signal in facts.signals:
                grade, signal_flags = self.signals[signal]
                flags.extend(signal_flags)
                raise_to(grade, f"{signal} reported: at least {grade}, "
                                f"{', '.join(signal_flags)}")
        flags = tuple(f for f in (CIVIL_TO_CRIMINAL, CRIMINAL_TO_DEADLY) if f in flags)
        grade = GRADES[level]
        tier = "enterprise"
        if facts.kind in self.park_kinds:
            tier = "park"
        if level >= GRADES.index(self.panel_from):
            tier = "panel"
        return Grade(grade, flags, tuple(reasons) or ("no rule fired: low",), self.version,
                     tier)

    def revised(self, **changes) -> "RuleSet":
        """The next version: these rules with `changes`."""
        data = dict(asdict(self), **changes, version=self.version + 1)
        data["park_kinds"] = tuple(data["park_kinds"])
        data["signals"] = {k: (v[0], tuple(v[1])) for k, v in data["signals"].items()}
        return RuleSet(**data)

    def check(self) -> dict:
        """What is wrong with these rules, by field (empty: none)."""
        errors = {}
        for name in ("amount", "people"):
            thresholds = getattr(self, name)
            if set(thresholds) != set(GRADES[1:]):
                errors[name] = [f"must give a threshold for each of {', '.join(GRADES[1:])}"]
            elif not all(isinstance(v, int) and v >= 0 for v in thresholds.values()):
                errors[name] = ["thresholds must be whole numbers, 0 or more"]
            elif not thresholds["medium"] <= thresholds["high"] <= thresholds["critical"]:
                errors[name] = ["thresholds must not fall from medium to high to critical"]
        if self.panel_from not in GRADES:
            errors["panel_from"] = [f"must be one of {', '.join(GRADES)}"]
        return errors
