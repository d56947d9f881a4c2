"""`python -m infra.simulate` on a tiny county (8 chiefs, about 4 cases each): a year driven
through the real platform over HTTP, with acknowledgement windows of seconds, so missed pages
fail over for real. The platform's own records must agree with what the drive did."""
import pytest

from infra.drive import Scenario
from infra.gateway_client import Gateway
from infra.launch import jwt_secret
from infra.simulate import drive, own_platform
from services.appraisal.planted import COLUMNS

pytestmark = pytest.mark.e2e

SCENARIO = Scenario(chiefs=8, cases=4, seed=4, workers=4)


@pytest.fixture(scope="module")
def driven(tmp_path_factory):
    with own_platform(tmp_path_factory.mktemp("simulate")) as platform:
        lines = []
        outcome = drive(platform, SCENARIO, out=lines.append, progress=False)
        yield platform, outcome, lines


@pytest.fixture(scope="module")
def ask(driven):
    platform, _, _ = driven
    gateway = Gateway(platform.url, jwt_secret(platform.data_dir))
    return lambda path, **params: gateway.ok("GET", path, gateway.supervisor(), params=params)


def test_every_closed_case_got_its_invitation_and_every_invitation_was_rated(driven, ask):
    _, outcome, _ = driven
    counts = outcome.tally.counts
    invitations = ask("/v1/appraisal/invitations", per_page=500)

    closed = counts["incidents_closed"] + counts["requests_closed"]
    assert closed == len(outcome.county.cases) == invitations["total"]
    assert all(sorted(r["officer_id"] for r in i["ratings"]) == sorted(i["officer_ids"])
               for i in invitations["items"])
    assert sum(len(i["ratings"]) for i in invitations["items"]) == counts["ratings"]


def test_the_appraisal_scores_every_rated_officer_on_its_ratings(driven):
    _, outcome, _ = driven
    rated = {o: c["ratings"] for o, c in outcome.tally.by_officer.items() if c["ratings"]}

    scored = {o["officer_id"]: o["ratings"] for o in outcome.appraisal["officers"]}

    assert scored == rated
    assert set(rated) & set(outcome.county.chiefs)


def test_a_chief_that_missed_pages_shows_the_misses_in_its_kpis(driven, ask):
    _, outcome, _ = driven
    missed = {o: c["missed"] for o, c in outcome.tally.by_officer.items()
              if c["missed"] and o in outcome.county.truth}
    assert missed, "no chief missed a page: choose another seed"

    for officer_id, count in missed.items():
        kpis = ask(f"/v1/appraisal/officers/{officer_id}/score", year=outcome.year)["kpis"]
        # more only where a page lapsed unseen while the gateway answered busy
        assert kpis["pages_missed"] >= count
        assert kpis["acknowledged"] == outcome.tally.of(officer_id)["acknowledged"]
    assert sum(c["failovers_caused"] for c in (
        k["kpis"] for k in outcome.kpis.values() if k)) >= 1


def test_it_prints_the_in_process_truth_table_and_what_went_through(driven):
    _, outcome, lines = driven

    header = lines.index("seed\t" + "\t".join(COLUMNS))
    row = lines[header + 1].split("\t")
    assert row[0] == str(SCENARIO.seed) and len(row) == len(COLUMNS) + 1
    assert all(cell.isdigit() for cell in row[1:])
    assert any(line.startswith(f"ratings: {outcome.tally.counts['ratings']} on ")
               for line in lines)
    published = next(line for line in lines if line.startswith("events published: "))
    assert int(published.split()[2]) == sum(outcome.events.values())
    assert min(outcome.events.values()) > 0  # every service published
