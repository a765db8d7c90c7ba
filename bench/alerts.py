#!/usr/bin/env python3
"""Alerting benchmarks for BENCHMARKS.md, on the release binary.

  bench/alerts.py overhead [--rounds 3] [--events 8000] [--rules 20]
      Ingest throughput with no rules and with --rules active rules (frequency, unique
      users, first seen with filters, all acting on an internal integration whose
      webhook is a local receiver), interleaved A/B in one sitting; prints the ratio.

  bench/alerts.py latency [--rate 1000] [--duration 30] [--probes-per-s 5]
      Under a steady load of --rate events/s, new issues are made every 1/--probes-per-s
      seconds; a first-seen rule sends each to a local receiver. Prints ack → receipt
      (the SDK's 200 to the webhook's arrival) p50 / p90 / p99 / max.

Both build nothing: run `cargo build --release -p sextant -p sextant-bench` first.
"""
import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEXTANT = os.path.join(ROOT, "target/release/sextant")
BENCH = os.path.join(ROOT, "target/release/sextant-bench")
PORT = 9320

FREQUENCY = "sentry.rules.conditions.event_frequency.EventFrequencyCondition"
USERS = "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition"
FIRST_SEEN = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"
LEVEL = "sentry.rules.filters.level.LevelFilter"
TAGGED = "sentry.rules.filters.tagged_event.TaggedEventFilter"
APP_ACTION = "sentry.rules.actions.notify_event_sentry_app.NotifyEventSentryAppAction"


