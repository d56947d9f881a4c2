"""The bureau's work report: which figures it counts, what each event adds to them, and the
report put together from the figures summed over an area and a period.

Pure: the standard library and the contracts' value lists only. The read model that keeps
the figures per area and day (services.fieldwork.figures) folds each event it consumes
through `fold`, and answers a report through `assemble`; the printable report
(services.fieldwork.report_html, report_pdf) lays out what `assemble` returns.

Every figure is a sum: each event adds whole numbers to some figures on one day (its own
business time, as a UTC date), and a report sums those over the days of its period and the
areas inside its area. So the figures of two areas or two periods add up, and the same event
counted once in a day's figures is counted once in any report that holds that day.
"""
from dataclasses import dataclass
from datetime import date, datetime

from contracts.vocabulary import LEVELS, PATROL_KINDS

SECTIONS = (
    # name, Chinese, English
    ("patrols", "巡逻防控", "Patrols"),
    ("hazards", "安全隐患排查整改", "Hazards found and rectified"),
    ("outreach", "普法宣传与培训", "Legal awareness, training and publicity"),
    ("mediation", "矛盾纠纷排查化解", "Disputes screened and settled"),
    ("services", "服务企业", "Services to enterprises"),
    ("incidents", "涉企警情", "Incidents around enterprises"),
)


@dataclass(frozen=True)
class Figure:
    name: str
    section: str
    zh: str
    en: str
    summed: str  # what each event adds to it (a report sums that over days and areas)


FIGURES = (
    Figure("patrols", "patrols", "巡逻总场次", "patrols of every kind",
           "1 per patrol.recorded"),
    Figure("street_patrols", "patrols", "治安巡逻场次", "patrols on foot or in vehicles",
           "1 per patrol.recorded on foot or in a vehicle"),
    Figure("foot_patrols", "patrols", "徒步巡逻场次", "foot patrols",
           "1 per patrol.recorded on foot"),
    Figure("vehicle_patrols", "patrols", "车辆巡逻场次", "vehicle patrols",
           "1 per patrol.recorded in a vehicle"),
    Figure("video_patrols", "patrols", "视频巡查场次", "video patrols",
           "1 per patrol.recorded over the video network"),
    Figure("person_times", "patrols", "出动巡逻人员(人次)", "patrol person-times",
           "a patrol.recorded's person_times (officers and guards, each once)"),
    Figure("police_times", "patrols", "出动警力(人次)", "police-times on patrol",
           "a patrol.recorded's distinct officers"),
    Figure("guard_times", "patrols", "企业保安参与巡逻(人次)", "guard-times on patrol",
           "a patrol.recorded's guards"),
    Figure("suspicious_persons", "patrols", "盘查可疑人员(人)", "suspicious persons checked",
           "a patrol.recorded's suspicious_persons"),
    Figure("suspicious_vehicles", "patrols", "盘查可疑车辆(辆)", "suspicious vehicles checked",
           "a patrol.recorded's suspicious_vehicles"),
    Figure("people_helped", "patrols", "救助服务群众(人次)", "people helped",
           "a patrol.recorded's people_helped"),
    Figure("incidents_raised", "patrols", "巡逻发现警情(起)", "incidents raised by patrols",
           "a patrol.recorded's incidents_raised"),
    Figure("hazards_found", "hazards", "发现安全隐患(处)", "hazards found",
           "1 per hazard.found"),
    Figure("rectified_on_spot", "hazards", "现场整改(处)", "hazards rectified on the spot",
           "1 per hazard.found rectified on the spot"),
    Figure("orders_issued", "hazards", "责令限期整改(处)", "rectification orders issued",
           "1 per hazard.order_issued"),
    Figure("rectified", "hazards", "整改完成(处)", "hazards rectified",
           "1 per hazard.rectified (field work sends one for a hazard rectified on the spot, "
           "and one when an order's rectification is verified)"),
    Figure("rectified_on_time", "hazards", "按期整改(处)", "rectified by the order's deadline",
           "1 per hazard.rectified on time"),
    Figure("overdue", "hazards", "逾期未整改(处)", "orders overdue",
           "1 per hazard.order_overdue"),
    Figure("legal_sessions", "outreach", "普法专业培训(场次)", "legal-awareness sessions",
           "1 per outreach.held of kind legal_session"),
    Figure("trainings", "outreach", "业务培训(场次)", "trainings",
           "1 per outreach.held of kind training"),
    Figure("guard_trainings", "outreach", "联防队培训(次)", "trainings of the joint patrol team",
           "1 per outreach.held of kind guard_training"),
    Figure("publicity", "outreach", "宣传活动(场次)", "publicity drives",
           "1 per outreach.held of kind publicity"),
    Figure("attendees", "outreach", "参加人员(人次)", "attendees",
           "an outreach.held's attendees"),
    Figure("guards_trained", "outreach", "培训企业保安(人次)", "guards trained",
           "an outreach.held's guards_trained"),
    Figure("materials", "outreach", "发放宣传资料(份)", "leaflets and materials handed out",
           "an outreach.held's materials"),
    Figure("screened", "mediation", "排查矛盾纠纷(起)", "disputes screened",
           "1 per dispute.registered"),
    Figure("settled", "mediation", "化解矛盾纠纷(起)", "disputes settled",
           "1 per dispute, on its first dispute.agreed"),
    Figure("risks_flagged", "mediation", "排查“民转刑”“刑转命”隐患(条)",
           "disputes found at risk of turning criminal or deadly",
           "1 per dispute, on its first dispute.risk_flagged"),
    Figure("analysis_meetings", "mediation", "召开矛盾纠纷研判会(场次)", "analysis meetings",
           "1 per dispute.session_recorded of kind analysis_meeting"),
    Figure("escalated", "mediation", "提级化解(次)", "disputes moved up a tier",
           "1 per dispute.escalated"),
    Figure("referred", "mediation", "移交联调部门(次)", "referrals to agencies",
           "1 per referral.created"),
    Figure("services_handled", "services", "代办帮办业务(件)",
           "services handled on enterprises' behalf",
           "1 per request, on its first request.closed"),
    Figure("incidents", "incidents", "涉企警情(起)", "incidents reported around enterprises",
           "1 per incident.reported"),
    Figure("key_incidents", "incidents", "重点项目周边警情(起)",
           "incidents at key enterprises (city or district key projects)",
           "1 per incident.reported at a key enterprise (its level when counted)"),
    Figure("obstruction", "incidents", "阻挠施工案件(起)",
           "obstruction-of-construction cases",
           "1 per incident.reported of category obstruction"),
)
BY_NAME = {figure.name: figure for figure in FIGURES}
KEY_LEVELS = LEVELS[:2]  # city_key_project, district_key_project
# The area kinds below the county whose figures are kept, and the place field naming each.
PLACE_FIELDS = (("station", "station_id"), ("park", "park_id"), ("grid", "grid_id"),
                ("enterprise", "enterprise_id"))

