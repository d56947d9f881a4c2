"""A year of the demo county's field work, shaped like the seeds' figures, and its loading
through field work's RPC interface (so every record passes the same checks and publishes the
same events as any other).

The year ends today. Weng'an's shape: 500 patrols on foot and in vehicles and 450 video
patrols, 3,600 person-times, 123 suspicious persons and 83 vehicles checked, 27 people helped,
6 hazards found on patrol and rectified on the spot, 7 trainings. Hengkou's: 15 hazards found
and rectified in all (the other 9 on visits in the last fortnight, ordered rectified: 7 done
and verified, 2 still open), 6 legal-awareness sessions, 20,000 leaflets. Pinghu's: the
parks' guards on the patrol team, trained every half month. No patrol of the year raises an
incident: those would page today's officers about last year.
"""
import random
from datetime import datetime, time, timedelta, timezone

PATROLS = {"foot": 250, "vehicle": 250, "video": 450}
PERSON_TIMES = 3_600
CHECKED = {"suspicious_persons": 123, "suspicious_vehicles": 83, "people_helped": 27}
HAZARDS_ON_SPOT = 6
HAZARDS_ORDERED = 9
HAZARDS_LEFT_OPEN = 2
TRAININGS = 7
LEGAL_SESSIONS = 6
LEAFLETS = 20_000
PUBLICITY_DRIVES = 10
GUARD_TRAININGS = 24  # every half month
GUARDS_PER_ENTERPRISE = 2
ENTERPRISES_WITH_GUARDS = 20
HAZARD_KINDS = ("fire", "site_security", "hazardous_chemicals", "traffic", "public_order")
ACTOR = {"role": "supervisor", "id": "demo-loader"}
BATCH = 25  # calls in flight at once


def _iso(moment):
    return moment.replace(tzinfo=timezone.utc).isoformat()


def _spread(total, parts, rng):
    """`total` split over `parts` counts at random (each part's share drawn, summing exactly)."""
    counts = [0] * parts
    for _ in range(total):
        counts[rng.randrange(parts)] += 1
    return counts


def field_year(today, enterprises, parks, grids, officers, seed=2025):
    """The year's commands as plain dicts: {"guards", "patrols", "hazards", "outreach"}.
    `enterprises` is a list of (id, [its officers' ids]); `parks`, `grids` and `officers` are
    ids. A patrol's members name guards by their place in "guards" ({"guard": index}), as
    their ids are known only once registered."""
    rng = random.Random(seed)
    end = datetime.combine(today, time(6, 0))
    guarded = enterprises[:ENTERPRISES_WITH_GUARDS]
    guards = [{"enterprise_id": e, "name": f"护卫队员{i * GUARDS_PER_ENTERPRISE + k + 1}",
               "phone": f"139{rng.randrange(10**8):08d}"}
              for i, (e, _) in enumerate(guarded) for k in range(GUARDS_PER_ENTERPRISE)]
    kinds = [k for k, n in PATROLS.items() for _ in range(n)]
    rng.shuffle(kinds)
    sizes = _person_times(kinds, rng)
    checked = {name: _spread(total, len(kinds), rng) for name, total in CHECKED.items()}
    on_spot = set(rng.sample(range(len(kinds)), HAZARDS_ON_SPOT))
    patrols = []
    for n, (kind, size) in enumerate(zip(kinds, sizes)):
        start = end - timedelta(days=364 * (len(kinds) - n) / len(kinds), hours=3)
        enterprise_id, its_officers = rng.choice(guarded if kind != "video" else enterprises)
        area = (("park", rng.choice(parks)) if kind == "video" and rng.random() < 0.5 else
                ("grid", rng.choice(grids)) if kind != "foot" else
                ("enterprise", enterprise_id))
        officer_ids = list(dict.fromkeys(its_officers + rng.sample(officers, 2)))
        officers_on = officer_ids[:max(1, min(2, size - 1 if kind != "video" else size))]
        guard_slots = [i for i, g in enumerate(guards) if g["enterprise_id"] == enterprise_id]
        members = [{"kind": "officer", "id": o} for o in officers_on]
        members += [{"kind": "guard", "guard": i} for i in guard_slots][:size - len(members)]
        while len(members) < size:  # more officers where the enterprise has too few guards
            extra = rng.choice(officers)
            if all(m.get("id") != extra for m in members):
                members.append({"kind": "officer", "id": extra})
        hazards = [{"enterprise_id": enterprise_id, "kind": rng.choice(HAZARD_KINDS),
                    "severity": "low", "description": "巡逻发现，当场整改",
                    "rectified_on_spot": True}] if n in on_spot else []
        patrols.append({"kind": kind, "area_kind": area[0], "area_id": area[1],
                        "start": _iso(start), "end": _iso(start + timedelta(hours=2)),
                        "members": members,
                        "findings": {**{k: v[n] for k, v in checked.items()},
                                     "hazards": hazards}})
    hazards = []
    for n in range(HAZARDS_ORDERED):
        enterprise_id, _ = enterprises[(n * 7 + 3) % len(enterprises)]
        hazards.append({"data": {
            "enterprise_id": enterprise_id, "kind": HAZARD_KINDS[n % len(HAZARD_KINDS)],
            "severity": ("low", "medium")[n % 2], "description": "走访检查发现隐患，限期整改",
            "source": "visit"}, "rectified": n >= HAZARDS_LEFT_OPEN})
    outreach = _outreach(end, parks, enterprises, len(guards), rng)
    return {"guards": guards, "patrols": patrols, "hazards": hazards, "outreach": outreach}


