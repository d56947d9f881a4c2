"""A demo county: stations, parks, grids, enterprises, officers, assignments and leave.

Pure and deterministic: `build_demo_county(today, seed)` does no I/O and always returns the
same data for the same arguments. Names and figures are modelled on the five seed reports
(Weng'an, Pinghu, Hengkou, Pingyang, Dongying) but the county itself, 云溪县, is invented.

Records are plain dicts that point at each other by natural key: station name, park name,
grid code, officer badge number, enterprise credit code. Dates are `datetime.date` objects;
everything else is JSON-serialisable.
"""
from __future__ import annotations

import datetime
import random
from itertools import cycle, product

from services.enterprise.domain import (
    CREDIT_CODE_CHARSET,
    DEPARTMENTS,
    credit_code_check_char,
    credit_code_problem,
)

COUNTY = "云溪县"
AREA_CODE = "0854"

# area (used in grid names), station name, kind, address, number of grids
_STATIONS = (
    ("城东", "城东派出所", "station", "云溪县城东街道建设路18号", 3),
    ("城西", "城西派出所", "station", "云溪县城西街道文峰路66号", 3),
    ("银盏", "银盏派出所", "station", "云溪县银盏镇府前街9号", 2),
    ("园区", "循环工业园警务站", "park_post", "云溪县循环工业园纬二路1号", 2),
)
# park name, station, address
_PARKS = (
    ("循环工业园", "循环工业园警务站", "云溪县循环工业园管委会"),
    ("精细化工园", "银盏派出所", "云溪县银盏镇精细化工园"),
    ("轻工产业园", "城东派出所", "云溪县城东街道轻工产业园"),
)
# Share of enterprises in a station's area that sit inside its park (if it has one).
_PARK_SHARE = {"station": 0.6, "park_post": 1.0}

ENTERPRISE_COUNT = 60
PROJECT_COUNT = 15
OFFICER_COUNT = 170

# Rank and file, spread over the stations in proportion to their grids. Each station also
# gets one station chief, and there is one bureau leader per station ("错位联系").
_RANK_AND_FILE = (
    ("team_leader", 12),
    ("area_chief", 14),
    ("policy_specialist", 10),
    ("community_officer", 56),
    ("auxiliary_officer", 70),
)
_BUREAU_LEADER_DEPARTMENTS = (
    [],  # the bureau chief oversees everything
    ["criminal_investigation", "public_order"],
    ["economic_crime", "cyber_security"],
    ["traffic", "narcotics_control"],
)
_TEAM_DEPARTMENTS = ("public_order", "criminal_investigation", "household_registration")

# Levels and stages, shuffled over the projects and the enterprises.
_PROJECT_LEVELS = {"city_key_project": 4, "district_key_project": 11}
_PROJECT_STAGES = {"signing": 5, "landing": 4, "construction": 6}
_ENTERPRISE_LEVELS = {"above_scale": 32, "other": 13}
_ENTERPRISE_STAGES = {"production": 41, "construction": 3, "landing": 1}

# --- name pools ---------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾袁田潘蒋蔡余杜叶程"
_GIVEN = "伟芳敏静丽强磊军洋勇艳杰涛明超秀霞平刚英华红建文辉鹏飞宇浩俊峰波斌宏志国庆海林春晓燕雪卫忠"
_NUMERALS = "一二三四五六七八九十"
_MOBILE_PREFIXES = ("135", "136", "138", "139", "151", "158", "159", "182", "187", "188", "199")