class Receiver(http.server.ThreadingHTTPServer):
    """Records when each event_alert arrives, by event id."""

    def __init__(self):
        self.arrivals = {}
        self.count = 0
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        at = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.count += 1
        try:
            event = json.loads(body)["data"]["event"]
            self.server.arrivals.setdefault(event["event_id"], at)
        except (KeyError, ValueError, TypeError):
            pass
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="sextant-alerts-bench.")
        self.flags = ["--data-dir", f"{self.work}/data", "--public-url", f"http://127.0.0.1:{PORT}"]
        env = dict(os.environ, SEXTANT_OUTBOUND__ALLOW="127.0.0.0/8")
        self.log = open(f"{self.work}/server.log", "w")
        self.proc = subprocess.Popen(
            [SEXTANT, *self.flags, "serve", "--listen", f"127.0.0.1:{PORT}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        projects = json.loads(self.cli("project", "list", "--json"))
        self.dsn = next(p["dsn"] for p in projects if p["slug"] == "default")
        self.token = json.loads(self.cli("token", "create", "--scope", "admin", "--label", "bench", "--json"))["token"]

    def cli(self, *args):
        return subprocess.check_output([SEXTANT, *self.flags, *args], text=True)

    def api(self, method, path, body=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{PORT}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def integration(self, receiver):
        self.api("POST", "/api/0/sentry-apps/", {
            "name": "bench", "organization": "default", "isInternal": True,
            "webhookUrl": receiver.url, "events": [], "isAlertable": True})
        return self.api("GET", "/api/0/organizations/default/sentry-app-installations/")[0]["uuid"]

    def rule(self, name, conditions, filters, install):
        self.api("POST", "/api/0/projects/default/default/rules/", {
            "name": name, "actionMatch": "any", "filterMatch": "all", "frequency": 5,
            "conditions": conditions, "filters": filters,
            "actions": [{"id": APP_ACTION, "sentryAppInstallationUuid": install}]})

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        subprocess.run(["rm", "-rf", self.work])


def twenty_rules(server, install, n, quiet=False):
    """`n` rules of three kinds; `quiet` ones never fire (thresholds out of reach, a
    filter no event passes), to tell evaluation from delivery."""
    scale = 1000 if quiet else 1
    env = "nowhere" if quiet else "production"
    kinds = [
        lambda i: ([{"id": FREQUENCY, "value": (100 + i) * scale, "interval": "1h"}],
                   [{"id": LEVEL, "match": "gte", "level": "40"}]),
        lambda i: ([{"id": USERS, "value": (50 + i) * scale, "interval": "1h"}], []),
        lambda i: ([{"id": FIRST_SEEN}],
                   [{"id": TAGGED, "key": "environment", "match": "eq", "value": env}]),
    ]
    for i in range(n):
        conditions, filters = kinds[i % 3](i)
        server.rule(f"rule {i}", conditions, filters, install)


def overhead(args):
    rows = []
    for round_ in range(args.rounds):
        order = [0, args.rules] if round_ % 2 == 0 else [args.rules, 0]
        for rules in order:
            server, receiver = Server(), Receiver()
            if rules:
                twenty_rules(server, server.integration(receiver), rules, args.quiet_rules)
            out = f"{server.work}/result.json"
            subprocess.run([BENCH, "--dsn", server.dsn, "--events", str(args.events),
                            "--concurrency", "8", "--quiet", "--json", out,
                            "--server-pid", str(server.proc.pid)],
                           env=dict(os.environ, SEXTANT_BENCH_API_TOKEN=server.token), check=True)
            result = json.load(open(out))
            cpu = result.get("server", {}) or {}
            rows.append((rules, result["load"]["accepted_per_s"],
                         result["end_to_end"]["events_per_s"], receiver.count,
                         result["load"]["client_cpu_ms_per_request"]))
            print(f"rules {rules:2}: accepted {rows[-1][1]:8.0f}/s, end-to-end {rows[-1][2]:8.0f}/s, "
                  f"webhooks {receiver.count}, client cpu {rows[-1][4]:.3f} ms", flush=True)
            server.stop()
            receiver.shutdown()
    for label, col in (("accepted", 1), ("end-to-end", 2)):
        base = statistics.median(r[col] for r in rows if r[0] == 0)
        with_rules = statistics.median(r[col] for r in rows if r[0] != 0)
        print(f"{label}: median {base:.0f}/s without rules, {with_rules:.0f}/s with "
              f"{args.rules}: {100 * with_rules / base:.1f}%")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def accepted_events():
    """The server's count of accepted events, from /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("sextant_events_accepted_total "):
            return float(line.split()[1])
    return 0.0


def latency(args):
    server, receiver = Server(), Receiver()
    install = server.integration(receiver)
    server.rule("new issues", [{"id": FIRST_SEEN}], [], install)
    load = subprocess.Popen([BENCH, "--dsn", server.dsn, "--events", str(int(args.rate * args.duration)),
                             "--rate", str(args.rate), "--duration", f"{args.duration}s",
                             "--concurrency", "8", "--quiet", "--visibility-samples", "0",
                             "--json", f"{server.work}/load.json"])
    key = server.dsn.split("//")[1].split("@")[0]
    url = f"http://127.0.0.1:{PORT}/api/{server.dsn.rsplit('/', 1)[1]}/envelope/"
    acks = {}
    # Probes start once the load runs (its bodies are built first) and its own first
    # issues are made, and stop before it does.
    while accepted_events() < 2 * args.rate:
        time.sleep(0.05)
    end = time.time() + args.duration - 4
    n = 0
    while time.time() < end:
        n += 1
        event_id = uuid.uuid4().hex
        event = {"event_id": event_id, "platform": "python", "level": "error",
                 "exception": {"values": [{"type": f"Probe{n}Error", "value": "probe"}]}}
        body = (json.dumps({"event_id": event_id}) + "\n" + json.dumps({"type": "event"}) + "\n"
                + json.dumps(event) + "\n").encode()
        req = urllib.request.Request(url, data=body, headers={
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"})
        urllib.request.urlopen(req, timeout=10).read()
        acks[event_id] = time.time()
        time.sleep(1 / args.probes_per_s)
    load.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(e not in receiver.arrivals for e in acks):
        time.sleep(0.05)
    result = json.load(open(f"{server.work}/load.json"))
    lat = [1000 * (receiver.arrivals[e] - acks[e]) for e in acks if e in receiver.arrivals]
    print(f"load: {result['load']['accepted_per_s']:.0f} events/s accepted over "
          f"{result['load']['wall_s']:.1f} s")
    print(f"new-issue alerts: {len(lat)} of {len(acks)} arrived; ack → receipt "
          f"p50 {percentile(lat, 50):.0f} ms, p90 {percentile(lat, 90):.0f} ms, "
          f"p99 {percentile(lat, 99):.0f} ms, max {max(lat):.0f} ms")
    server.stop()
    receiver.shutdown()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--rounds", type=int, default=3)
    o.add_argument("--events", type=int, default=8000)
    o.add_argument("--rules", type=int, default=20)
    o.add_argument("--quiet-rules", action="store_true", help="rules that never fire")
    l = sub.add_parser("latency")
    l.add_argument("--rate", type=float, default=1000)
    l.add_argument("--duration", type=float, default=30)
    l.add_argument("--probes-per-s", type=float, default=5)
    args = parser.parse_args()
    for path in (SEXTANT, BENCH):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: cargo build --release -p sextant -p sextant-bench")
    {"overhead": overhead, "latency": latency}[args.cmd](args)


if __name__ == "__main__":
    main()
