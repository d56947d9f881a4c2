"""Appraisal's entrypoints: invitations from dispatch's closed cases (consumed reliably,
idempotent by case), ratings, and a year's scores with the two lists."""
from nameko.timer import timer

from contracts.events import DISPATCH_EVENTS, MEDIATION_EVENTS, REGISTRY_EVENTS
from contracts.fields import utcnow
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed
from kit.heap import SettledHeap
from kit.metrics import Metrics, counter, gauge, histogram
from kit.reliable import consume_in_batches, consume_reliably
from kit.rpc import rpc
from kit.schemas import dump, load, open_event, paged
from kit.storage import Storage

from . import handlers, schemas
from .dependencies import ConfiguredRules
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound, ServiceUnavailable)
# The events whose facts appraisal keeps (handlers.FACTS): dispatch's on one queue, the
# registry's and mediation's on another.
KPI_EVENTS = tuple(kind for kind in handlers.FACTS if kind in DISPATCH_EVENTS)
COUNTY_EVENTS = {kind: catalogue[kind] for kind in handlers.FACTS
                 for catalogue in (REGISTRY_EVENTS, MEDIATION_EVENTS) if kind in catalogue}

RATINGS = counter("liaison_ratings_received_total", "Ratings of officers by enterprises.")
CONSUMED = counter("liaison_appraisal_events_consumed_total",
                   "Dispatch events appraisal consumed, by type.", ["type"])
EXPIRED = gauge("liaison_invitations_expired",
                "Rating invitations that expired with an officer still unrated.")
RANKING = histogram("liaison_appraisal_ranking_seconds", "Time to score a year.",
                    buckets=(.01, .05, .1, .25, .5, 1, 2.5, 5, 10))


def _year(year):
    """A list's id: the year from a path, checked (a bad one names the field)."""
    return str(load(schemas.YearQuery, {"year": year})["year"])