_BRANDS = (
    "雅友 恒泰 鑫源 华磷 瑞丰 金盛 宏达 兴业 天成 博远 永固 新禾 黔润 汇能 中晟 "
    "德润 聚力 利民 森茂 益康 众诚 福泰 信达 川盛 鼎鑫 万顺 嘉禾 昌隆 宝丰 远航"
).split()
_REGIONS = ("贵州", "黔南", "云溪", "")
_COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")
# industry word, the specialist department most often on call for it
_INDUSTRIES = (
    ("新材料", "economic_crime"),
    ("磷化工", "narcotics_control"),
    ("精细化工", "narcotics_control"),
    ("医药", "narcotics_control"),
    ("包装", "narcotics_control"),
    ("纺织科技", "economic_crime"),
    ("服装", "economic_crime"),
    ("食品", "economic_crime"),
    ("茶业", "economic_crime"),
    ("商贸", "economic_crime"),
    ("新能源", "economic_crime"),
    ("物流", "traffic"),
    ("建材", "traffic"),
    ("矿业", "public_order"),
    ("铝业", "public_order"),
    ("机械制造", "public_order"),
    ("家具", "public_order"),
    ("环保科技", "public_order"),
    ("电子科技", "cyber_security"),
    ("信息技术", "cyber_security"),
)
# project name after the brand, capacities to fill in, specialist department on call
_PROJECTS = (
    ("{n}万吨/年磷酸铁一体化项目", (10, 20, 30, 50), "narcotics_control"),
    ("{n}万吨/年湿法净化磷酸项目", (5, 10, 15), "narcotics_control"),
    ("{n}万吨/年精细化工新材料项目", (2, 5, 8), "narcotics_control"),
    ("{n}GWh储能电池生产基地项目", (2, 5, 10), "economic_crime"),
    ("{n}万锭智能纺纱项目", (5, 10, 20), "economic_crime"),
    ("{n}万平方米标准化厂房建设项目", (8, 12, 20), "public_order"),
    ("{n}万吨冷链物流园项目", (3, 5, 8), "traffic"),
    ("{n}兆瓦光伏发电项目", (50, 100, 200), "public_order"),
)
_ROADS = ("纬一路", "纬二路", "纬三路", "经一路", "经二路", "经三路", "园区大道", "工业大道", "环城北路")
_TOWNS = {"城东": "城东街道", "城西": "城西街道", "银盏": "银盏镇", "园区": "循环工业园"}

# Division codes (GB/T 2260) of the registering authority: mostly the county itself.
_DIVISIONS = (("522725", 8), ("522701", 1), ("520115", 1))
_LEAVE_NOTES = ("年休假", "年休假", "探亲假", "病假", "婚假", "陪产假", "事假")


def build_demo_county(today: datetime.date, seed: int = 2025) -> dict:
    """One demo county as plain dicts.

    Returns {"stations", "parks", "grids", "enterprises", "officers", "assignments",
    "absences"}. On `today` at least one assigned enterprise has its A officer on leave (so B
    is the one to call) and exactly one has both A and B on leave. Two enterprises have no
    assignment, one has no B officer and one has only two of the three chiefs.
    """
    rng = random.Random(seed)
    stations = [
        {"name": name, "kind": kind, "address": address, "phone": _landline(rng)}
        for _, name, kind, address, _ in _STATIONS
    ]
    parks = [{"name": name, "station": station, "address": address}
             for name, station, address in _PARKS]
    grids = _grids()
    officers, grid_chiefs = _officers(rng, grids)
    enterprises, on_call = _enterprises(rng, grids)
    assignments = _assignments(rng, enterprises, on_call, grids, officers, grid_chiefs)
    absences = _absences(rng, today, officers, assignments)
    return {
        "stations": stations,
        "parks": parks,
        "grids": grids,
        "enterprises": enterprises,
        "officers": officers,
        "assignments": assignments,
        "absences": absences,
    }


# --- places -------------------------------------------------------------------------------


def _grids() -> list[dict]:
    grids = []
    for area, station, _, _, count in _STATIONS:
        for i in range(count):
            grids.append({"code": f"WG-{len(grids) + 1:02d}",
                          "name": f"{area}第{_NUMERALS[i]}警格",
                          "station": station})
    return grids


def _station_area(station: str) -> str:
    return next(area for area, name, *_ in _STATIONS if name == station)


