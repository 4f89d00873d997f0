"""``PUT issue/{key}``: the edits the simulators accept, checked as Jira checks them.

Editable: ``fixVersions`` (``fields`` sets the list; ``update`` takes ``add``,
``remove`` and ``set`` operations, each naming versions by ``name`` or ``id``)
and ``summary`` (``fields`` or an ``update`` ``set``). Any other field answers
400 "cannot be set", as a field missing from the edit screen does. The request
is checked whole before anything changes. Jira's messages are used where known
("Version name 'X' is not valid"); the message for an unknown version *id* is a
guess in the same style.
"""

from __future__ import annotations

from typing import Any

from jirabucket.testing.http.messages import BadRequest
from jirabucket.testing.jira.state import JiraState, StoredIssue

__all__ = ["apply_edit"]

_EDITABLE = frozenset({"fixVersions", "summary"})
_VERSION_OPS = ("add", "remove", "set")


def apply_edit(state: JiraState, issue: StoredIssue, body: dict[str, Any]) -> bool:
    """Apply an issue edit request.

    Args:
        state: The Jira state (for the project's versions and the clock).
        issue: The issue to edit.
        body: The request body (``fields`` and/or ``update``).

    Returns:
        Whether anything changed.

    Raises:
        BadRequest: 400 with Jira's body for unknown fields, unsupported
            operations, unknown versions or a malformed body; nothing changes.
    """
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise BadRequest("Can not deserialize the request: 'fields' and 'update' must be objects.")
    unknown = sorted((set(fields) | set(update)) - _EDITABLE)
    if unknown:
        raise BadRequest(
            "Invalid edit.",
            field_errors={
                name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                for name in unknown
            },
        )
    both = sorted(set(fields) & set(update))
    if both:
        raise BadRequest(f"Field '{both[0]}' cannot be set in both 'fields' and 'update'.")
    summary = _new_summary(fields, update, issue.summary)
    versions = _new_fix_versions(state, issue, fields, update)
    changed = summary != issue.summary or versions != issue.fix_versions
    if changed:
        issue.summary, issue.fix_versions = summary, versions
        issue.updated = state.now()
    return changed


def _new_summary(fields: dict[str, Any], update: dict[str, Any], current: str) -> str:
    if "summary" in fields:
        value = fields["summary"]
    elif "summary" in update:
        ops = update["summary"]
        if not isinstance(ops, list) or not all(isinstance(op, dict) and set(op) == {"set"} for op in ops):
            raise BadRequest(
                "Field with id' summary' and name 'Summary' does not support operation "
                f"'{_first_op(ops)}' Supported operation(s) are: 'set'"
            )
        value = ops[-1]["set"] if ops else current
    else:
        return current
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("Invalid edit.", field_errors={"summary": "You must specify a summary of the issue."})
    return value


def _new_fix_versions(
    state: JiraState, issue: StoredIssue, fields: dict[str, Any], update: dict[str, Any]
) -> list[str]:
    result = list(issue.fix_versions)
    if "fixVersions" in fields:
        refs = fields["fixVersions"]
        if not isinstance(refs, list):
            raise BadRequest("Invalid edit.", field_errors={"fixVersions": "data was not an array"})
        return _unique([_version_id(state, issue.project, ref) for ref in refs])
    ops = update.get("fixVersions", [])
    if not isinstance(ops, list):
        raise BadRequest("Invalid edit.", field_errors={"fixVersions": "data was not an array"})
    for op in ops:
        if not isinstance(op, dict) or len(op) != 1:
            # Guessed wording; Jira answers 400 for an operation object without exactly one verb.
            raise BadRequest(
                "Invalid edit.", field_errors={"fixVersions": "Each operation needs one of add, remove, set."}
            )
        name, value = next(iter(op.items()))
        if name not in _VERSION_OPS:
            raise BadRequest(
                "Field with id' fixVersions' and name 'Fix Version/s' does not support operation "
                f"'{name}' Supported operation(s) are: 'set,add,remove'"
            )
        if name == "set":
            if not isinstance(value, list):
                raise BadRequest("Invalid edit.", field_errors={"fixVersions": "data was not an array"})
            result = _unique([_version_id(state, issue.project, ref) for ref in value])
        elif name == "add":
            version_id = _version_id(state, issue.project, value)
            result = _unique([*result, version_id])
        else:
            version_id = _version_id(state, issue.project, value)
            result = [v for v in result if v != version_id]
    return result


def _version_id(state: JiraState, project: str, ref: Any) -> str:
    if isinstance(ref, dict) and "id" in ref:
        found = state.versions.get(str(ref["id"]))
        if found is None or found.project != project:
            raise BadRequest("Invalid edit.", field_errors={"fixVersions": f"Version id '{ref['id']}' is not valid"})
        return found.id
    name = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(name, str):
        raise BadRequest("Invalid edit.", field_errors={"fixVersions": "expected Object containing a 'name' or 'id'"})
    by_name = state.version_named(project, name)
    if by_name is None:
        raise BadRequest("Invalid edit.", field_errors={"fixVersions": f"Version name '{name}' is not valid"})
    return by_name.id


def _first_op(ops: Any) -> str:
    if isinstance(ops, list) and ops and isinstance(ops[0], dict) and ops[0]:
        return str(next(iter(ops[0])))
    return ""


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))
