//! Realistic benchmark events: Python/Django exceptions built from issue templates.
//!
//! A template fixes everything that decides grouping and most of the bytes (exception
//! type, function names, source context, breadcrumb count); each event only varies
//! numbers and UUIDs, like real repeats of one bug. That keeps the issue count equal to
//! the template count, so a server's grouping work is exercised the way production would.

use serde_json::{Value, json};

use super::corpus::{APP_ROOT, DOMAINS, EXCEPTIONS, FRAMEWORK_OUTER, SITE_PACKAGES, SOURCE, VERBS};

/// Deterministic SplitMix64: reproducible variable values without pulling in `rand`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (hi exclusive).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }

    pub fn hex(&mut self, digits: usize) -> String {
        let mut s = format!("{:016x}{:016x}", self.next_u64(), self.next_u64());
        s.truncate(digits);
        s
    }

    pub fn uuid(&mut self) -> String {
        let v = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Uuid::from_u128(v).hyphenated().to_string()
    }
}

/// One issue's fixed shape.
#[derive(Debug, Clone)]
pub struct Template {
    pub index: usize,
    pub exc_type: &'static str,
    exc_module: &'static str,
    /// Message pattern with the template's words filled in; `{n}`/`{u}` remain.
    message: String,
    package: &'static str,
    model: &'static str,
    url_segment: &'static str,
    view_fn: String,
    service_fn: String,
    method: &'static str,
    breadcrumbs: usize,
}

impl Template {
    pub fn new(index: usize) -> Self {
        let (exc_type, exc_module, message) = EXCEPTIONS[index % EXCEPTIONS.len()];
        let (package, model, url_segment) = DOMAINS[index % DOMAINS.len()];
        let verb = VERBS[(index / DOMAINS.len()) % VERBS.len()];
        // Function names are what grouping keys on besides the type; past the verb ×
        // domain combinations a generation suffix keeps every template its own issue.
        let generation = index / (DOMAINS.len() * VERBS.len());
        let suffix = if generation == 0 {
            String::new()
        } else {
            format!("_g{generation}")
        };
        Template {
            index,
            exc_type,
            exc_module,
            message: message
                .replace("{model}", model)
                .replace("{lmodel}", &model.to_lowercase())
                .replace("{verb}", verb),
            package,
            model,
            url_segment,
            view_fn: format!("{verb}_{package}{suffix}"),
            service_fn: format!("{verb}_{}{suffix}", model.to_lowercase()),
            method: if index.is_multiple_of(3) {
                "GET"
            } else {
                "POST"
            },
            breadcrumbs: 8 + (index * 5) % 13,
        }
    }

    pub fn all(count: usize) -> Vec<Template> {
        (0..count).map(Template::new).collect()
    }