class AppraisalService:
    name = "appraisal"

    store = Storage(Repository)
    rules = ConfiguredRules()
    metrics = Metrics()
    heap = SettledHeap()

    @rpc
    def ping(self):
        return "pong"

    @timer(interval=15)  # one count on an index
    def refresh_gauges(self):
        EXPIRED.set(self.store.expired_unrated(utcnow()))

    @consume_in_batches("appraisal.closed_cases",
                        bindings=[("dispatch.events", "incident.closed"),
                                  ("dispatch.events", "request.closed")])
    def cases_closed(self, envelopes):
        """Closed incidents and requests invite their enterprises to rate the officers on
        them (those that arrive together, in one go); the same event twice makes one
        invitation."""
        events = [open_event(envelope, DISPATCH_EVENTS) for envelope in envelopes]
        handlers.from_events(self.store, events, utcnow())
        for event in events:
            CONSUMED.labels(event["type"]).inc()

    @consume_reliably("appraisal.kpi_events",
                      bindings=[("dispatch.events", kind) for kind in KPI_EVENTS])
    def kpi_event(self, envelope):
        """What dispatch's events say of each officer (acknowledgements, missed pages,
        requests on time), kept once per event id: a redelivery counts nothing twice."""
        event = open_event(envelope, DISPATCH_EVENTS)
        handlers.record_facts(self.store, event)
        CONSUMED.labels(event["type"]).inc()

    @consume_reliably("appraisal.county_events",
                      bindings=[("enterprise.events" if kind in REGISTRY_EVENTS
                                 else "mediation.events", kind) for kind in COUNTY_EVENTS])
    def county_event(self, envelope):
        """Who holds each enterprise (the registry's assignments) and its disputes agreed or
        escalated (mediation's), on one queue so an assignment comes before what follows it;
        kept once per revision or dispute."""
        event = open_event(envelope, COUNTY_EVENTS)
        handlers.record_facts(self.store, event)
        CONSUMED.labels(event["type"]).inc()

    @rpc(expected_exceptions=EXPECTED)
    def get_invitation(self, invitation_id):
        return dump(schemas.Invitation, self.store.invitations.get(invitation_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_invitations(self, query=None, filters=None):
        filters = load(schemas.InvitationFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list(skip, limit, **filters),
                     schemas.Invitation)

    @rpc(expected_exceptions=EXPECTED)
    def rate(self, invitation_id, data, actor):
        invitation = handlers.rate(self.store, invitation_id, load(schemas.RatingInput, data),
                                   load(schemas.Actor, actor), utcnow())
        RATINGS.inc()
        return dump(schemas.Invitation, invitation)

    @rpc(expected_exceptions=EXPECTED)
    def officer_score(self, officer_id, query):
        """One officer's score and how it was reached, for the year."""
        year = load(schemas.YearQuery, query)["year"]
        return dump(schemas.OfficerAppraisal,
                    handlers.officer_year(self.store, officer_id, year, utcnow(), self.rules))

    # --- the annual list ----------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def draft_list(self, query, actor):
        year = load(schemas.YearQuery, query)["year"]
        return self._list(handlers.draft_list(self.store, year, load(schemas.Actor, actor),
                                              utcnow(), self.rules))

    @rpc(expected_exceptions=EXPECTED)
    def get_list(self, year):
        return self._list(self.store.lists.get(_year(year)))

    @rpc(expected_exceptions=EXPECTED)
    def review_list(self, year, actor):
        who = load(schemas.Actor, actor)["id"]
        return self._list(self.store.lists.change(_year(year),
                                                  lambda a: a.review(who, utcnow())))

    @rpc(expected_exceptions=EXPECTED)
    def publish_list(self, year, actor):
        who = load(schemas.Actor, actor)["id"]
        return self._list(self.store.lists.change(_year(year),
                                                  lambda a: a.publish(who, utcnow())))

    @rpc(expected_exceptions=EXPECTED)
    def object_to_list(self, year, officer_id, data):
        reason = load(schemas.ObjectionInput, data)["reason"]
        return self._list(self.store.lists.change(
            _year(year), lambda a: a.object(officer_id, reason, utcnow())))

    @rpc(expected_exceptions=EXPECTED)
    def decide_objection(self, year, officer_id, data, actor):
        data, who = load(schemas.DecisionInput, data), load(schemas.Actor, actor)["id"]
        return self._list(self.store.lists.change(_year(year), lambda a: a.decide(
            officer_id, data["upheld"], data["decision"], who, utcnow())))

    # --- the three chiefs' ratings ---------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def rate_as_chief(self, data, actor):
        return dump(schemas.ChiefRating, handlers.rate_as_chief(
            self.store, load(schemas.ChiefRatingInput, data), load(schemas.Actor, actor),
            utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def list_chief_ratings(self, query=None, filters=None):
        filters = load(schemas.ChiefRatingFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.chief_ratings.list(
            filters, sort=[("officer_id", 1)], skip=skip, limit=limit), schemas.ChiefRating)

    # --- spot checks ------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def draw_spot_check(self, data, actor):
        data = load(schemas.SpotCheckInput, data)
        return dump(schemas.SpotCheck, handlers.draw_spot_check(
            self.store, data["year"], data["quarter"], data["per_officer"], data["seed"],
            load(schemas.Actor, actor), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def get_spot_check(self, check_id):
        return dump(schemas.SpotCheck, self.store.spot_checks.get(check_id))

    @rpc(expected_exceptions=EXPECTED)
    def record_survey(self, check_id, data, actor):
        data, who = load(schemas.SurveyInput, data), load(schemas.Actor, actor)["id"]
        return dump(schemas.SpotCheck, self.store.spot_checks.change(check_id, lambda c: c.record(
            data["officer_id"], data["invitation_id"], data["result"], who, utcnow())))

    def _list(self, annual):
        return dump(schemas.AnnualList, annual)

    @rpc(expected_exceptions=EXPECTED)
    def report(self, query):
        """The year's report as one document: HTML with its charts inline (the default) or
        PDF; the same ratings give the same bytes."""
        from . import report
        query = load(schemas.ReportQuery, query)
        year = query["year"]
        return dump(schemas.Document, report.document(
            handlers.year_of_ratings(self.store, year, self.rules, utcnow()), year,
            query["format"]))

    @rpc(expected_exceptions=EXPECTED)
    def appraisal(self, query):
        year = load(schemas.YearQuery, query)["year"]
        with RANKING.time():
            result = handlers.year_of_ratings(self.store, year, self.rules, utcnow())
        return dump(schemas.Appraisal, dict(vars(result), year=year,
                                            rules=result.rules.describe()))
