"""The release service: fixVersion and release notes from the commits between two refs.

For scripts::

    from jirabucket.config import load_settings
    from jirabucket.release import release

    report = release(load_settings(), repo="acme/api", from_ref="v2.3.0", to_ref="v2.4.0",
                     version="2.4.0", released=True)   # tokens from JIRA_TOKEN / BITBUCKET_TOKEN
    print(report.notes)                                 # Markdown, grouped by issue type
    print(report.updated_issues, report.skipped_keys, report.failed)
"""

from jirabucket.release.notes import render_notes
from jirabucket.release.plan import PlannedWrite, ReleasePlan, VersionStep, find_version, plan_release, version_step
from jirabucket.release.report import ReleaseReport, VersionOutcome
from jirabucket.release.service import release

__all__ = [
    "PlannedWrite",
    "ReleasePlan",
    "ReleaseReport",
    "VersionOutcome",
    "VersionStep",
    "find_version",
    "plan_release",
    "release",
    "render_notes",
    "version_step",
]
