"""The README example: a user's test against the plugin's fixtures."""

from __future__ import annotations

import requests

from jirabucket.testing import BitbucketCloudSimulator, Faults, JiraCloudSimulator


def _tiny_sync(jira: JiraCloudSimulator, bitbucket: BitbucketCloudSimulator) -> None:
    """A stand-in for a user's sync script: link PRs to the keys in their titles; retry 503s."""
    bb, jr = requests.Session(), requests.Session()
    bb.headers["Authorization"] = f"Bearer {bitbucket.token}"
    jr.auth = (jira.email, jira.token)
    prs = bb.get(f"{bitbucket.url}/2.0/repositories/acme/api/pullrequests", timeout=10).json()["values"]
    for pr in prs:
        key = pr["title"].split(":")[0]
        link = {"globalId": f"pr-{pr['id']}", "object": {"url": pr["links"]["html"]["href"], "title": pr["title"]}}
        for _ in range(50):
            answer = jr.post(f"{jira.url}/rest/api/3/issue/{key}/remotelink", json=link, timeout=10)
            if answer.status_code != 503:
                break


def test_x(jira_cloud: JiraCloudSimulator, bitbucket_cloud: BitbucketCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-12", summary="Login")
    bitbucket_cloud.add_repository("acme/api")
    bitbucket_cloud.add_pull_request("acme/api", title="ABC-12: fix login", source_branch="feature/ABC-12-login")
    jira_cloud.set_faults(Faults(error_rate=0.9))  # most calls answer 503
    _tiny_sync(jira_cloud, bitbucket_cloud)
    _tiny_sync(jira_cloud, bitbucket_cloud)  # a second run must not duplicate
    links = jira_cloud.issue("ABC-12").remote_links
    assert [link["object"]["url"] for link in links] == [bitbucket_cloud.pull_request("acme/api", 1).web_url]
    assert any(r.status == 503 for r in jira_cloud.requests)


def test_fixtures_are_independent_and_running(jira_datacenter: object, bitbucket_datacenter: object) -> None:
    from jirabucket.testing import BitbucketDataCenterSimulator, JiraDataCenterSimulator

    assert isinstance(jira_datacenter, JiraDataCenterSimulator)
    assert isinstance(bitbucket_datacenter, BitbucketDataCenterSimulator)
    assert jira_datacenter.url != bitbucket_datacenter.url
    assert jira_datacenter.issue_keys() == []


def test_the_plugin_is_declared_for_pytest_to_load_and_imports_no_simulator() -> None:
    # This suite names its plugins (pyproject addopts); a user's pytest finds this one by its entry point.
    import subprocess
    import sys
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert declared.get("jirabucket") == "jirabucket.testing.pytest_plugin"
    probe = (
        "import sys, jirabucket.testing.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('jirabucket.testing.') and 'plugin' not in m))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"  # loading the plugin (every session) imports no simulator
