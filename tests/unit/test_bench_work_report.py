"""The work report's benchmark (bench/work_report.py) cannot rot: its events honour their
contracts and are shaped like a county's report, and it runs end to end at a tiny size, its
province report counting exactly what it generated."""
import importlib.util
from collections import Counter
from pathlib import Path

from contracts.envelope import make_envelope, open_envelope
from contracts.events import EVENT_SCHEMAS

_spec = importlib.util.spec_from_file_location(
    "bench_work_report",
    Path(__file__).resolve().parent.parent.parent / "bench" / "work_report.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_a_county_is_shaped_like_the_reports_and_its_events_honour_their_contracts():
    county = bench.province(1, 7)[0]
    events = county.events()
    kinds = Counter(e["type"] for e in events)
    assert kinds["patrol.recorded"] == 950 and kinds["enterprise.registered"] == 330
    assert kinds["assignment.changed"] == 330 and kinds["dispute.registered"] == 128
    assert len({e["id"] for e in events}) == len(events)
    work = [e for e in events if e["type"] not in ("enterprise.registered",
                                                   "officer.registered", "assignment.changed")]
    assert [e["time"] for e in work] == sorted(e["time"] for e in work)
    for event in events[::7] + [next(e for e in events if e["type"] == kind) for kind in kinds]:
        opened = open_envelope(make_envelope(event["type"], "/bench", "x", event["data"],
                                             EVENT_SCHEMAS), EVENT_SCHEMAS)
        assert opened["data"] == event["data"], event["type"]
    assert [e["id"] for e in bench.province(1, 7)[0].events()] == [e["id"] for e in events]


def test_the_bench_runs_at_a_tiny_size_and_reads_back_what_it_generated(capsys):
    report, wanted = bench.run(bench.argparse.Namespace(
        counties=2, scale=0.05, batch=50, repeat=1, seed=3, keep=False))
    printed = capsys.readouterr().out
    assert "events/s" in printed and "province" in printed and "<- differs" not in printed
    assert report["figures"] == {name: wanted.get(name, 0) for name in report["figures"]}
    counties = bench.province(2, 3, 0.05)
    assert report["figures"]["patrols"] == sum(
        c.n("street_patrols") + c.n("video_patrols") for c in counties) > 0
    assert report["coverage"]["enterprises"] == sum(len(c.enterprises) for c in counties)