    fn message(&self, rng: &mut Rng) -> String {
        let mut out = String::new();
        let mut rest = self.message.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{n}") {
                out.push_str(&rng.range(1, 999_999).to_string());
            } else if tail.starts_with("{u}") {
                out.push_str(&rng.uuid());
            } else {
                out.push('{'); // a literal brace
                rest = &tail[1..];
                continue;
            }
            rest = &tail[3..];
        }
        out.push_str(rest);
        out
    }

    /// The 20 frames, oldest first as Sentry orders them: Django's handler chain, the
    /// app's view and services, an atomic block, and the ORM call that raised.
    fn frames(&self, rng: &mut Rng, ids: &Ids) -> Vec<Value> {
        let mut frames = Vec::with_capacity(20);
        for (i, (file, module, function)) in FRAMEWORK_OUTER.iter().enumerate() {
            frames.push(self.frame(FrameSpec::lib(file, module, function), i, rng, ids));
        }
        let pkg = self.package;
        let app = [
            (
                format!("shop/{pkg}/views.py"),
                format!("shop.{pkg}.views"),
                self.view_fn.clone(),
                true,
            ),
            (
                format!("shop/{pkg}/services.py"),
                format!("shop.{pkg}.services"),
                self.service_fn.clone(),
                true,
            ),
            (
                format!("shop/{pkg}/services.py"),
                format!("shop.{pkg}.services"),
                format!("_load_{}", self.model.to_lowercase()),
                true,
            ),
            (
                "django/db/transaction.py".into(),
                "django.db.transaction".into(),
                "inner".into(),
                false,
            ),
            (
                format!("shop/{pkg}/domain.py"),
                format!("shop.{pkg}.domain"),
                format!("apply_{}_rules", self.url_segment),
                true,
            ),
            (
                "shop/common/db.py".into(),
                "shop.common.db".into(),
                "get_locked".into(),
                true,
            ),
            (
                "django/db/models/manager.py".into(),
                "django.db.models.manager".into(),
                "manager_method".into(),
                false,
            ),
            (
                "django/db/models/query.py".into(),
                "django.db.models.query".into(),
                "get".into(),
                false,
            ),
        ];
        for (j, (file, module, function, in_app)) in app.iter().enumerate() {
            let spec = FrameSpec {
                file,
                module,
                function,
                in_app: *in_app,
            };
            frames.push(self.frame(spec, FRAMEWORK_OUTER.len() + j, rng, ids));
        }
        frames
    }

    fn frame(&self, spec: FrameSpec<'_>, position: usize, rng: &mut Rng, ids: &Ids) -> Value {
        let abs_path = if spec.in_app {
            format!("{APP_ROOT}{}", spec.file)
        } else {
            format!("{SITE_PACKAGES}{}", spec.file)
        };
        // Fixed per template and position, so context is identical across repeats.
        let seed = self.index * 31 + position * 7;
        let line = |k: usize| Value::from(SOURCE[(seed + k * 3) % SOURCE.len()]);
        let lineno = 40 + (seed * 13) % 400;
        json!({
            "filename": spec.file,
            "abs_path": abs_path,
            "module": spec.module,
            "function": spec.function,
            "lineno": lineno,
            "in_app": spec.in_app,
            "pre_context": (0..5).map(line).collect::<Vec<_>>(),
            "context_line": line(5),
            "post_context": (6..11).map(line).collect::<Vec<_>>(),
            "vars": self.vars(spec.in_app, position, rng, ids),
        })
    }

    /// Local variables as the Python SDK serializes them: reprs, with nested containers.
    /// Framework frames hold few locals; app frames hold the domain objects.
    fn vars(&self, in_app: bool, position: usize, rng: &mut Rng, ids: &Ids) -> Value {
        let request = format!("<WSGIRequest: {} '{}'>", self.method, self.path(ids.object));
        if !in_app {
            return if position.is_multiple_of(2) {
                json!({
                    "request": request,
                    "response": "None",
                    "get_response": format!("<function BaseHandler._get_response at 0x{}>", rng.hex(12)),
                })
            } else {
                json!({"request": request, "exc": format!("{}('...')", self.exc_type)})
            };
        }
        let mut vars = json!({
            "request": request,
            "kwargs": {"pk": format!("'{}'", ids.object), "format": "None"},
            "user": format!("<User: customer{}@example.com>", ids.user),
            "obj": format!("<{}: #{}>", self.model, ids.object),
            "lines": [
                format!("<LineItem: {} x SKU-{}>", rng.range(1, 9), rng.range(1000, 99999)),
                format!("<LineItem: {} x SKU-{}>", rng.range(1, 9), rng.range(1000, 99999)),
                "'...'"
            ],
            "options": {
                "notify": "True",
                "limits": {"max_amount": format!("Decimal('{}.00')", rng.range(100, 5000)), "currency": "'EUR'"}
            },
            "amount": format!("Decimal('{}.{:02}')", rng.range(1, 900), rng.range(0, 100)),
        });
        // Only the view frame is a method on a class-based view.
        if position == FRAMEWORK_OUTER.len() {
            vars["self"] = format!(
                "<shop.{}.views.{}View object at 0x{}>",
                self.package,
                self.model,
                rng.hex(12)
            )
            .into();
        }
        vars
    }

    fn path(&self, object: u64) -> String {
        let verb = self.view_fn.split('_').next().unwrap_or("view");
        format!("/api/{}/{object}/{verb}/", self.url_segment)
    }

    fn breadcrumbs(&self, rng: &mut Rng, now: f64, ids: &Ids) -> Vec<Value> {
        (0..self.breadcrumbs)
            .map(|i| {
                let ts = now - (self.breadcrumbs - i) as f64 * 0.173;
                match (self.index + i) % 4 {
                    0 => json!({"type": "default", "category": "query", "level": "info", "timestamp": ts,
                        "message": format!("SELECT \"shop_{m}\".\"id\", \"shop_{m}\".\"status\" FROM \"shop_{m}\" WHERE \"shop_{m}\".\"id\" = {}", ids.object, m = self.model.to_lowercase()),
                        "data": {"db.system": "postgresql", "duration_ms": rng.range(1, 40)}}),
                    1 => json!({"type": "http", "category": "httplib", "level": "info", "timestamp": ts,
                        "data": {"method": "GET", "url": format!("https://inventory.internal/v2/items/{}", rng.range(1000, 99999)),
                                 "status_code": 200, "reason": "OK", "http.query": "", "http.fragment": ""}}),
                    2 => json!({"type": "default", "category": "shop.audit", "level": "info", "timestamp": ts,
                        "message": format!("customer {} opened {} {}", ids.user, self.model, ids.object)}),
                    _ => json!({"type": "default", "category": "django.security", "level": "warning", "timestamp": ts,
                        "message": format!("Rate limit check passed for session {}", rng.hex(32))}),
                }
            })
            .collect()
    }

    /// A full event. `event_id` is 32 hex characters; `now` is Unix seconds.
    pub fn event(&self, rng: &mut Rng, event_id: &str, now: f64) -> Value {
        let ids = Ids {
            object: rng.range(1000, 999_999),
            user: rng.range(1, 250_000),
            request_id: rng.uuid(),
        };
        let path = self.path(ids.object);
        let frames = self.frames(rng, &ids);
        json!({
            "event_id": event_id,
            "timestamp": now,
            "platform": "python",
            "level": "error",
            "logger": "django.request",
            "transaction": format!("/api/{}/{{pk}}/{}/", self.url_segment, self.view_fn),
            "transaction_info": {"source": "route"},
            "server_name": format!("web-{}", rng.range(1, 5)),
            "release": "shop@2.14.3",
            "environment": "production",
            "exception": {"values": [{
                "type": self.exc_type,
                "module": self.exc_module,
                "value": self.message(rng),
                "mechanism": {"type": "django", "handled": false},
                "stacktrace": {"frames": frames},
            }]},
            "breadcrumbs": {"values": self.breadcrumbs(rng, now, &ids)},
            "user": {
                "id": ids.user.to_string(),
                "email": format!("customer{}@example.com", ids.user),
                "username": format!("customer{}", ids.user),
                "ip_address": format!("10.{}.{}.{}", rng.range(0, 255), rng.range(0, 255), rng.range(1, 255)),
            },
            "tags": {
                "domain": self.package,
                "region": "eu-west-1",
                "tenant": "acme",
                "feature.checkout_v2": "on",
                "celery.queue": "default",
                "customer.tier": "gold",
            },
            "request": {
                "url": format!("https://shop.example.com{path}"),
                "method": self.method,
                "query_string": format!("page={}&source=email&utm_campaign=spring", rng.range(1, 20)),
                "headers": {
                    "Host": "shop.example.com",
                    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Safari/537.36",
                    "Accept": "application/json, text/plain, */*",
                    "Accept-Language": "en-US,en;q=0.9,de;q=0.8",
                    "Content-Type": "application/json",
                    "Cookie": "[Filtered]",
                    "Referer": format!("https://shop.example.com/account/{}/", self.url_segment),
                    "X-Request-Id": ids.request_id,
                    "X-Forwarded-For": format!("203.0.113.{}", rng.range(1, 255)),
                },
                "data": {
                    "amount": format!("{}.{:02}", rng.range(1, 900), rng.range(0, 100)),
                    "reason": "damaged_in_transit",
                    "items": [{"sku": format!("SKU-{}", rng.range(1000, 99999)), "qty": rng.range(1, 9)},
                              {"sku": format!("SKU-{}", rng.range(1000, 99999)), "qty": rng.range(1, 9)}],
                    "notify_customer": true,
                },
                "env": {"REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "shop-web", "SERVER_PORT": "8000"},
            },
            "contexts": {
                "os": {"name": "Linux", "version": "6.1.0-18-amd64", "build": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1"},
                "runtime": {"name": "CPython", "version": "3.11.7", "build": "3.11.7 (main, Dec 19 2023, 20:33:49) [GCC 12.2.0]"},
                "browser": {"name": "Chrome", "version": "120.0.6099.129"},
                "trace": {"trace_id": rng.hex(32), "span_id": rng.hex(16), "parent_span_id": rng.hex(16),
                          "op": "http.server", "status": "internal_error", "origin": "auto.http.django"},
            },
            "extra": {"sys.argv": ["/srv/shop/venv/bin/gunicorn", "shop.wsgi:application", "--workers", "4"]},
            "sdk": {
                "name": "sentry.python.django",
                "version": "2.19.2",
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.2"}],
                "integrations": ["argv", "atexit", "dedupe", "django", "excepthook", "logging", "modules", "stdlib", "threading"],
            },
        })
    }
}

struct FrameSpec<'a> {
    file: &'a str,
    module: &'a str,
    function: &'a str,
    in_app: bool,
}

