"""Jira workflows: statuses with their categories, transitions, transition screens and validators.

A simulator runs one :class:`Workflow` for all its issues (real Jira has one per
project and issue type; one is enough to meet every case a client must handle).
The default is the four-status workflow the simulators always had, where some
statuses skip a step; :meth:`Workflow.linear` builds one whose transitions only
join neighbours, so reaching ``Done`` from ``To Do`` takes several transitions.

Transition screens and validators follow what Atlassian documents and clients
meet (``expand=transitions.fields``; the ``400`` bodies in
:meth:`Workflow.check_transition`). Guessed where Atlassian is silent: the
message for an unknown resolution value and the ``schema`` of a non-resolution
screen field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from jirabucket.testing.http.messages import BadRequest

__all__ = [
    "RESOLUTION",
    "RESOLUTIONS",
    "ScreenField",
    "StatusCategory",
    "Workflow",
    "WorkflowTransition",
]

StatusCategory = Literal["new", "indeterminate", "done"]
"""A status category key, the portable way to tell "not started", "in progress" and "finished"."""

RESOLUTIONS: tuple[str, ...] = ("Done", "Won't Do", "Duplicate", "Cannot Reproduce")
"""The resolutions a new Jira Cloud site has; their ids are ``10000`` upwards in this order."""


@dataclass(frozen=True, slots=True)
class ScreenField:
    """A field on a transition's screen.

    Attributes:
        key: The field key a transition request sets, e.g. ``resolution``.
        name: The display name, used in Jira's messages ("Resolution is required.").
        required: Whether a transition without it is refused with 400.
        allowed_values: The names it accepts; empty for free text.
    """

    key: str
    name: str
    required: bool = True
    allowed_values: tuple[str, ...] = ()


RESOLUTION = ScreenField("resolution", "Resolution", required=True, allowed_values=RESOLUTIONS)
"""The resolution field as a "Done" screen usually carries it (required)."""


@dataclass(frozen=True, slots=True)
class WorkflowTransition:
    """A transition of the workflow.

    Attributes:
        id: The transition id clients POST.
        name: The transition's name (often not the target status's name).
        to: The target status.
        sources: The statuses it is available from; ``None`` makes it global
            (available from every status but its target).
        fields: Its screen's fields.
        validator: When set, a validator that refuses every attempt with this
            message (400 with ``errorMessages``).
    """

    id: str
    name: str
    to: str
    sources: tuple[str, ...] | None = None
    fields: tuple[ScreenField, ...] = ()
    validator: str | None = None

    def available_from(self, status: str) -> bool:
        """Return whether the transition is offered to an issue in ``status``."""
        return status != self.to if self.sources is None else status in self.sources


@dataclass(frozen=True, slots=True)
class Workflow:
    """Statuses (in order, each with its category) and the transitions between them.

    Attributes:
        statuses: ``(name, category)`` pairs; a status's id is ``10000`` plus its index.
        transitions: The transitions, in the order Jira lists them.

    Raises:
        ValueError: Duplicate status names or transition ids, an unknown
            category, or a transition naming an unknown status.
    """

    statuses: tuple[tuple[str, StatusCategory], ...]
    transitions: tuple[WorkflowTransition, ...]

    def __post_init__(self) -> None:
        names = [name for name, _ in self.statuses]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"status names must be unique and non-empty, got {names}")
        bad = [category for _, category in self.statuses if category not in get_args(StatusCategory)]
        if bad:
            raise ValueError(f"unknown status categories {bad}; use new, indeterminate or done")
        ids = [t.id for t in self.transitions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"transition ids must be unique, got {ids}")
        for transition in self.transitions:
            unknown = {transition.to, *(transition.sources or ())} - set(names)
            if unknown:
                raise ValueError(f"transition {transition.id!r} names unknown statuses {sorted(unknown)}")

    @classmethod
    def default(cls) -> Workflow:
        """Return the simulators' default: To Do, In Progress, In Review, Done, with shortcuts.

        From To Do an issue can go straight to In Review, from In Progress
        straight to Done; Done reopens to To Do. No screens, no validators.
        """
        return cls(
            statuses=(
                ("To Do", "new"),
                ("In Progress", "indeterminate"),
                ("In Review", "indeterminate"),
                ("Done", "done"),
            ),
            transitions=(
                WorkflowTransition("11", "Start work", "In Progress", ("To Do",)),
                WorkflowTransition("21", "Submit for review", "In Review", ("To Do", "In Progress")),
                WorkflowTransition("31", "Resolve", "Done", ("In Progress",)),
                WorkflowTransition("41", "Request changes", "In Progress", ("In Review",)),
                WorkflowTransition("51", "Approve", "Done", ("In Review",)),
                WorkflowTransition("61", "Reopen", "To Do", ("Done",)),
            ),
        )

    @classmethod
    def linear(
        cls,
        statuses: Sequence[tuple[str, StatusCategory]] = (
            ("To Do", "new"),
            ("In Progress", "indeterminate"),
            ("In Review", "indeterminate"),
            ("Done", "done"),
        ),
        *,
        screens: Mapping[str, Sequence[ScreenField]] | None = None,
    ) -> Workflow:
        """Return a workflow whose transitions only join neighbouring statuses.

        Forward transitions are named ``"Advance to <status>"`` with ids 11,
        21, 31...; backward ones ``"Back to <status>"`` with ids 12, 22, 32...

        Args:
            statuses: ``(name, category)`` pairs in workflow order.
            screens: Target status name -> the screen fields of every transition into it.

        Returns:
            The workflow.
        """
        screens = screens or {}
        transitions: list[WorkflowTransition] = []
        for index in range(len(statuses) - 1):
            here, there = statuses[index][0], statuses[index + 1][0]
            transitions.append(
                WorkflowTransition(
                    f"{index + 1}1", f"Advance to {there}", there, (here,), tuple(screens.get(there, ()))
                )
            )
            transitions.append(
                WorkflowTransition(f"{index + 1}2", f"Back to {here}", here, (there,), tuple(screens.get(here, ())))
            )
        return cls(tuple(statuses), tuple(transitions))

    def with_screen(self, to: str, *fields: ScreenField) -> Workflow:
        """Return a copy where every transition into ``to`` has these screen fields.

        Raises:
            ValueError: No status ``to``.
        """
        return self._map_into(to, lambda t: dataclasses.replace(t, fields=tuple(fields)))

    def with_validator(self, to: str, message: str) -> Workflow:
        """Return a copy where every transition into ``to`` is refused with ``message``.

        Raises:
            ValueError: No status ``to``.
        """
        return self._map_into(to, lambda t: dataclasses.replace(t, validator=message))

    def _map_into(self, to: str, change: Callable[[WorkflowTransition], WorkflowTransition]) -> Workflow:
        if to not in self.status_names():
            raise ValueError(f"unknown status {to!r}")
        return Workflow(self.statuses, tuple(change(t) if t.to == to else t for t in self.transitions))

    # -- questions -------------------------------------------------------------

    def status_names(self) -> tuple[str, ...]:
        """Return the status names in workflow order."""
        return tuple(name for name, _ in self.statuses)

    def category(self, status: str) -> StatusCategory:
        """Return a status's category key.

        Raises:
            KeyError: No such status.
        """
        return dict(self.statuses)[status]

    def status_id(self, status: str) -> str:
        """Return a status's id (``10000`` plus its index).

        Raises:
            ValueError: No such status.
        """
        return str(10000 + self.status_names().index(status))

    def available(self, status: str) -> tuple[WorkflowTransition, ...]:
        """Return the transitions offered to an issue in ``status``, in order."""
        return tuple(t for t in self.transitions if t.available_from(status))

    def check_transition(
        self, status: str, transition_id: str, values: Mapping[str, Any]
    ) -> tuple[WorkflowTransition, str | None]:
        """Check a transition request as Jira does; return the transition and the resolution it sets.

        Args:
            status: The issue's current status.
            transition_id: The requested transition id.
            values: The field values the request sets (``fields`` and ``update`` merged).

        Returns:
            The transition and the resolution name it sets (``None`` when it sets none).

        Raises:
            BadRequest: 400 with Jira's body: the transition is not available
                (``errorMessages``); a field is not on its screen, or a required
                field is missing or has a value the field does not allow
                (``errors`` keyed by field); its validator refuses (``errorMessages``).
        """
        transition = next((t for t in self.available(status) if t.id == transition_id), None)
        if transition is None:
            raise BadRequest(f"Transition id '{transition_id}' is not valid for this issue.")
        on_screen = {field.key: field for field in transition.fields}
        errors = {
            key: f"Field '{key}' cannot be set. It is not on the appropriate screen, or unknown."
            for key in values
            if key not in on_screen
        }
        chosen: dict[str, str] = {}
        for key, field in on_screen.items():
            if key not in values or values[key] in (None, "", {}):
                if field.required:
                    errors[key] = f"{field.name} is required."
                continue
            name = _value_name(values[key], field)
            if name is None:
                # Guessed wording: Jira's message for an unknown option is not documented.
                errors[key] = f"Could not find valid 'id' or 'name' in {field.name.lower()} object."
            else:
                chosen[key] = name
        if errors:
            raise BadRequest("Invalid transition fields.", field_errors=errors)
        if transition.validator is not None:
            raise BadRequest(transition.validator)
        return transition, chosen.get("resolution")


def _value_name(value: Any, field: ScreenField) -> str | None:
    """Return the option name a request gives for a field, or ``None`` when it names no allowed option."""
    if isinstance(value, dict):
        if "id" in value and field.allowed_values:
            index = int(str(value["id"])) - 10000 if str(value["id"]).isdigit() else -1
            return field.allowed_values[index] if 0 <= index < len(field.allowed_values) else None
        raw = value.get("name", value.get("value"))
    else:
        raw = value
    if not isinstance(raw, str) or not raw:
        return None
    if field.allowed_values and raw not in field.allowed_values:
        return None
    return raw
