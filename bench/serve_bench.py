"""Benchmark: ``jirabucket serve`` — deliveries taken in per second, and delivery → Jira write delay.

Four measurements against the simulators (Jira Cloud and Bitbucket Cloud on loopback):

* **intake**: signed ``pullrequest:updated`` deliveries POSTed by 8 client threads
  (keep-alive) to the app on waitress (4 threads), each recorded durably
  (SQLite, ``synchronous=FULL``) before its 202. The coalescing window is an
  hour, so no sync competes for the CPU: this is the receiver alone.
* **coalescing**: 100 deliveries for 10 pull requests in a burst (8 clients) at the
  default window; the syncs are counted from Bitbucket's request log (one GET of
  the pull request by id each).
* **delay**: simulators at 30 ms per request; one delivery per pull request,
  one every ``SPACING`` seconds; the delay is from sending the delivery to the
  pull request's remote link being in Jira (polled every 5 ms). Once with the
  default coalescing window (2 s), once with none, and once with all the
  deliveries at the same moment (the syncs queue: one runs at a time).
* **cron**: the same change picked up by an incremental ``jirabucket sync``
  (what a cron job runs). A change lands at a uniformly random moment of the
  cron interval, so it waits half the interval on average for the next run,
  plus that run's duration: average delay = interval / 2 + run time.

Run: ``.venv/bin/python bench/serve_bench.py`` (about a minute).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from threading import Event
from urllib.parse import urlsplit

import requests

from jirabucket.config import Settings, load_settings
from jirabucket.sync import sync
from jirabucket.testing import BitbucketCloudSimulator, Faults, JiraCloudSimulator
from jirabucket.tokens import BitbucketToken, JiraToken
from jirabucket.webhooks import WebhookApp, WebhookSecret, WebhookServer, create_app

SECRET = "whsec-bench-3f9a2c"
JIRA_SECRET = "jira-SECRET-bench-7c1e9a4b"
BB_SECRET = "bb-SECRET-bench-55f0c3e8"
EMAIL = "bot@example.com"
REPO = "acme/api"
LATENCY = 0.03
INTAKE_DELIVERIES = 3000
INTAKE_PRS = 50
INTAKE_CLIENTS = 8
DELAY_PRS = 20
SPACING = 0.5
CRON_INTERVALS = (15 * 60, 5 * 60)
CONFIG = """
[jira]
projects = ["ABC"]
[bitbucket]
repositories = ["acme/api"]
[sync.transitions]
open = "In Review"
merged = "Done"
"""


@dataclass
class World:
    """Running simulators and the settings and tokens of a sync against them."""

    jira: JiraCloudSimulator
    bitbucket: BitbucketCloudSimulator
    settings: Settings
    jira_token: JiraToken
    bitbucket_token: BitbucketToken


@contextlib.contextmanager
def world(latency: float = 0.0) -> Iterator[World]:
    """Fresh simulators, a config file and an empty state directory."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        JiraCloudSimulator(email=EMAIL, token=JIRA_SECRET, seed=1) as jira,
        BitbucketCloudSimulator(token=BB_SECRET, seed=1) as bitbucket,
    ):
        config = Path(tmp) / "jirabucket.toml"
        config.write_text(CONFIG)
        bitbucket.add_repository(REPO)
        env = {
            "JIRA_URL": jira.url, "JIRA_FLAVOR": "cloud", "BITBUCKET_URL": bitbucket.url, "BITBUCKET_FLAVOR": "cloud",
            "JIRABUCKET_STATE_DIR": f"{tmp}/state",
        }
        settings = load_settings(config_path=config, environ=env)
        faults = Faults(latency=latency)
        jira.set_faults(faults)
        bitbucket.set_faults(faults)
        yield World(jira, bitbucket, settings, JiraToken(JIRA_SECRET, email=EMAIL), BitbucketToken(BB_SECRET))


