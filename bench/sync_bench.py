"""Benchmark: ``jirabucket sync`` vs a plain sequential atlassian-python-api script.

Against the simulators with 50 ms latency per request, one run measures:

* a plain sequential script (list PRs page by page, regex the keys out of
  title + source branch + description, POST a remote link per (issue, PR) pair,
  ignore errors) — the baseline;
* ``jirabucket sync`` at default queue settings doing the same work (links only:
  ``scan_commits = false``, ``comment = false``, no transitions);
* ``jirabucket sync`` with every feature on (commits, comments, transitions), for
  information;
* a second ``jirabucket sync`` on each state with nothing new (writes and page
  requests per repository).

Each contestant gets fresh simulators seeded with the same scenario, and its
requests are counted from the simulators' request logs. Loopback only. Every
contestant's modules are imported before the clocks start: the script's
atlassian-python-api at the top of this file, and likewise the ``sync`` command
(which the CLI otherwise imports at its first call); start-up is
``bench/startup_bench.py``'s subject.

Run: ``.venv/bin/python bench/sync_bench.py``
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import requests
from atlassian import Jira  # noqa: TID251 - the baseline uses atlassian-python-api directly, as a naive script would
from atlassian.bitbucket.cloud import Cloud  # noqa: TID251

import jirabucket.cli.sync  # noqa: F401 - see below
from jirabucket.cli import main as jirabucket_main
from jirabucket.config import QueueSettings
from jirabucket.testing import (
    BitbucketCloudSimulator,
    Faults,
    JiraCloudSimulator,
    RequestRecord,
    Scenario,
    make_scenario,
)
from jirabucket.testing.scenario import KEY_PATTERN as SCENARIO_KEY_PATTERN

LATENCY = 0.05
N_PRS = 300
SEED = 114  # of seeds 0-399 with 300 PRs, the one closest to ~400 expected pairs (398 with commits)
PROJECTS = ("ABC", "OPS")
REPOS = ("acme/api", "acme/web")
EMAIL = "bot@example.com"
JIRA_SECRET = "jira-SECRET-bench-7c1e9a4b"
BB_SECRET = "bb-SECRET-bench-55f0c3e8"
READ_ONLY_POSTS = ("/issue/bulkfetch", "/search/jql", "/search")
KEY_RE = re.compile(r"\b[A-Z][A-Z0-9_]+-[1-9][0-9]*\b")

CONFIG = """
[jira]
projects = {projects}
[bitbucket]
repositories = {repos}
[sync]
scan_commits = {scan_commits}
comment = {comment}
{transitions}
"""
TRANSITIONS = '[sync.transitions]\nopen = "In Review"\nmerged = "Done"\n'


# -- worlds and measurements ---------------------------------------------------------------------


@dataclass
class World:
    """Fresh simulators seeded with the scenario, plus what a jirabucket run needs."""

    jira: JiraCloudSimulator
    bitbucket: BitbucketCloudSimulator
    scenario: Scenario
    workdir: Path

    def env(self, config: Path) -> dict[str, str]:
        return {
            "JIRA_URL": self.jira.url, "JIRA_FLAVOR": "cloud", "JIRA_TOKEN": JIRA_SECRET, "JIRA_EMAIL": EMAIL,
            "BITBUCKET_URL": self.bitbucket.url, "BITBUCKET_FLAVOR": "cloud", "BITBUCKET_TOKEN": BB_SECRET,
            "JIRABUCKET_CONFIG": str(config), "JIRABUCKET_STATE_DIR": str(self.workdir / "state"),
        }

    def clear(self) -> None:
        self.jira.clear_requests()
        self.bitbucket.clear_requests()

    def linked_pairs(self) -> set[tuple[str, str, int]]:
        """(issue, repo, PR id) of every remote link now in Jira."""
        by_url = {
            self.bitbucket.pull_request(pr.repo, pr.id).web_url: (pr.repo, pr.id)
            for pr in self.scenario.pull_requests
        }
        pairs = set()
        for issue in self.scenario.issues:
            for link in self.jira.issue(issue.key).remote_links:
                repo, pr_id = by_url[str(link["globalId"])]
                pairs.add((issue.key, repo, pr_id))
        return pairs


@contextlib.contextmanager
def make_world(scenario: Scenario) -> Iterator[World]:
    """Start both simulators, seed them (no HTTP), then switch on the latency."""
    with tempfile.TemporaryDirectory(prefix="jirabucket-bench-") as tmp, JiraCloudSimulator(
        email=EMAIL, token=JIRA_SECRET, seed=SEED
    ) as jira, BitbucketCloudSimulator(token=BB_SECRET, seed=SEED) as bb:
        scenario.seed_jira(jira)
        scenario.seed_bitbucket(bb)
        jira.set_faults(Faults(latency=LATENCY))
        bb.set_faults(Faults(latency=LATENCY))
        world = World(jira, bb, scenario, Path(tmp))
        world.clear()
        yield world


@dataclass
class Run:
    """One contestant's run: wall time and the requests each simulator saw."""

    name: str
    wall: float
    jira: list[RequestRecord]
    bitbucket: list[RequestRecord]
    pairs: int
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.jira) + len(self.bitbucket)

    @property
    def writes(self) -> int:
        return sum(1 for r in self.jira + self.bitbucket if _is_real_write(r))

    def per_pair(self) -> float:
        return self.requests / self.pairs if self.pairs else float("nan")

    def busiest_host(self) -> int:
        return max(len(self.jira), len(self.bitbucket))

    def pages_per_repo(self) -> dict[str, int]:
        pages: Counter[str] = Counter({repo: 0 for repo in REPOS})
        for r in self.bitbucket:
            m = re.fullmatch(r"/2\.0/repositories/([^/]+/[^/]+)/pullrequests", r.path)
            if r.method == "GET" and m:
                pages[m.group(1)] += 1
        return dict(pages)