# The types that count, by the field holding their day.
DAY_OF = {
    "patrol.recorded": "start", "hazard.found": "found_at", "hazard.order_issued": "at",
    "hazard.order_overdue": "at", "hazard.rectified": "at", "outreach.held": "at",
    "dispute.registered": "registered_at", "dispute.agreed": "at",
    "dispute.risk_flagged": "at", "dispute.escalated": "at", "dispute.session_recorded": "at",
    "referral.created": "at", "request.closed": "at", "incident.reported": "reported_at",
}
COUNTED = tuple(DAY_OF)
_OUTREACH = {"legal_session": "legal_sessions", "training": "trainings",
             "guard_training": "guard_trainings", "publicity": "publicity"}


@dataclass(frozen=True)
class Folded:
    """What one event adds: `counts` ({figure: n}, none zero) on `day`. `once`, when set,
    names what the event counts (a dispute settled, a request handled): only the first event
    with that name counts, as a dispute agreed again after it was reopened is not settled
    twice."""
    day: date
    counts: dict
    once: str | None = None


def fold(event, place=None):
    """What `event` (an opened event: its `type` and its loaded `data`) adds to the figures,
    or None when it counts nothing. `place` is the enterprise's ({"level", ...}), needed only
    to tell an incident at a key enterprise."""
    kind, data = event["type"], event["data"]
    if kind not in DAY_OF:
        return None
    at = data[DAY_OF[kind]]
    day = at.date() if isinstance(at, datetime) else at
    counts, once = _COUNTERS[kind](data, place or {})
    counts = {name: n for name, n in counts.items() if n}
    if not counts:
        return None
    return Folded(day, counts, once(data) if once else None)


def _patrol(data, place):
    kind = data["kind"]
    return {"patrols": 1, "street_patrols": int(kind in PATROL_KINDS[:2]),
            f"{kind}_patrols": 1, "person_times": data["person_times"],
            "police_times": len(set(data["officer_ids"])), "guard_times": data["guards"],
            "suspicious_persons": data["suspicious_persons"],
            "suspicious_vehicles": data["suspicious_vehicles"],
            "people_helped": data["people_helped"],
            "incidents_raised": data["incidents_raised"]}, None


def _hazard_found(data, place):
    on_spot = int(bool(data["rectified_on_spot"]))
    return {"hazards_found": 1, "rectified_on_spot": on_spot}, None


def _hazard_rectified(data, place):
    return {"rectified": 1, "rectified_on_time": int(data["on_time"] is True)}, None


def _outreach(data, place):
    return {_OUTREACH[data["kind"]]: 1, "attendees": data["attendees"],
            "guards_trained": data["guards_trained"], "materials": data["materials"]}, None


