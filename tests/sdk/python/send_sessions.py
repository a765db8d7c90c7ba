"""Release-health driver: sentry-sdk in request mode (aggregated sessions).

Usage: send_sessions.py DSN
Five requests of release py-health@1.0 in production, two of them with a captured
error; the SDK aggregates them into one `sessions` item. Prints {"ok": true}.
"""
import json
import sys

import sentry_sdk

DSN = sys.argv[1]
sentry_sdk.init(
    dsn=DSN,
    release="py-health@1.0",
    environment="production",
    default_integrations=False,
    auto_enabling_integrations=False,
    auto_session_tracking=True,
    shutdown_timeout=10,
)
for i in range(5):
    with sentry_sdk.isolation_scope():
        sentry_sdk.start_session(session_mode="request")
        if i < 2:
            try:
                1 / 0
            except ZeroDivisionError as exc:
                sentry_sdk.capture_exception(exc)
        sentry_sdk.end_session()
sentry_sdk.flush(timeout=10)
sentry_sdk.get_client().close(timeout=10)
print(json.dumps({"ok": True}), flush=True)