def _is_real_write(record: RequestRecord) -> bool:
    return record.is_write and not record.path.endswith(READ_ONLY_POSTS)


def measure(name: str, world: World, pairs: int, body: Callable[[], dict[str, Any]]) -> Run:
    world.clear()
    start = time.perf_counter()
    report = body()
    wall = time.perf_counter() - start
    return Run(name, wall, world.jira.requests, world.bitbucket.requests, pairs, report)


# -- the contestants ------------------------------------------------------------------------------


def sequential_script(jira_url: str, bb_url: str) -> dict[str, Any]:
    """The naive baseline: one request at a time, atlassian-python-api, errors ignored."""
    jira_session = requests.Session()
    jira_session.auth = (EMAIL, JIRA_SECRET)
    jira = Jira(jira_url, session=jira_session, cloud=True, api_version="3")
    bb_session = requests.Session()
    bb_session.headers["Authorization"] = f"Bearer {BB_SECRET}"
    bb = cast(Any, Cloud)(bb_url, session=bb_session)  # Cloud's __init__ is untyped
    links = errors = 0
    for repo in REPOS:
        params = {"state": ["OPEN", "MERGED", "DECLINED"], "pagelen": 50}
        data: Any = bb.get(f"repositories/{repo}/pullrequests", params=params)
        while True:
            for pr in data["values"]:
                text = "\n".join((pr["title"], pr["source"]["branch"]["name"], pr.get("description") or ""))
                keys = dict.fromkeys(k for k in KEY_RE.findall(text) if k.rsplit("-", 1)[0] in PROJECTS)
                url = pr["links"]["html"]["href"]
                for key in keys:
                    try:
                        jira.create_or_update_issue_remote_links(
                            key, url, f"{repo} PR #{pr['id']}: {pr['title']}", global_id=url,
                            status_resolved=pr["state"] != "OPEN",
                        )
                        links += 1
                    except Exception:  # a naive script: missing issue (404) or anything else, move on
                        errors += 1
            if not data.get("next"):
                break
            data = bb.get(data["next"], absolute=True)
    jira_session.close()
    bb_session.close()
    return {"links_posted": links, "errors_ignored": errors}