@contextlib.contextmanager
def served(w: World, *, window: float) -> Iterator[tuple[WebhookApp, str]]:
    """The webhook app on waitress in a thread; yields it and its base URL."""
    app = create_app(
        w.settings, secret=WebhookSecret(SECRET), jira_token=w.jira_token, bitbucket_token=w.bitbucket_token,
        reconcile_every=0, coalesce_window=window,
    )
    try:
        server = WebhookServer(app, host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        try:
            yield app, server.url
        finally:
            server.stop()
            thread.join()
    finally:
        app.close()


def delivery(pr_id: int) -> tuple[bytes, dict[str, str]]:
    """A signed Bitbucket Cloud ``pullrequest:updated`` delivery."""
    body = json.dumps({
        "actor": {"display_name": "Alice"},
        "repository": {"full_name": REPO, "type": "repository"},
        "pullrequest": {"id": pr_id, "title": "ABC-1 whatever", "state": "OPEN"},
    }).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json", "X-Event-Key": "pullrequest:updated",
        "X-Request-UUID": str(uuid.uuid4()), "X-Hub-Signature": signature,
    }
    return body, headers


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _client(url: str, first: int, count: int, go: Event, ready: Queue[None]) -> list[float]:
    """One client process: ``count`` deliveries over one keep-alive connection; their round trips (s)."""
    prepared = [delivery(1 + n % INTAKE_PRS) for n in range(first, first + count)]
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    ready.put(None)
    go.wait()
    latencies = []
    for body, headers in prepared:
        start = time.perf_counter()
        conn.request("POST", "/webhooks/bitbucket", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 202, answer.status
        latencies.append(time.perf_counter() - start)
    conn.close()
    return latencies


def intake() -> tuple[float, float, float]:
    """Deliveries per second, and p50/p95 of the 202's round trip (ms).

    The clients are separate processes (http.client, one keep-alive connection each), so their
    CPU is not the server's GIL; they still share the machine's cores with it.
    """
    with world() as w, served(w, window=3600) as (app, url):
        context = multiprocessing.get_context("spawn")
        manager = context.Manager()
        go, ready = manager.Event(), manager.Queue()
        per_client = INTAKE_DELIVERIES // INTAKE_CLIENTS
        with ProcessPoolExecutor(INTAKE_CLIENTS, mp_context=context) as pool:
            futures = [
                pool.submit(_client, url, n * per_client, per_client, go, ready) for n in range(INTAKE_CLIENTS)
            ]
            for _ in range(INTAKE_CLIENTS):
                ready.get(timeout=60)
            start = time.perf_counter()
            go.set()
            latencies = [seconds for future in futures for seconds in future.result()]
            wall = time.perf_counter() - start
        manager.shutdown()
        _, health = app.health()
        assert health["pending_pull_requests"] == INTAKE_PRS and health["pull_request_syncs"] == 0
        return len(latencies) / wall, percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000


def delay(window: float, spacing: float = SPACING) -> tuple[list[float], float]:
    """Delivery → remote-link delays (s), one delivery per PR every ``spacing`` s; and the mean minus the window."""
    with world(LATENCY) as w:
        prs = []
        for n in range(1, DELAY_PRS + 1):
            w.jira.add_issue(f"ABC-{n}", status="To Do")
            prs.append(w.bitbucket.add_pull_request(REPO, title=f"ABC-{n} change", source_branch=f"feature/ABC-{n}"))
        with served(w, window=window) as (_, url):
            sent: dict[int, float] = {}

            def send() -> None:
                with requests.Session() as session:
                    begin = time.perf_counter()
                    for n, pr in enumerate(prs, start=1):
                        time.sleep(max(0.0, begin + (n - 1) * spacing - time.perf_counter()))
                        body, headers = delivery(pr)
                        sent[n] = time.perf_counter()
                        answer = session.post(f"{url}/webhooks/bitbucket", data=body, headers=headers, timeout=30)
                        assert answer.status_code == 202

            sender = threading.Thread(target=send)
            sender.start()
            linked: dict[int, float] = {}
            deadline = time.monotonic() + DELAY_PRS * spacing + window + 60
            while len(linked) < DELAY_PRS and time.monotonic() < deadline:
                for n in sent.keys() - linked.keys():
                    if w.jira.issue(f"ABC-{n}").remote_links:
                        linked[n] = time.perf_counter()
                time.sleep(0.005)
            sender.join()
        assert len(linked) == DELAY_PRS, f"{DELAY_PRS - len(linked)} PRs never linked"
        delays = [linked[n] - sent[n] for n in sorted(linked)]
        return delays, statistics.mean(delays) - window


def coalescing(deliveries: int = 100, prs: int = 10) -> tuple[int, float]:
    """Syncs made for a burst of ``deliveries`` spread over ``prs`` PRs (default window), and the burst's length (s).

    A sync is counted as Bitbucket's request log shows it: one GET of the pull request by id.
    """
    with world() as w:
        ids = []
        for n in range(1, prs + 1):
            w.jira.add_issue(f"ABC-{n}", status="To Do")
            ids.append(w.bitbucket.add_pull_request(REPO, title=f"ABC-{n} change", source_branch=f"feature/ABC-{n}"))
        with served(w, window=2.0) as (app, url):
            local = threading.local()

            def post(n: int) -> int:
                if not hasattr(local, "session"):
                    local.session = requests.Session()
                body, headers = delivery(ids[n % prs])
                return int(local.session.post(f"{url}/webhooks/bitbucket", data=body, headers=headers, timeout=30)
                           .status_code)

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(post, range(deliveries)))
            burst = time.perf_counter() - start
            assert codes == [202] * deliveries
            deadline = time.monotonic() + 60
            while app.health()[1]["pending_pull_requests"] and time.monotonic() < deadline:
                time.sleep(0.01)
        reads = sum(1 for r in w.bitbucket.requests if r.method == "GET" and "/pullrequests/" in r.path
                    and r.path.rsplit("/", 1)[1].isdigit())
        return reads, burst