impl<'a> FrameSpec<'a> {
    fn lib(file: &'a str, module: &'a str, function: &'a str) -> Self {
        FrameSpec {
            file,
            module,
            function,
            in_app: false,
        }
    }
}

/// Identifiers that recur across one event (URL, vars, breadcrumbs), as in a real request.
struct Ids {
    object: u64,
    user: u64,
    request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(template: usize, seed: u64) -> String {
        let mut rng = Rng::new(seed);
        let id = rng.hex(32);
        serde_json::to_string(&Template::new(template).event(
            &mut rng,
            &id,
            1_700_000_000.5 + seed as f64,
        ))
        .unwrap()
    }

    /// Masks what is allowed to vary: every run of hex digits (which covers decimal
    /// numbers, UUID parts and hex ids) becomes `#`.
    fn mask(s: &str) -> String {
        let mut out = String::new();
        let mut in_run = false;
        for c in s.chars() {
            if c.is_ascii_hexdigit() {
                if !in_run {
                    out.push('#');
                }
                in_run = true;
            } else {
                out.push(c);
                in_run = false;
            }
        }
        out
    }

    #[test]
    fn events_are_about_23_kib_of_valid_json() {
        for t in 0..50 {
            let s = sample(t, 7);
            let v: Value = serde_json::from_str(&s).unwrap();
            let frames = v
                .pointer("/exception/values/0/stacktrace/frames")
                .unwrap()
                .as_array()
                .unwrap();
            assert_eq!(frames.len(), 20);
            assert!(frames.iter().any(|f| f["in_app"] == true));
            assert!(frames.iter().any(|f| f["in_app"] == false));
            assert_eq!(frames[0]["pre_context"].as_array().unwrap().len(), 5);
            assert_eq!(frames[0]["post_context"].as_array().unwrap().len(), 5);
            let crumbs = v
                .pointer("/breadcrumbs/values")
                .unwrap()
                .as_array()
                .unwrap()
                .len();
            assert!((8..=20).contains(&crumbs), "{crumbs} breadcrumbs");
            let target = 23.0 * 1024.0;
            let size = s.len() as f64;
            assert!(
                (size - target).abs() / target < 0.25,
                "template {t}: {} bytes",
                s.len()
            );
        }
    }

    #[test]
    fn templates_differ_in_exception_and_functions() {
        let templates = Template::all(50);
        let mut keys: Vec<(String, String)> = templates
            .iter()
            .map(|t| (t.exc_type.to_string(), t.view_fn.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 50);
        assert_ne!(templates[0].exc_type, templates[1].exc_type);
        // Type plus masked message is unique too, for servers that group on those alone.
        let mut titles: Vec<String> = templates
            .iter()
            .map(|t| format!("{}: {}", t.exc_type, mask(&t.message(&mut Rng::new(3)))))
            .collect();
        titles.sort();
        titles.dedup();
        assert_eq!(titles.len(), 50);
        assert_ne!(mask(&sample(0, 1)), mask(&sample(1, 1)));
    }

    #[test]
    fn events_of_one_template_differ_only_in_numbers_and_uuids() {
        for t in [0, 7, 49, 123] {
            let (a, b) = (sample(t, 1), sample(t, 2));
            assert_ne!(a, b);
            assert_eq!(mask(&a), mask(&b), "template {t}");
        }
    }
}