@contextlib.contextmanager
def patched_env(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def write_config(world: World, *, full_features: bool) -> Path:
    path = world.workdir / "jirabucket.toml"
    flag = "true" if full_features else "false"
    text = CONFIG.format(
        projects=json.dumps(list(PROJECTS)), repos=json.dumps(list(REPOS)), scan_commits=flag, comment=flag,
        transitions=TRANSITIONS if full_features else "",
    )
    path.write_text(text)  # no [queue] table: default workers and per-host concurrency
    return path


def jirabucket_sync(world: World, config: Path) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        out = io.StringIO()
        with patched_env(world.env(config)), contextlib.redirect_stdout(out):
            code = jirabucket_main(["sync", "--json"])
        if code != 0:
            raise SystemExit(f"jirabucket sync exited {code}: {out.getvalue()[:2000]}")
        doc: dict[str, Any] = json.loads(out.getvalue())
        return doc

    return run


# -- report ---------------------------------------------------------------------------------------


def _template(record: RequestRecord) -> str:
    path = re.sub(r"/repositories/[^/]+/[^/]+", "/repositories/{repo}", record.path)
    path = SCENARIO_KEY_PATTERN.sub("{key}", path)
    path = re.sub(r"/\d+(?=/|$)", "/{n}", path)
    return f"{record.method} {path}"


def breakdown(run: Run) -> str:
    counts = Counter(_template(r) for r in run.jira + run.bitbucket)
    statuses = Counter(r.status for r in run.jira + run.bitbucket if r.status >= 400)
    lines = [f"    {n:5d}  {t}" for t, n in counts.most_common()]
    if statuses:
        lines.append("    errors answered: " + ", ".join(f"{s}x{n}" for s, n in sorted(statuses.items())))
    return "\n".join(lines)


def link_only_pairs(scenario: Scenario) -> set[tuple[str, str, int]]:
    """Pairs a link-only sync (no commit scan) must create: keys in title, branch or description."""
    existing = {i.key for i in scenario.issues}
    return {
        (key, pr.repo, pr.id)
        for pr in scenario.pull_requests
        for text in (pr.title, pr.source_branch, pr.description)
        for key in SCENARIO_KEY_PATTERN.findall(text)
        if key in existing and key.rsplit("-", 1)[0] in PROJECTS
    }


def lower_bound(run: Run, concurrency: int, *, busiest: bool) -> float:
    n = run.busiest_host() if busiest else run.requests
    return n * LATENCY / concurrency


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def run_baseline(scenario: Scenario, pairs: set[tuple[str, str, int]]) -> tuple[Run, bool]:
    with make_world(scenario) as world:
        seq = measure("sequential atlassian-python-api script", world, len(pairs),
                      lambda: sequential_script(world.jira.url, world.bitbucket.url))
        ok = world.linked_pairs() == pairs
    print(f"[1] {seq.name}: {seq.wall:.2f} s, {seq.requests} requests "
          f"(jira {len(seq.jira)}, bitbucket {len(seq.bitbucket)}), {seq.report}; links correct: {ok}")
    print(breakdown(seq), flush=True)
    return seq, ok


def run_jirabucket(
    tag: str, name: str, scenario: Scenario, pairs: set[tuple[str, str, int]], *, full_features: bool
) -> tuple[Run, Run, bool]:
    """A first sync on fresh simulators, then a second one on the same state with nothing new."""
    with make_world(scenario) as world:
        config = write_config(world, full_features=full_features)
        first = measure(name, world, len(pairs), jirabucket_sync(world, config))
        ok = world.linked_pairs() == pairs
        second = measure(f"{name}, 2nd run", world, len(pairs), jirabucket_sync(world, config))
    rep = first.report
    print(f"[{tag}] {first.name}: {first.wall:.2f} s, {first.requests} requests "
          f"(jira {len(first.jira)}, bitbucket {len(first.bitbucket)}); links correct: {ok}; "
          f"report: links_created={rep.get('links_created')} comments_added={rep.get('comments_added')} "
          f"transitions={rep.get('transitions')} requests={rep.get('requests')} seconds={rep.get('seconds', 0):.2f}")
    print(breakdown(first))
    print(f"[{tag}b] {second.name}: {second.wall:.2f} s, {second.requests} requests, {second.writes} writes, "
          f"PR pages per repo {second.pages_per_repo()}")
    print(breakdown(second), flush=True)
    return first, second, ok


def print_table(runs: Sequence[Run], seq: Run, conc: int) -> None:
    print()
    print(f"lower bound LB = requests x latency / per_host_concurrency = N x {LATENCY} s / {conc} "
          f"(N = all requests; LBh uses the busiest host's requests only, as if both hosts ran in parallel)")
    head = ["run", "wall s", "requests", "pairs", "req/pair", "writes", "speedup", "LB s", "wall/LB", "LBh s",
            "wall/LBh"]
    widths = [max(len(r.name) for r in runs), 7, 8, 5, 8, 6, 7, 6, 7, 6, 8]
    print(_row(head, widths))
    print(_row(["-" * w for w in widths], widths))
    for run in runs:
        lb, lbh = lower_bound(run, conc, busiest=False), lower_bound(run, conc, busiest=True)
        print(_row([
            run.name, f"{run.wall:.2f}", str(run.requests), str(run.pairs), f"{run.per_pair():.3f}", str(run.writes),
            f"{seq.wall / run.wall:.1f}x", f"{lb:.2f}", f"{run.wall / lb:.2f}" if lb else "-", f"{lbh:.2f}",
            f"{run.wall / lbh:.2f}" if lbh else "-",
        ], widths))
    print("(speedup = sequential wall / row wall; req/pair = requests / (issue, PR) pairs the row links)")


def main() -> int:
    defaults = QueueSettings()
    conc = defaults.per_host_concurrency
    scenario = make_scenario(N_PRS, SEED, projects=PROJECTS, repositories=REPOS)
    want_links = link_only_pairs(scenario)
    want_full = set(scenario.expected_links())
    print(f"scenario: make_scenario({N_PRS}, seed={SEED}) on {', '.join(REPOS)}, projects {', '.join(PROJECTS)}")
    print(f"  pull requests: {len(scenario.pull_requests)}; issues: {len(scenario.issues)}")
    print(f"  expected (issue, PR) pairs: {len(want_full)} with commit messages scanned, "
          f"{len(want_links)} from title/branch/description only (the equal-work comparison)")
    print(f"  latency {LATENCY * 1000:.0f} ms per request; jirabucket defaults: workers={defaults.workers}, "
          f"per_host_concurrency={conc}")
    print(flush=True)

    seq, seq_ok = run_baseline(scenario, want_links)
    jb, again, jb_ok = run_jirabucket("2", "jirabucket sync, links only", scenario, want_links, full_features=False)
    full, full_again, full_ok = run_jirabucket(
        "3", "jirabucket sync, full features (commits, comments, transitions)", scenario, want_full,
        full_features=True,
    )
    print_table([seq, jb, again, full, full_again], seq, conc)

    speedup = seq.wall / jb.wall
    checks: list[tuple[str, bool, str]] = [
        ("links correct in every run", seq_ok and jb_ok and full_ok, ""),
        ("jirabucket >= 5x faster than the sequential script (links only, defaults)", speedup >= 5.0,
         f"{speedup:.2f}x"),
        ("jirabucket requests per pair <= sequential's", jb.per_pair() <= seq.per_pair(),
         f"{jb.per_pair():.3f} vs {seq.per_pair():.3f}"),
    ]
    for second in (again, full_again):
        pages = second.pages_per_repo()
        checks.append((f"{second.name}: 0 writes", second.writes == 0, f"{second.writes}"))
        checks.append((f"{second.name}: <= 1 PR page request per repository", max(pages.values()) <= 1,
                       f"{pages}"))
    print()
    for label, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}" + (f"  ({detail})" if detail else ""))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
