"""Authenticated intake: agencies' reports, from the reports exchange to dispatch.

An agency publishes a report on `agency.reports` with its own agency as the routing key (the
only key its topic permission admits) and `user_id` set to its broker user (RabbitMQ refuses
a message whose user_id is not the connection's user). The report's source is the agency
that user belongs to: a `source` in the body is ignored. A report that fails validation goes
to that agency's dead-letter queue with a short reason (`x-error`); one that names no user of
an active subscription goes to `feeds.reports.dead`. A valid report goes on to dispatch's
queue of external reports (with publisher confirms; acknowledged only after), where
(source, reference) makes the same report sent twice one incident.

The intake reads raw messages itself (not through a framework consumer): what an outsider
sends (any content type, any bytes) must never stop it. It declares the queues it uses as
their owners do, of the configured type (QUEUE_TYPE): dispatch's queue as kit.reliable
declares it, the reports' and the dead-letter queues as the feeds broker module does.
"""
import json
import logging
import socket

import amqp
import eventlet
from kombu import Connection
from marshmallow import ValidationError
from nameko.extensions import DependencyProvider

from contracts import topology
from contracts.api.feeds import ReportInput
from kit.metrics import counter, timed

from . import broker

log = logging.getLogger(__name__)

DISPATCH_REPORTS = "dispatch.incident_reports"
REASON_MAX = 200
REPORTS = counter("liaison_feed_reports_total",
                  "Agencies' reports taken in, by agency and outcome (forwarded, refused, "
                  "unknown sender).", ["agency", "outcome"])


def check_report(body, agency):
    """(report for dispatch, None) or (None, reason): the body as JSON, its `source` replaced
    by the agency, validated."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, "body: not a JSON object"
    if not isinstance(data, dict):
        return None, "body: not a JSON object"
    data.pop("source", None)
    try:
        ReportInput().load(data)
    except ValidationError as error:
        reasons = "; ".join(f"{field}: {', '.join(map(str, why)) if isinstance(why, list) else why}"
                            for field, why in sorted(error.normalized_messages().items()))
        return None, reasons[:REASON_MAX]
    return dict(data, source=agency), None


class ReportIntake(DependencyProvider):
    """Runs the intake thread; knows each active subscription's broker user from the
    fan-out's subscriptions (`Fanout.agency_of`)."""

    def setup(self):
        from .fanout import Fanout

        self.amqp_uri = self.container.config["AMQP_URI"]
        self.queue_type = topology.queue_type(self.container.config.get("QUEUE_TYPE"))
        self.connection = None
        self.fanout = next(d for d in self.container.extensions if isinstance(d, Fanout))

    def agency_of(self, user):
        return self.fanout.agency_of(user)

    def start(self):
        self.container.spawn_managed_thread(self._run)

    def stop(self):
        if self.connection is not None:
            try:
                self.connection.release()
            except Exception:
                pass

    def _run(self):
        while True:
            try:
                self._consume()
            except Exception as error:
                log.warning("report intake stopped (%s: %s); starting again",
                            type(error).__name__, error)
                eventlet.sleep(1.0)

    def _consume(self):
        self.connection = Connection(self.amqp_uri, connect_timeout=5)
        self.connection.connect()
        try:
            publishing = self.connection.channel()
            publishing.confirm_select()
            publishing.queue_declare(DISPATCH_REPORTS, durable=True, auto_delete=False,
                                     arguments=topology.work_queue_arguments(
                                         DISPATCH_REPORTS, self.queue_type))
            broker.declare_reports(publishing, self.queue_type)
            channel = self.connection.channel()
            channel.basic_qos(0, 50, False)
            inbox = []
            channel.basic_consume(topology.REPORTS_QUEUE, callback=inbox.append)
            while True:
                try:
                    self.connection.drain_events(timeout=1.0)
                except socket.timeout:
                    continue
                while inbox:
                    message = inbox.pop(0)
                    with timed("feeds", "report_intake"):
                        self._take(publishing, message)
                    channel.basic_ack(message.delivery_tag)
        finally:
            self.connection.release()

    def _take(self, publishing, message):
        user = message.properties.get("user_id")
        agency = self.agency_of(user) if user else None
        if agency is None:
            REPORTS.labels("", "unknown_sender").inc()
            self._publish(publishing, message.body, topology.REPORTS_DEAD,
                          "user_id: not the broker user of an agency with an active "
                          "subscription")
            return
        if message.delivery_info.get("routing_key") != agency:
            reason = "routing_key: not the agency's own"
            report = None
        else:
            report, reason = check_report(message.body, agency)
        if report is None:
            REPORTS.labels(agency, "refused").inc()
            self._publish(publishing, message.body, topology.dead_letter_queue(agency), reason)
            return
        self._publish(publishing, json.dumps(report, ensure_ascii=False).encode(),
                      DISPATCH_REPORTS, None)
        REPORTS.labels(agency, "forwarded").inc()

    def _publish(self, channel, body, queue, reason):
        if queue.endswith(".dead"):
            channel.queue_declare(queue, durable=True, auto_delete=False,
                                  arguments=topology.dead_letter_arguments(self.queue_type))
        headers = {} if reason is None else {"x-error": reason,
                                             "x-error-type": "ValidationFailed"}
        channel.basic_publish_confirm(
            amqp.Message(body if isinstance(body, bytes) else body.encode(),
                         content_type="application/json", delivery_mode=2,
                         application_headers=headers),
            exchange="", routing_key=queue, mandatory=True)
