"""Walking a Jira workflow towards a target status, one available transition at a time.

Jira tells a client only the transitions available from the issue's current
status (the workflow graph itself is for administrators), so the path to a
status that is not one step away cannot be computed up front. The walk is
greedy, and the choice at each step is a pure function (:func:`next_step`)
of what Jira said:

1. a transition named like the target, or leading to it, wins;
2. otherwise a transition to a status not yet visited whose category lies
   between the current one and the target's — ``new`` < ``indeterminate`` <
   ``done`` — preferring the smallest move, in Jira's order;
3. the target's category comes from what was seen (transitions and issues read
   this run); unknown, a merged PR walks forward, a declined one backward, an
   open one towards ``indeterminate``.

This is a heuristic, not a shortest path: for the common linear workflows
(To Do → In Progress → In Review → Done, and back) it finds the shortest
walk; in a workflow where it would have to go away from the target to reach
it, it stops and the sync warns (``[sync] max_transition_steps`` bounds it anyway).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from jirabucket.models import Transition

__all__ = ["CATEGORY_RANK", "next_step", "target_category"]

#: The order of Jira's status categories along a workflow.
CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}
_GUESS_BY_PR_STATE = {"MERGED": "done", "OPEN": "indeterminate", "DECLINED": "new"}


def target_category(target: str, *, known: Mapping[str, str], pr_state: str) -> str:
    """Return the category of the ``target`` status: as seen, else as the PR's state suggests.

    Args:
        target: The status (or transition) name to reach.
        known: Status names (case-folded) to categories, as seen so far.
        pr_state: The PR's state (``OPEN``, ``MERGED``, ``DECLINED``).
    """
    return known.get(target.casefold()) or _GUESS_BY_PR_STATE.get(pr_state, "indeterminate")


def next_step(
    options: Sequence[Transition],
    target: str,
    *,
    current_category: str,
    goal_category: str,
    visited: Collection[str],
) -> Transition | None:
    """Choose the next transition towards ``target``, or ``None`` when none brings it closer.

    Args:
        options: The transitions available now, in Jira's order.
        target: A transition name or a status name.
        current_category: The category of the issue's status now.
        goal_category: The target status's category (see :func:`target_category`).
        visited: Statuses (case-folded) the walk has been in; never gone back to.

    Returns:
        The transition to take.
    """
    direct = Transition.pick(options, target)
    if direct is not None:
        return direct
    here = CATEGORY_RANK.get(current_category, 1)
    goal = CATEGORY_RANK.get(goal_category, 1)
    low, high = min(here, goal), max(here, goal)
    candidates = [t for t in options if t.to_status.casefold() not in visited and low <= _rank(t) <= high]
    if not candidates:
        return None
    # The smallest move first: stepping past a status in between would skip the work it stands for.
    return min(candidates, key=lambda t: abs(_rank(t) - here))


def _rank(transition: Transition) -> int:
    """The rank of the category a transition leads to (unknown counts as work in progress)."""
    return CATEGORY_RANK.get(transition.to_category or "indeterminate", 1)