def _session(data, place):
    return {"analysis_meetings": int(data["detail"] == "analysis_meeting")}, None


def _incident(data, place):
    return {"incidents": 1, "key_incidents": int(place.get("level") in KEY_LEVELS),
            "obstruction": int(data["category"] == "obstruction")}, None


def _one(figure, once=None):
    return lambda data, place: ({figure: 1}, once)


_COUNTERS = {
    "patrol.recorded": _patrol,
    "hazard.found": _hazard_found,
    "hazard.order_issued": _one("orders_issued"),
    "hazard.order_overdue": _one("overdue"),
    "hazard.rectified": _hazard_rectified,
    "outreach.held": _outreach,
    "dispute.registered": _one("screened"),
    "dispute.agreed": _one("settled", lambda d: f"settled:{d['dispute_id']}"),
    "dispute.risk_flagged": _one("risks_flagged", lambda d: f"risk:{d['dispute_id']}"),
    "dispute.escalated": _one("escalated"),
    "dispute.session_recorded": _session,
    "referral.created": _one("referred"),
    "request.closed": _one("services_handled", lambda d: f"request:{d['request_id']}"),
    "incident.reported": _incident,
}


def carries_place(event):
    """Whether the event names its station, park and grid itself (field work's records and a
    dispute's intake); the others are placed where their enterprise is."""
    data = event["data"]
    return all(field in data for field in ("station_id", "park_id", "grid_id"))


def areas(event, place=None):
    """The areas below the county an event counts for, as (kind, id): its own station, park,
    grid and enterprise when it names them (`carries_place`), otherwise its enterprise's
    (`place`, {"station_id", "park_id", "grid_id"}). A park or grid it is not in is left out."""
    data = event["data"]
    where = data if carries_place(event) else dict(place or {},
                                                   enterprise_id=data.get("enterprise_id"))
    return [(kind, where[field]) for kind, field in PLACE_FIELDS if where.get(field)]


# --- the report ---------------------------------------------------------------------------------


def a_year_before(start, end):
    """The same calendar days a year earlier (29 February becomes the 28th)."""
    return _year_back(start), _year_back(end)


def _year_back(day):
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def total(days):
    """The figures of many days (or areas) summed: {figure: n} for every figure."""
    summed = dict.fromkeys(BY_NAME, 0)
    for counts in days:
        for name, n in counts.items():
            if name in summed:
                summed[name] += n
    return summed


def coverage(tally, rows):
    """Who covers the area's enterprises now: how many there are, how many are key, how many
    have both an A and a B officer, all three chiefs, and both (covered); `rows`, the
    enterprises listed (those with a gap first), and how many were not listed.
    `tally`: {(key, a_and_b, three_chiefs): enterprises}."""
    def count(test):
        return sum(n for flags, n in tally.items() if test(*flags))

    enterprises = count(lambda *_: True)
    return {"enterprises": enterprises,
            "key_enterprises": count(lambda key, ab, chiefs: key),
            "with_a_and_b": count(lambda key, ab, chiefs: ab),
            "with_three_chiefs": count(lambda key, ab, chiefs: chiefs),
            "covered": count(lambda key, ab, chiefs: ab and chiefs),
            "key_covered": count(lambda key, ab, chiefs: key and ab and chiefs),
            "rows": list(rows), "rows_not_shown": max(0, enterprises - len(rows))}


def change(now, before):
    """The relative change from `before` to `now` (-0.257: a fall of 25.7%); None from 0."""
    return round((now - before) / before, 4) if before else None


def assemble(area_kind, area_id, start, end, period, before, cover):
    """The work report of an area over the days start..end (both included): `period`, the
    figures of the days and areas it holds (an iterable of {figure: n}); `before`, those of
    the same days a year earlier; `cover`, what `coverage` made of the area's enterprises.

    The sections hold every figure, zero or not, in the order of FIGURES; `figures` holds the
    same values by name. `key_incidents` sets the incidents at key enterprises beside those
    of a year before (the level counted is the enterprise's when each incident came in)."""
    figures = total(period)
    earlier = total(before)
    start_before, end_before = a_year_before(start, end)
    return {
        "area": {"kind": area_kind, "id": area_id},
        "start": start, "end": end, "days": (end - start).days + 1,
        "figures": figures,
        "sections": [{"name": name, "zh": zh, "en": en,
                      "figures": [{"name": f.name, "zh": f.zh, "en": f.en,
                                   "value": figures[f.name]}
                                  for f in FIGURES if f.section == name]}
                     for name, zh, en in SECTIONS],
        "key_incidents": {"value": figures["key_incidents"],
                          "start_before": start_before, "end_before": end_before,
                          "a_year_before": earlier["key_incidents"],
                          "change": change(figures["key_incidents"],
                                           earlier["key_incidents"])},
        "coverage": cover,
    }
