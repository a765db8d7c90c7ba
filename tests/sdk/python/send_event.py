#!/usr/bin/env python3
"""Send events to a Sextant server with the official Python SDK (sentry-sdk 2.75.0).

Usage: send_event.py DSN SCENARIO

Scenarios:
  handled      TypeError caught and sent with capture_exception; in-app frames with local
               variables, user {id, email}, tags, two breadcrumbs.
  unhandled    ValueError escapes to sys.excepthook; the SDK's excepthook integration sends
               it (mechanism handled=false) and the atexit integration flushes.
  message      two capture_message calls whose texts differ only in numbers.
  fingerprint  two different exceptions sent with the custom fingerprint ["checkout-failure"].

Environment:
  SENTRY_RELEASE       release (default py-app@1.0.0)
  SENTRY_ENVIRONMENT   environment (default staging)
  SEXTANT_PY_COMPRESSION  gzip | br | none (default: the SDK's choice, br when brotli is
                          importable)

Prints one JSON line to stdout at exit:
  {"event_id": first id, "event_ids": [...], "statuses": [HTTP status per envelope]}
Exits 0 only if at least one envelope was sent and every response was 2xx; otherwise 3.
"""
import atexit
import json
import os
import sys

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.transport import HttpTransport

if len(sys.argv) != 3:
    sys.exit("usage: send_event.py DSN SCENARIO")
DSN, SCENARIO = sys.argv[1], sys.argv[2]

EVENT_IDS = []
STATUSES = []


class RecordingTransport(HttpTransport):
    """The SDK's own HTTP transport, recording the status of every response."""

    def _handle_response(self, response, envelope):
        STATUSES.append(response.status)
        if not 200 <= response.status < 300:
            body = getattr(response, "data", b"")
            print("send_event.py: server answered %s: %r" % (response.status, body), file=sys.stderr)
        return super()._handle_response(response, envelope)


def record_event_id(event, hint):
    EVENT_IDS.append(event["event_id"])
    return event


def report():
    """Runs last (registered before sentry_sdk.init, and atexit is LIFO)."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.flush(timeout=10)
    print(json.dumps({"event_id": EVENT_IDS[0] if EVENT_IDS else None,
                      "event_ids": EVENT_IDS, "statuses": STATUSES}), flush=True)
    ok = bool(STATUSES) and all(200 <= s < 300 for s in STATUSES)
    sys.stderr.flush()
    # Also overrides the exit status 1 of the deliberately uncaught exception.
    os._exit(0 if ok else 3)


atexit.register(report)

experiments = {}
compression = os.environ.get("SEXTANT_PY_COMPRESSION")
if compression:
    experiments["transport_compression_algo"] = compression

sentry_sdk.init(
    dsn=DSN,
    release=os.environ.get("SENTRY_RELEASE", "py-app@1.0.0"),
    environment=os.environ.get("SENTRY_ENVIRONMENT", "staging"),
    server_name="sdk-test-host",
    include_local_variables=True,
    include_source_context=True,
    in_app_include=["__main__"],
    default_integrations=False,
    auto_enabling_integrations=False,
    integrations=[ExcepthookIntegration(always_run=True), AtexitIntegration(), DedupeIntegration()],
    transport=RecordingTransport,
    before_send=record_event_id,
    shutdown_timeout=10,
    _experiments=experiments,
)


def scope_setup():
    sentry_sdk.set_user({"id": "u-1001", "email": "ada@example.com"})
    sentry_sdk.set_tag("feature", "checkout")
    sentry_sdk.set_tag("tenant", "acme")
    sentry_sdk.add_breadcrumb(category="auth", message="user signed in", level="info")
    sentry_sdk.add_breadcrumb(type="http", category="http",
                              data={"method": "POST", "url": "https://pay.example.com/charge",
                                    "status_code": 502})


def apply_discount(cart_items, coupon_code):
    subtotal = sum(cart_items)
    discount = None  # the bug: the coupon lookup returned nothing
    return subtotal / discount


def parse_quantity(raw_quantity):
    digits = raw_quantity.strip()
    return int(digits)


if SCENARIO == "handled":
    scope_setup()
    try:
        apply_discount([19, 23], "SPRING-24")
    except Exception as exc:
        sentry_sdk.capture_exception(exc)

elif SCENARIO == "unhandled":
    scope_setup()
    parse_quantity("twelve")  # ValueError escapes: sys.excepthook -> SDK -> atexit flush

elif SCENARIO == "message":
    scope_setup()
    sentry_sdk.capture_message("Payment 1001 failed after 3 attempts", level="warning")
    sentry_sdk.capture_message("Payment 2002 failed after 5 attempts", level="warning")

elif SCENARIO == "fingerprint":
    scope_setup()
    for fn, arg in ((apply_discount, [1]), (parse_quantity, "x")):
        try:
            fn(arg, "C") if fn is apply_discount else fn(arg)
        except Exception as exc:
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = ["checkout-failure"]
                sentry_sdk.capture_exception(exc)

else:
    sys.exit("unknown scenario " + SCENARIO)

sentry_sdk.flush(timeout=10)