def _person_times(kinds, rng):
    """Members of each patrol: foot and vehicle patrols 5 or 6 (two officers and guards), video
    patrols 1 or 2, summing to PERSON_TIMES."""
    sizes = [rng.choice((5, 6)) if k != "video" else rng.choice((1, 2)) for k in kinds]
    while sum(sizes) != PERSON_TIMES:
        i = rng.randrange(len(sizes))
        low, high = (5, 6) if kinds[i] != "video" else (1, 2)
        step = 1 if sum(sizes) < PERSON_TIMES else -1
        if low <= sizes[i] + step <= high:
            sizes[i] += step
    return sizes


def _outreach(end, parks, enterprises, guards, rng):
    held = []

    def hold(kind, n, topic, at, area, **extra):
        held.append(dict({"kind": kind, "area_kind": area[0], "area_id": area[1],
                          "at": _iso(at), "topic": topic, "attendees": 0, "guard_ids": [],
                          "materials": 0}, **extra))

    for n in range(GUARD_TRAININGS):
        hold("guard_training", n, "护卫队业务培训", end - timedelta(days=15 * n + 1),
             ("park", parks[n % len(parks)]),
             guards=[g for g in range(guards) if g % 3 == n % 3])
    for n in range(TRAININGS):
        hold("training", n, "企业安保人员技能培训", end - timedelta(days=50 * n + 3),
             ("enterprise", enterprises[n * 5 % len(enterprises)][0]),
             attendees=rng.randint(20, 60))
    for n in range(LEGAL_SESSIONS):
        hold("legal_session", n, "法律进企业宣讲", end - timedelta(days=60 * n + 7),
             ("park", parks[n % len(parks)]), attendees=rng.randint(40, 150))
    for n, leaflets in enumerate(_spread(LEAFLETS, PUBLICITY_DRIVES, rng)):
        hold("publicity", n, "反诈宣传", end - timedelta(days=36 * n + 10),
             ("park", parks[n % len(parks)]), attendees=rng.randint(100, 400),
             materials=leaflets)
    return held


def load_field_work(fieldwork, plan):
    """Register the guards, record the patrols (their on-the-spot hazards with them), report
    the ordered hazards (rectification reported and verified for those marked so) and the
    outreach; returns a one-line summary. Calls go a batch at a time."""
    guard_ids = [g["id"] for g in _all(fieldwork.register_guard, [
        (g, ACTOR, f"demo-loader:guard-{n}") for n, g in enumerate(plan["guards"])])]

    def member(m):
        return {"kind": "guard", "id": guard_ids[m["guard"]]} if "guard" in m else m

    _all(fieldwork.record_patrol, [
        (dict(p, members=[member(m) for m in p["members"]]), ACTOR, f"demo-loader:patrol-{n}")
        for n, p in enumerate(plan["patrols"])])
    hazards = _all(fieldwork.report_hazard, [
        (h["data"], ACTOR, f"demo-loader:hazard-{n}") for n, h in enumerate(plan["hazards"])])
    done = [h["id"] for h, planned in zip(hazards, plan["hazards"])
            if planned["rectified"] and h["status"] == "ordered"]
    _all(fieldwork.report_rectified, [(h, {"role": "enterprise", "id": "demo-loader"})
                                      for h in done])
    _all(fieldwork.verify_hazard, [(h, {"passed": True}, ACTOR) for h in done])
    _all(fieldwork.record_outreach, [
        (dict({k: v for k, v in o.items() if k != "guards"},
              guard_ids=[guard_ids[g] for g in o.get("guards", ())]),
         ACTOR, f"demo-loader:outreach-{n}") for n, o in enumerate(plan["outreach"])])
    return (f"{len(guard_ids)} guards, {len(plan['patrols'])} patrols, "
            f"{len(plan['hazards'])} hazards ordered, {len(plan['outreach'])} outreach")


def _all(method, calls):
    """Each call's answer, in order, with at most BATCH in flight."""
    answers = []
    for start in range(0, len(calls), BATCH):
        pending = [method.call_async(*args) for args in calls[start:start + BATCH]]
        answers.extend(reply.result() for reply in pending)
    return answers
