//! Shared bench inputs: the recorded SDK fixtures and a synthetic ~23 KiB Python/Django
//! exception event. Included by path from the sextant-server benches too, so everything
//! here must stay dependency-free beyond `serde_json`.

use std::path::PathBuf;

use serde_json::{Value, json};

/// `shared/fixtures/envelopes`, next to the repository checkout.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/envelopes")
}

/// The bytes of one fixture file (`python-exception.envelope`, …).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// The payload of the first `event` item of an envelope fixture, found without the
/// parser under test: header line, item header line, then `length` bytes.
pub fn event_payload(envelope_name: &str) -> Vec<u8> {
    let body = fixture(envelope_name);
    // Skip the envelope header line; walk items until the first event.
    let mut at = body
        .iter()
        .position(|&b| b == b'\n')
        .expect("envelope header")
        + 1;
    while at < body.len() {
        let hend = body[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| at + i);
        let header: Value = serde_json::from_slice(&body[at..hend]).expect("item header");
        let pstart = hend + 1;
        let pend = match header.get("length").and_then(Value::as_u64) {
            Some(len) => pstart + len as usize,
            None => body[pstart..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| pstart + i),
        };
        if header.get("type").and_then(Value::as_str) == Some("event") {
            return body[pstart..pend].to_vec();
        }
        at = pend + 1;
    }
    panic!("{envelope_name} has no event item")
}

const SOURCE: &[&str] = &[
    "        response = self._middleware_chain(request)",
    "        try:",
    "            response = get_response(request)",
    "        except Exception as exc:",
    "            response = response_for_exception(request, exc)",
    "        return response",
    "    def __call__(self, request):",
    "        response = response or self.get_response(request)",
    "        callback, callback_args, callback_kwargs = self.resolve_request(request)",
    "        response = wrapper_callback(request, *callback_args, **callback_kwargs)",
    "        handler = getattr(self, request.method.lower(), self.http_method_not_allowed)",
    "        with transaction.atomic(using=self.db, savepoint=False):",
    "            obj = queryset.select_for_update().get(pk=pk)",
    "    amount = sum(line.total for line in lines) + shipping_fee",
    "    result = client.charges.create(amount=amount, currency=order.currency)",
    "    return JsonResponse({\"status\": \"ok\", \"id\": obj.pk})",
];

fn context(start: usize, n: usize) -> Vec<&'static str> {
    (0..n).map(|i| SOURCE[(start + i) % SOURCE.len()]).collect()
}

/// A Django `DoesNotExist` with 20 frames (12 framework, 8 in-app), 5+5 context lines and
/// local variables on each frame, request data, breadcrumbs, tags and contexts: about
/// 23 KiB of JSON, the size of a typical production Python error.
pub fn django_event() -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..20 {
        let in_app = i >= 12;
        let (abs_path, module) = if in_app {
            (
                format!("/srv/shop/orders/views_{i}.py"),
                format!("orders.views_{i}"),
            )
        } else {
            (
                format!("/usr/lib/python3.11/site-packages/django/core/handlers/h{i}.py"),
                format!("django.core.handlers.h{i}"),
            )
        };
        frames.push(json!({
            "filename": abs_path.trim_start_matches("/usr/lib/python3.11/site-packages/")
                .trim_start_matches("/srv/shop/"),
            "abs_path": abs_path,
            "module": module,
            "function": format!("handle_step_{i}"),
            "lineno": 40 + i * 7,
            "in_app": in_app,
            "pre_context": context(i, 5),
            "context_line": SOURCE[(i + 5) % SOURCE.len()],
            "post_context": context(i + 6, 5),
            "vars": {
                "self": format!("<orders.views.OrderRefundView object at 0x7f3a{i:04x}c0>"),
                "request": "<WSGIRequest: POST '/api/orders/1842/refund/'>",
                "args": "()",
                "kwargs": {"pk": "'1842'"},
                "order": format!("<Order: #1842 ({i} lines)>"),
                "amount": "Decimal('129.90')",
                "response": "None",
            },
        }));
    }
    let breadcrumbs: Vec<Value> = (0..12)
        .map(|i| {
            json!({
                "timestamp": 1_795_512_700.0 + f64::from(i),
                "type": "default",
                "category": "query",
                "level": "info",
                "message": format!(
                    "SELECT \"shop_order\".\"id\", \"shop_order\".\"status\" FROM \"shop_order\" WHERE \"shop_order\".\"id\" = {i} LIMIT 21"
                ),
                "data": {"duration_ms": 1.5 + f64::from(i)},
            })
        })
        .collect();
    let event = json!({
        "event_id": "9f2c0d4a6b8e4f1a8c3d5e7f9a1b3c5d",
        "timestamp": "2026-11-24T09:31:16.807077Z",
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "server_name": "web-3.shop.internal",
        "release": "shop@4.18.2",
        "environment": "production",
        "transaction": "/api/orders/{pk}/refund/",
        "sdk": {"name": "sentry.python.django", "version": "2.75.0",
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}],
                "integrations": ["django", "logging", "stdlib", "threading", "redis"]},
        "user": {"id": "4711", "email": "jane@example.com", "ip_address": "203.0.113.7"},
        "tags": {"component": "refunds", "region": "eu-west-1", "customer_tier": "gold"},
        "extra": {"sys.argv": ["gunicorn", "shop.wsgi"], "order_id": 1842},
        "request": {
            "url": "https://shop.example.com/api/orders/1842/refund/",
            "method": "POST",
            "query_string": "notify=1",
            "headers": {"Host": "shop.example.com", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36", "Content-Type": "application/json", "Accept": "*/*"},
            "data": {"reason": "damaged", "lines": [1, 2, 3]},
            "env": {"SERVER_NAME": "web-3", "SERVER_PORT": "8000"},
        },
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "os": {"name": "Linux", "version": "6.1.0"},
            "trace": {"trace_id": "06600c85981f4098b9c253a78e0526d9",
                      "span_id": "a1b2c3d4e5f60718", "op": "http.server"},
        },
        "breadcrumbs": {"values": breadcrumbs},
        "exception": {"values": [{
            "type": "DoesNotExist",
            "module": "shop.models",
            "value": "Order matching query does not exist. (pk=1842)",
            "mechanism": {"type": "django", "handled": false},
            "stacktrace": {"frames": frames},
        }]},
    });
    serde_json::to_vec(&event).expect("serializing a Value cannot fail")
}

/// Wraps one event payload into a Python-style envelope.
pub fn envelope_of(payload: &[u8]) -> Vec<u8> {
    let mut out = br#"{"event_id":"9f2c0d4a6b8e4f1a8c3d5e7f9a1b3c5d","sent_at":"2026-11-24T09:31:16.807077Z"}"#.to_vec();
    out.extend_from_slice(
        format!(
            "\n{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n",
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out.push(b'\n');
    out
}