def _station_kind(station: str) -> str:
    return next(kind for _, name, kind, *_ in _STATIONS if name == station)


def _station_park(station: str) -> str | None:
    return next((park for park, park_station, _ in _PARKS if park_station == station), None)


def _address(rng: random.Random, station: str, park: str | None) -> str:
    number = f"{rng.choice(_ROADS)}{rng.randint(1, 199)}号"
    if park is not None:
        return f"{COUNTY}{park}{number}"
    return f"{COUNTY}{_TOWNS[_station_area(station)]}{number}"


# --- people -------------------------------------------------------------------------------


def _person(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def _landline(rng: random.Random) -> str:
    return f"{AREA_CODE}-{rng.randint(2, 8)}{rng.randrange(10 ** 6):06d}"


def _officers(rng: random.Random, grids: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """All officers, and the area chief answering for each grid (grid code -> badge)."""
    station_names = [s[1] for s in _STATIONS]
    grid_stations = [g["station"] for g in grids]

    plan: list[tuple[str, str, list[str]]] = []  # role, station, departments
    for i, station in enumerate(station_names):
        plan.append(("bureau_leader", station, list(_BUREAU_LEADER_DEPARTMENTS[i])))
    for station in station_names:
        plan.append(("station_chief", station, ["public_order"]))
    for role, count in _RANK_AND_FILE:
        for i in range(count):
            plan.append((role, grid_stations[i % len(grids)], _departments_for(role, i)))
    assert len(plan) == OFFICER_COUNT

    auxiliaries = sum(1 for role, _, _ in plan if role == "auxiliary_officer")
    police_badges = iter(rng.sample(range(100000, 900000), len(plan) - auxiliaries))
    auxiliary_badges = iter(rng.sample(range(900000, 1000000), auxiliaries))

    officers = []
    for role, station, departments in plan:
        badges = auxiliary_badges if role == "auxiliary_officer" else police_badges
        officers.append({"badge_number": str(next(badges)), "name": _person(rng), "role": role,
                         "station": station, "departments": departments,
                         "phone": _mobile(rng)})

    area_chiefs = [o["badge_number"] for o in officers if o["role"] == "area_chief"]
    grid_chiefs = {grid["code"]: badge for grid, badge in zip(grids, area_chiefs)}
    return officers, grid_chiefs


def _departments_for(role: str, i: int) -> list[str]:
    if role == "team_leader":
        return [_TEAM_DEPARTMENTS[i % len(_TEAM_DEPARTMENTS)]]
    if role == "policy_specialist":
        return [DEPARTMENTS[i % len(DEPARTMENTS)]]
    if role == "community_officer" and i % 4 == 0:
        return ["household_registration"]
    if role == "auxiliary_officer" and i % 5 == 0:
        return ["traffic"]
    return ["public_order"]


# --- enterprises and projects -------------------------------------------------------------


def _shuffled(rng: random.Random, counts: dict[str, int]) -> list[str]:
    values = [value for value, count in counts.items() for _ in range(count)]
    rng.shuffle(values)
    return values


def _org_code(rng: random.Random, new: bool) -> str:
    """A 9-character organisation code (GB 11714): 8 body characters and a check character.

    Since 2015 new registrations carry an "MA" body; older ones are all digits.
    """
    if new:
        body = "MA" + "".join(rng.choice(CREDIT_CODE_CHARSET) for _ in range(6))
    else:
        body = f"{rng.randrange(10 ** 8):08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def _credit_code(rng: random.Random, new: bool) -> str:
    divisions, weights = zip(*_DIVISIONS)
    first17 = "91" + rng.choices(divisions, weights)[0] + _org_code(rng, new)
    code = first17 + credit_code_check_char(first17)
    assert credit_code_problem(code) is None, code
    return code


def _company_name(rng: random.Random, brand: str, industry: str) -> str:
    return f"{rng.choice(_REGIONS)}{brand}{industry}{rng.choice(_COMPANY_SUFFIXES)}"


def _workforce(rng: random.Random, kind: str, level: str, stage: str) -> tuple[int, int]:
    """Headcount and how many of them are migrant workers."""
    if kind == "project":
        workforce = {"signing": rng.randint(5, 30), "landing": rng.randint(30, 300),
                     "construction": rng.randint(200, 4000)}[stage]
        share = rng.uniform(0.7, 0.95)
    elif level == "above_scale":
        workforce, share = rng.randint(80, 2500), rng.uniform(0.2, 0.7)
    else:
        workforce, share = rng.randint(10, 80), rng.uniform(0.1, 0.5)
    return workforce, int(workforce * share)


def _enterprises(rng: random.Random, grids: list[dict]) -> tuple[list[dict], list[list[str]]]:
    """The enterprises, and the specialist departments on call for each ("1+N")."""
    projects = rng.sample(list(product(_BRANDS, range(len(_PROJECTS)))), PROJECT_COUNT)
    companies = rng.sample(list(product(_BRANDS, range(len(_INDUSTRIES)))),
                           ENTERPRISE_COUNT - PROJECT_COUNT)
    levels = _shuffled(rng, _PROJECT_LEVELS) + _shuffled(rng, _ENTERPRISE_LEVELS)
    stages = _shuffled(rng, _PROJECT_STAGES) + _shuffled(rng, _ENTERPRISE_STAGES)
    # Every grid gets at least three, the rest fall where they may.
    grid_list = [g for g in grids for _ in range(3)]
    grid_list += rng.choices(grids, k=ENTERPRISE_COUNT - len(grid_list))
    rng.shuffle(grid_list)

    enterprises, on_call, codes = [], [], set()
    for i, grid in enumerate(grid_list):
        kind = "project" if i < PROJECT_COUNT else "enterprise"
        level, stage = levels[i], stages[i]
        if kind == "project":
            brand, p = projects[i]
            template, capacities, department = _PROJECTS[p]
            name = brand + template.format(n=rng.choice(capacities))
            departments = {"public_order", "traffic", department}
        else:
            brand, n = companies[i - PROJECT_COUNT]
            industry, department = _INDUSTRIES[n]
            name = _company_name(rng, brand, industry)
            departments = {department}
            if rng.random() < 0.4:
                departments.add(rng.choice(DEPARTMENTS))

        station = grid["station"]
        park = _station_park(station)
        if park is not None and rng.random() >= _PARK_SHARE[_station_kind(station)]:
            park = None

        code = _credit_code(rng, new=kind == "project" or rng.random() < 0.5)
        while code in codes:
            code = _credit_code(rng, new=True)
        codes.add(code)

        workforce, migrants = _workforce(rng, kind, level, stage)
        enterprises.append({
            "name": name, "credit_code": code, "kind": kind, "level": level, "stage": stage,
            "grid": grid["code"], "park": park, "address": _address(rng, station, park),
            "workforce": workforce, "migrant_workers": migrants,
            "contact": {"name": _person(rng), "phone": _mobile(rng)},
        })
        on_call.append([d for d in DEPARTMENTS if d in departments])
    return enterprises, on_call


# --- who answers for whom -----------------------------------------------------------------


class _Rota:
    """Hands out officers of a role at a station in turn, so the load is shared evenly."""

    def __init__(self, rng: random.Random, officers: list[dict]):
        self._rng = rng
        self._officers = officers
        self._turns: dict[tuple[str, str], cycle] = {}

    def next(self, role: str, station: str) -> str:
        key = (role, station)
        if key not in self._turns:
            badges = [o["badge_number"] for o in self._officers
                      if o["role"] == role and o["station"] == station]
            self._rng.shuffle(badges)
            self._turns[key] = cycle(badges)
        return next(self._turns[key])


def _assignments(rng: random.Random, enterprises: list[dict], on_call: list[list[str]],
                 grids: list[dict], officers: list[dict],
                 grid_chiefs: dict[str, str]) -> list[dict]:
    grid_station = {g["code"]: g["station"] for g in grids}
    leaders = {o["station"]: o["badge_number"] for o in officers if o["role"] == "bureau_leader"}
    bureau_chief = next(o["badge_number"] for o in officers if o["role"] == "bureau_leader")
    station_chiefs = {o["station"]: o["badge_number"]
                      for o in officers if o["role"] == "station_chief"}

    # The gaps a coverage report should show: two newly signed projects nobody holds yet,
    # a landing project still without a B officer, a small enterprise with only two chiefs.
    signing = [i for i, e in enumerate(enterprises) if e["stage"] == "signing"]
    unassigned = set(rng.sample(signing, 2))
    no_b = rng.choice([i for i, e in enumerate(enterprises)
                       if e["stage"] == "landing" and e["kind"] == "project"])
    two_chiefs = rng.choice([i for i, e in enumerate(enterprises) if e["level"] == "other"])

    rota = _Rota(rng, officers)
    assignments = []
    for i, enterprise in enumerate(enterprises):
        if i in unassigned:
            continue
        station = grid_station[enterprise["grid"]]
        key_project = enterprise["level"] in ("city_key_project", "district_key_project")
        # Key projects pair the community officer with a policy specialist (Dongying).
        b_role = "policy_specialist" if key_project else "auxiliary_officer"
        city_key = enterprise["level"] == "city_key_project"
        assignments.append({
            "credit_code": enterprise["credit_code"],
            "a_officer": rota.next("community_officer", station),
            "b_officer": None if i == no_b else rota.next(b_role, station),
            "bureau_leader": None if i == two_chiefs else
            (bureau_chief if city_key else leaders[station]),
            "station_leader": station_chiefs[station] if city_key else
            rota.next("team_leader", station),
            "area_chief": grid_chiefs[enterprise["grid"]],
            "departments": on_call[i],
        })
    return assignments


def _absences(rng: random.Random, today: datetime.date, officers: list[dict],
              assignments: list[dict]) -> list[dict]:
    away_today = _away_today(rng, assignments)
    others = rng.sample([o["badge_number"] for o in officers
                         if o["badge_number"] not in away_today], 4)

    def leave(badge: str, start: datetime.date, end: datetime.date) -> dict:
        return {"badge_number": badge, "status": "on_leave", "start": start, "end": end,
                "note": rng.choice(_LEAVE_NOTES)}

    absences = []
    for badge in away_today:
        start = today - datetime.timedelta(days=rng.randint(0, 4))
        absences.append(leave(badge, start, today + datetime.timedelta(days=rng.randint(1, 6))))
    for n, badge in enumerate(others):
        if n % 2:  # already back
            end = today - datetime.timedelta(days=rng.randint(1, 20))
            start = end - datetime.timedelta(days=rng.randint(0, 6))
        else:  # leave booked for later
            start = today + datetime.timedelta(days=rng.randint(1, 20))
            end = start + datetime.timedelta(days=rng.randint(0, 6))
        absences.append(leave(badge, start, end))
    return absences


def _away_today(rng: random.Random, assignments: list[dict]) -> list[str]:
    """Three officers on leave today: B covers for A somewhere, and exactly once nobody does."""
    pairs = [(a["a_officer"], a["b_officer"]) for a in assignments
             if a["a_officer"] and a["b_officer"]]
    candidates = pairs[:]
    rng.shuffle(candidates)
    for a2, b2 in candidates:  # the enterprise with both away
        for a1, b1 in candidates:  # an enterprise where B stands in for A
            if a1 in (a2, b2) or b1 in (a2, b2):
                continue
            away = {a1, a2, b2}
            both = sum(1 for a, b in pairs if a in away and b in away)
            if both == 1:
                return [a1, a2, b2]
    raise RuntimeError("no set of absences gives exactly one enterprise without A and B")
