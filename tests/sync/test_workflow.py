"""The choice of the next transition towards a target: a pure function of what Jira offers."""

from __future__ import annotations

from jirabucket.models import Transition
from jirabucket.sync.workflow import next_step, target_category

START = Transition("11", "Start work", "In Progress", to_category="indeterminate")
REVIEW = Transition("21", "Submit", "In Review", to_category="indeterminate")
BACK = Transition("12", "Back to To Do", "To Do", to_category="new")
DONE = Transition("31", "Approve", "Done", to_category="done")
REOPEN = Transition("61", "Reopen", "To Do", to_category="new")


def test_a_direct_transition_wins_by_name_or_target() -> None:
    options = [START, DONE]
    assert next_step(options, "Done", current_category="new", goal_category="done", visited=set()) is DONE
    assert next_step(options, "approve", current_category="new", goal_category="done", visited=set()) is DONE


def test_forward_walk_takes_the_smallest_step_towards_done() -> None:
    assert next_step([START], "Done", current_category="new", goal_category="done", visited={"to do"}) is START
    step = next_step([BACK, REVIEW], "Done", current_category="indeterminate", goal_category="done",
                     visited={"to do", "in progress"})
    assert step is REVIEW


def test_backward_walk_never_jumps_past_the_target_category() -> None:
    # In Review -> To Do: through In Progress, never through Done.
    options = [Transition("41", "Request changes", "In Progress", to_category="indeterminate"), DONE]
    step = next_step(options, "To Do", current_category="indeterminate", goal_category="new", visited={"in review"})
    assert step is not None and step.to_status == "In Progress"


def test_no_step_back_to_a_visited_status_and_none_when_stuck() -> None:
    assert next_step([BACK], "Done", current_category="indeterminate", goal_category="done",
                     visited={"to do", "in progress"}) is None
    assert next_step([], "Done", current_category="new", goal_category="done", visited=set()) is None


def test_target_category_from_what_was_seen_else_from_the_pr_state() -> None:
    known = {"in review": "indeterminate", "closed": "done"}
    assert target_category("Closed", known=known, pr_state="OPEN") == "done"
    assert target_category("Shipped", known=known, pr_state="MERGED") == "done"
    assert target_category("Shipped", known=known, pr_state="DECLINED") == "new"
    assert target_category("Shipped", known=known, pr_state="OPEN") == "indeterminate"