def cron_run() -> float:
    """Seconds an incremental sync takes to pick up one changed PR (after a first full run)."""
    with world(LATENCY) as w:
        w.jira.add_issue("ABC-1", status="To Do")
        w.jira.add_issue("ABC-2", status="To Do")
        w.bitbucket.add_pull_request(REPO, title="ABC-1 first", source_branch="feature/ABC-1")
        sync(w.settings, jira_token=w.jira_token, bitbucket_token=w.bitbucket_token)
        w.bitbucket.add_pull_request(REPO, title="ABC-2 second", source_branch="feature/ABC-2")
        start = time.perf_counter()
        report = sync(w.settings, jira_token=w.jira_token, bitbucket_token=w.bitbucket_token)
        seconds = time.perf_counter() - start
        assert report.links_created == 1 and not report.failed
        return seconds


def main() -> None:
    """Run the three measurements and print the figures."""
    rate, p50_ms, p95_ms = intake()
    print(f"intake: {INTAKE_DELIVERIES} signed deliveries for {INTAKE_PRS} PRs from {INTAKE_CLIENTS} client processes, "
          f"4 server threads, each committed (synchronous=FULL) before its 202")
    print(f"  {rate:,.0f} deliveries/s accepted; 202 round trip p50 {p50_ms:.1f} ms, p95 {p95_ms:.1f} ms")
    syncs, burst = coalescing()
    print(f"\ncoalescing: 100 deliveries for 10 PRs in {burst:.2f} s (8 clients, window 2 s) -> {syncs} syncs")
    print(f"\ndelay: simulators at {LATENCY * 1000:.0f} ms per request, {DELAY_PRS} PRs, one delivery each, "
          f"one every {SPACING} s; delivery sent -> remote link in Jira (polled every 5 ms)")
    results = {}
    for window in (2.0, 0.0):
        delays, after_window = delay(window)
        results[window] = delays
        print(f"  coalescing window {window:.0f} s: p50 {percentile(delays, 50):.2f} s, "
              f"p95 {percentile(delays, 95):.2f} s, max {max(delays):.2f} s "
              f"(mean {statistics.mean(delays):.2f} s = window + {after_window:.2f} s of sync to the link)")
    burst, _ = delay(2.0, spacing=0.0)
    print(f"  all {DELAY_PRS} PRs at once, window 2 s (their syncs run one at a time): "
          f"p50 {percentile(burst, 50):.2f} s, p95 {percentile(burst, 95):.2f} s, max {max(burst):.2f} s")
    run = cron_run()
    print(f"\ncron: one incremental `jirabucket sync` picking up one new PR takes {run:.2f} s at the same latency")
    webhook_p50 = percentile(results[2.0], 50)
    for interval in CRON_INTERVALS:
        average = interval / 2 + run
        print(f"  every {interval // 60} min: average delay = {interval // 60} min / 2 + {run:.2f} s = {average:.0f} s "
              f"({average / webhook_p50:.0f}x the webhook's p50 at the default window)")


if __name__ == "__main__":
    main()
