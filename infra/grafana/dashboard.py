"""The operators' Grafana dashboard, built from code.

`python -m infra.grafana.dashboard` writes `infra/grafana/liaison.json`, which is what is
imported into Grafana; a test fails when the committed file is not what `build()` makes.

Every panel queries the Prometheus data source chosen in the `datasource` variable (no data
source uid is written into the dashboard). The rows: incident intake, pages, cases, the
broker (RabbitMQ's own `rabbitmq_prometheus` endpoint `/metrics/detailed` with the families
`queue_coarse_metrics` and `queue_consumer_count`), agency feeds, field work, and rate, errors and
duration per entrypoint of the service chosen in the `service` variable.

Gauges that state a figure of a service's store (incidents by state, disputes by grade) are
taken with `max`, so two processes reporting the same store do not count it twice.
"""
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from services.dispatch.domain import OPEN_STATES

PATH = Path(__file__).with_name("liaison.json")
UID = "liaison-platform"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "[$__rate_interval]"
REF_IDS = "ABCDEFGHIJ"

# every way an incident comes in: the gateway, other systems' queue, a dispute's risk, a
# patrol's finding, a hazard's overdue order
INTAKE = ('service="dispatch", entrypoint=~"report_incident|report_from_queue|'
          'page_dispute_risk|take_in_patrol_incident|page_overdue_order"')
SERVICE = 'service="$service"'
QUEUES = 'vhost=~"$vhost", queue!~"rpc[.]reply-.+"'  # a caller's reply queue is never a backlog
ARCHIVE = "feeds.archive"  # a stream: its depth is what it retains, not a backlog
WORK_QUEUES = f'{QUEUES}, queue!="{ARCHIVE}", queue!~".+[.]dead"'
DEAD_LETTERS = 'vhost=~"$vhost", queue=~".+[.]dead"'
AGENCY_QUEUES = 'vhost=~"$vhost", queue=~"feed[.].+", queue!~".+[.]dead"'


# --- building blocks ---------------------------------------------------------------------------


def _query(expr, legend, ref_id):
    return (prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)
            .datasource(DATASOURCE))


def _with_queries(panel, queries):
    for ref_id, (expr, legend) in zip(REF_IDS, queries):
        panel = panel.with_target(_query(expr, legend, ref_id))
    return panel


