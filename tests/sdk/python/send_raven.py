#!/usr/bin/env python3
"""Send one exception event with the legacy Python client raven 6.10.0.

Usage: send_raven.py DSN

raven POSTs a bare JSON event to /api/{project_id}/store/ with `Content-Encoding: deflate`
(zlib), `X-Sentry-Auth` with sentry_version=6 and, if the DSN has one, sentry_secret.
The synchronous HTTPTransport is used, so the request has completed when capture returns.

Prints one JSON line: {"event_id": "<32 hex>", "status": <HTTP status>}.
Exits 0 only if the server answered 2xx.
"""
import json
import sys

import raven
from raven.transport.http import HTTPTransport

if len(sys.argv) != 2:
    sys.exit("usage: send_raven.py DSN")

RESULT = {"status": None, "error": None}


class RecordingTransport(HTTPTransport):
    """raven's synchronous urllib transport; failures raise out of send()."""

    def send(self, url, data, headers):
        try:
            response = super().send(url, data, headers)
            RESULT["status"] = response.getcode()
            return response
        except Exception as exc:  # raven wraps HTTP errors in APIError with .code
            RESULT["status"] = getattr(exc, "code", None)
            RESULT["error"] = str(exc)
            raise


client = raven.Client(sys.argv[1], transport=RecordingTransport, release="raven-app@6.10.0",
                      environment="legacy", name="raven-host", install_sys_hook=False,
                      raise_send_errors=True)
client.user_context({"id": "r-7", "email": "grace@example.com"})
client.tags_context({"feature": "legacy-checkout"})


def legacy_checkout(cart_items):
    coupon = None
    return sum(cart_items) / coupon


event_id = None
try:
    legacy_checkout([4, 5])
except Exception:
    try:
        event_id = client.captureException()
    except Exception as send_error:  # raised by raise_send_errors=True
        print("send_raven.py: sending failed: %r" % (send_error,), file=sys.stderr)

print(json.dumps({"event_id": event_id, "status": RESULT["status"], "error": RESULT["error"]}), flush=True)
ok = RESULT["status"] is not None and 200 <= RESULT["status"] < 300
sys.exit(0 if ok and event_id else 3)