def _timeseries(title, description, unit, queries, width=8):
    """A time series of each (PromQL, legend) in `queries`."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .unit(unit).min(0).height(8).span(width).fill_opacity(10)
             .legend(common_builders.VizLegendOptions().show_legend(True)
                     .display_mode(common.LegendDisplayMode.LIST)
                     .placement(common.LegendPlacement.BOTTOM))
             .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    return _with_queries(panel, queries)


def _stat(title, description, expr, unit="short", width=4, height=4, red_from=None):
    """One figure, now; red from `red_from` when given."""
    steps = [model.Threshold(value=None, color="green")]
    if red_from is not None:
        steps.append(model.Threshold(value=red_from, color="red"))
    panel = (stat.Panel().title(title).description(description).datasource(DATASOURCE)
             .unit(unit).height(height).span(width)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                             .values(False))
             .color_mode(common.BigValueColorMode.VALUE)
             .graph_mode(common.BigValueGraphMode.AREA)
             .thresholds(dashboard.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE)
                         .steps(steps)))
    return _with_queries(panel, [(expr, title)])


def _select(metric, selector=""):
    return f"{metric}{{{selector}}}" if selector else metric


def _quantiles(metric, selector, by, quantiles=(0.5, 0.99)):
    """(PromQL, legend) of each quantile of histogram `metric`, per label `by` (or overall)."""
    keep = f"le, {by}" if by else "le"
    series = f" {{{{{by}}}}}" if by else ""
    return [(f"histogram_quantile({q}, sum by ({keep}) "
             f"(rate({_select(metric + '_bucket', selector)}{RATE})))",
             f"p{round(q * 100)}{series}")
            for q in quantiles]


def _per_minute(metric, selector, by):
    """(PromQL, legend) of counter `metric` as events a minute, per label(s) `by`."""
    legend = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))
    return (f"60 * sum by ({by}) (rate({_select(metric, selector)}{RATE}))", legend)


# --- rows ----------------------------------------------------------------------------------------


def intake_row():
    return "Incident intake", [
        _timeseries("Incidents reported",
                    "Reports dispatch took, a second, through the gateway (report_incident), "
                    "from other systems' queue (report_from_queue), and from other services' "
                    "events (a dispute's risk, a patrol's finding, an overdue order); refusals "
                    "included.",
                    "reqps",
                    [(f"sum by (entrypoint) (rate(liaison_entrypoint_requests_total{{{INTAKE}}}"
                      f"{RATE}))", "{{entrypoint}}")]),
        _timeseries("Intake latency",
                    "Time dispatch spends taking an incident in, up to its three pages "
                    "written (p50 and p99).", "s",
                    _quantiles("liaison_entrypoint_duration_seconds", INTAKE, "entrypoint")),
        _timeseries("Intake refusals and failures",
                    "Reports that raised, a minute: expected (refused input) or unexpected.",
                    "cpm",
                    [_per_minute("liaison_entrypoint_errors_total", INTAKE, "entrypoint, kind")]),
    ]


def pages_row():
    return "Pages", [
        _timeseries("Pages sent by role",
                    "Notifications issued a minute, by the recipient's role in the case.",
                    "cpm", [_per_minute("liaison_notifications_sent_total", "", "role")]),
        _timeseries("Acknowledgement latency",
                    "From a page to its acknowledgement (p50, p90, p99), by role.", "s",
                    _quantiles("liaison_acknowledgement_latency_seconds", "", "role",
                               (0.5, 0.9, 0.99))),
        _timeseries("Pages missed by role",
                    "Pages not acknowledged within their priority's window, a minute.",
                    "cpm", [_per_minute("liaison_pages_missed_total", "", "role")]),
        _timeseries("Failovers and escalations",
                    "Cases handed from A to B on a missed page, and cases escalated up the "
                    "ladder, a minute.", "cpm",
                    [(f"60 * sum(rate(liaison_failovers_total{RATE}))", "failovers"),
                     (f"60 * sum(rate(liaison_escalations_total{RATE}))", "escalations")],
                    width=12),
        _stat("Pages missed (24 h)", "Pages not acknowledged in time over the last day.",
              "sum(increase(liaison_pages_missed_total[24h]))", width=6, height=8, red_from=1),
        _stat("Escalations (24 h)", "Cases escalated up the ladder over the last day.",
              "sum(increase(liaison_escalations_total[24h]))", width=6, height=8, red_from=1),
    ]


def cases_row():
    open_states = "|".join(OPEN_STATES)
    return "Cases", [
        _stat("Open incidents", f"Incidents in an open state ({', '.join(OPEN_STATES)}).",
              f'sum(max by (state) (liaison_incidents{{state=~"{open_states}"}}))'),
        _stat("Overdue incidents",
              "Incidents whose acknowledgement deadline passed without being acted on.",
              "max(liaison_incidents_overdue)", red_from=1),
        _stat("Disputes in mediation", "Disputes being mediated, any grade.",
              'sum(max by (grade) (liaison_disputes{status="mediating"}))'),
        _stat("High-risk disputes in mediation",
              "Disputes being mediated graded high or critical.",
              'sum(max by (grade) (liaison_disputes{status="mediating", '
              'grade=~"high|critical"}))', red_from=1),
        _stat("Dispute deadlines passed (24 h)",
              "Dispute deadlines (tier, follow-up, letters) that passed over the last day.",
              "sum(increase(liaison_dispute_deadlines_passed_total[24h]))", width=8),
        _timeseries("Open incidents by state", "Incidents in each open state.", "short",
                    [(f'max by (state) (liaison_incidents{{state=~"{open_states}"}})',
                      "{{state}}"),
                     ("max(liaison_incidents_overdue)", "overdue")]),
        _timeseries("Disputes by grade and status", "Disputes in each (grade, status).",
                    "short",
                    [("max by (grade, status) (liaison_disputes)", "{{grade}} {{status}}")]),
        _timeseries("Dispute deadlines passed", "Dispute deadlines that passed, an hour, by "
                    "kind.", "short",
                    [(f"3600 * sum by (deadline) "
                      f"(rate(liaison_dispute_deadlines_passed_total{RATE}))", "{{deadline}}")]),
    ]


def broker_row():
    return "Broker", [
        _stat("Dead letters", "Messages in every dead-letter queue.",
              f"sum(rabbitmq_detailed_queue_messages{{{DEAD_LETTERS}}})", red_from=1, width=6),
        _stat("Queues without a consumer",
              "Work queues (not dead-letter or reply queues) nobody consumes.",
              f"count(rabbitmq_detailed_queue_consumers{{{WORK_QUEUES}}} == 0) or vector(0)",
              red_from=1, width=6),
        _stat("Archive stream", f"Messages the stream {ARCHIVE} retains.",
              f'sum(rabbitmq_detailed_queue_messages{{vhost=~"$vhost", queue="{ARCHIVE}"}})',
              width=6),
        _stat("Messages unacknowledged", "Messages delivered and not yet acknowledged, every "
              "queue.", f"sum(rabbitmq_detailed_queue_messages_unacked{{{QUEUES}}})", width=6),
        _timeseries("Messages ready per queue",
                    "Messages waiting for a consumer (replies to callers and the archive "
                    "stream left out).", "short",
                    [(f"sum by (vhost, queue) "
                      f"(rabbitmq_detailed_queue_messages_ready{{{WORK_QUEUES}}})",
                      "{{queue}} ({{vhost}})")], width=12),
        _timeseries("Unacknowledged messages per queue",
                    "Messages delivered to a consumer and not yet acknowledged.", "short",
                    [(f"sum by (vhost, queue) "
                      f"(rabbitmq_detailed_queue_messages_unacked{{{WORK_QUEUES}}})",
                      "{{queue}} ({{vhost}})")], width=12),
        _timeseries("Dead-letter queues",
                    "Messages in each `*.dead` queue: refused input, or given up after its "
                    "retries; each carries x-error.", "short",
                    [(f"sum by (vhost, queue) "
                      f"(rabbitmq_detailed_queue_messages{{{DEAD_LETTERS}}})",
                      "{{queue}} ({{vhost}})")], width=12),
        _timeseries("Consumers per queue", "Consumers attached to each queue.", "short",
                    [(f"sum by (vhost, queue) "
                      f"(rabbitmq_detailed_queue_consumers{{{WORK_QUEUES}}})",
                      "{{queue}} ({{vhost}})")], width=12),
    ]


def feeds_row():
    return "Agency feeds", [
        _timeseries("Deliveries per agency",
                    "Projected events delivered to each agency's queue a minute, live or "
                    "replayed.", "cpm",
                    [_per_minute("liaison_feed_deliveries_total", "", "agency, mode")]),
        _timeseries("Delivery latency",
                    "From an event's time to its live delivery to the agencies (p50, p99).",
                    "s", _quantiles("liaison_feed_delivery_seconds", "", "")),
        _timeseries("Unroutable events",
                    "Events the broker returned because no queue takes their type, a minute "
                    "(kept in their outbox until one does).", "cpm",
                    [_per_minute("liaison_events_unroutable_total", "", "exchange, type")]),
        _timeseries("Agency queues",
                    "Messages waiting in each agency's queue `feed.<agency>`.", "short",
                    [(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready"
                      f"{{{AGENCY_QUEUES}}})", "{{queue}}")], width=12),
        _timeseries("Agencies' reports",
                    "Reports agencies sent in, a minute, by agency and outcome.", "cpm",
                    [_per_minute("liaison_feed_reports_total", "", "agency, outcome")],
                    width=12),
    ]


def fieldwork_row():
    return "Field work", [
        _stat("Hazards awaiting rectification",
              "Hazards whose rectification order is open (not yet reported rectified).",
              'max(liaison_hazards{status="ordered"})'),
        _stat("Orders overdue (24 h)",
              "Rectification orders that passed their deadline unrectified over the last "
              "day; each paged its station's leader.",
              "sum(increase(liaison_hazard_orders_overdue_total[24h]))", red_from=1),
        _timeseries("Patrols recorded", "Patrols recorded a minute, by kind.", "cpm",
                    [_per_minute("liaison_patrols_recorded_total", "", "kind")]),
        _timeseries("Hazards by status", "Hazards in each status.", "short",
                    [("max by (status) (liaison_hazards)", "{{status}}")]),
        _timeseries("Work report intake",
                    "Events the work report's read model took in, a minute, by type.", "cpm",
                    [_per_minute("liaison_work_report_events_total", "", "type")],
                    width=12),
    ]


def service_row():
    return "Service $service: rate, errors, duration", [
        _timeseries("Requests per entrypoint", "Entrypoint calls handled a second.", "reqps",
                    [(f"sum by (entrypoint) (rate(liaison_entrypoint_requests_total"
                      f"{{{SERVICE}}}{RATE}))", "{{entrypoint}}")]),
        _timeseries("Errors per entrypoint",
                    "Calls that raised a second, by kind: expected (a refusal) or unexpected.",
                    "reqps",
                    [(f"sum by (entrypoint, kind) (rate(liaison_entrypoint_errors_total"
                      f"{{{SERVICE}}}{RATE}))", "{{entrypoint}} {{kind}}")]),
        _timeseries("Duration per entrypoint", "Time spent in each entrypoint (p50, p99).",
                    "s", _quantiles("liaison_entrypoint_duration_seconds", SERVICE,
                                    "entrypoint")),
        _timeseries("HTTP answers by status",
                    "Answers a second by status code (the gateway answers HTTP).", "reqps",
                    [(f"sum by (status) (rate(liaison_http_responses_total{{{SERVICE}}}"
                      f"{RATE}))", "{{status}}")], width=12),
        _timeseries("Unexpected errors by type",
                    "Unexpected errors a second, by the error's type.", "reqps",
                    [(f"sum by (entrypoint, error) (rate(liaison_entrypoint_errors_total"
                      f'{{{SERVICE}, kind="unexpected"}}{RATE}))', "{{entrypoint}} {{error}}")],
                    width=12),
    ]


ROWS = (intake_row, pages_row, cases_row, broker_row, feeds_row, fieldwork_row, service_row)


# --- the dashboard -----------------------------------------------------------------------------


def variables():
    return [
        dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        (dashboard.QueryVariable("service").label("service").datasource(DATASOURCE)
         .query("label_values(liaison_entrypoint_requests_total, service)")
         .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
         .sort(model.VariableSort.ALPHABETICAL_ASC)),
        (dashboard.QueryVariable("vhost").label("vhost").datasource(DATASOURCE)
         .query("label_values(rabbitmq_detailed_queue_messages_ready, vhost)")
         .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
         .sort(model.VariableSort.ALPHABETICAL_ASC)
         .multi(True).include_all(True).all_value(".*")),
    ]


def build():
    """The dashboard as Grafana's JSON model (a dict)."""
    board = (dashboard.Dashboard("Liaison platform").uid(UID)
             .description("Incident intake, pages, cases, the broker, agency feeds, field "
                          "work and each service's rate, errors and duration.")
             .tags(["liaison"]).time("now-6h", "now").refresh("1m").timezone("browser")
             .variables(variables()).annotations([]))
    for row in ROWS:
        title, panels = row()
        board = board.with_row(dashboard.Row(title).collapsed(False))
        for panel in panels:
            board = board.with_panel(panel)
    built = board.build()
    for number, panel in enumerate(built.panels, start=1):
        panel.id_val = number
    return json.loads(json.dumps(built, cls=JSONEncoder))


def render():
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    document = build()
    sys.stdout.write(f"wrote {PATH.name} ({len(document['panels'])} panels and rows)\n")
