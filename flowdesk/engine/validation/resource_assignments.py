"""Who may work on a user task: BPMN's own resource assignments, read as Camunda 7 reads them.

Besides `camunda:assignee`, `candidateUsers` and `candidateGroups`, Camunda 7's `BpmnParse`
reads two standard BPMN elements of a user task (`parseHumanPerformer`,
`parsePotentialOwner`):

- `humanPerformer` (at most one): its `resourceAssignmentExpression/formalExpression` is the
  assignee. Together with `camunda:assignee` it is refused ("duplicate assignee declaration").
- `potentialOwner` (any number): each formal expression is a comma-separated list whose items
  `user(kermit)` are candidate users, and whose items `group(sales)` or bare `sales` are
  candidate groups. They come before the `camunda:` candidates.

Every item may be an expression (`user(${starter})`). Camunda splits such lists on commas
outside `${...}` and evaluates each item alone (`parseCommaSeparatedList`); an item whose
value is a collection adds all its members, and a text value is split on commas again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS

USER_PREFIX = "user("
GROUP_PREFIX = "group("


@dataclass(frozen=True)
class ResourceAssignments:
    """The assignee and candidates a user task's BPMN resource elements give."""

    performers: tuple[str, ...] = ()  # every humanPerformer's expression; Camunda allows one
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def assignee(self) -> str | None:
        return self.performers[0] if self.performers else None

    def as_extension(self) -> dict[str, Any]:
        """The plain dict a task spec's extensions carry (it must serialize as JSON)."""
        return {"users": list(self.users), "groups": list(self.groups)}


def split_list(text: str | None) -> list[str]:
    """Camunda's `parseCommaSeparatedList`: commas inside `${...}` or `#{...}` do not split."""
    items: list[str] = []
    if not text:
        return items
    current: list[str] = []
    inside = False
    for char in text:
        if char in "{$":
            inside = True
        elif char == "}":
            inside = False
        elif char == "," and not inside:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if current:
        items.append("".join(current).strip())
    return items


def read(task: Any) -> ResourceAssignments:
    """The resource assignments of a `bpmn:userTask` element (lxml)."""
    performers = tuple(
        text for text in _formal_expressions(task, "humanPerformer") if text is not None
    )
    users: list[str] = []
    groups: list[str] = []
    for text in _formal_expressions(task, "potentialOwner"):
        for item in split_list(text):
            if item.startswith(USER_PREFIX):
                users.append(_inside(item, USER_PREFIX))
            elif item.startswith(GROUP_PREFIX):
                groups.append(_inside(item, GROUP_PREFIX))
            elif item:
                groups.append(item)
    return ResourceAssignments(performers=performers, users=tuple(users), groups=tuple(groups))


def _formal_expressions(task: Any, role: str) -> Iterable[str | None]:
    for element in task.findall(f"{{{BPMN_NS}}}{role}"):
        assignment = element.find(f"{{{BPMN_NS}}}resourceAssignmentExpression")
        expression = (
            None if assignment is None else assignment.find(f"{{{BPMN_NS}}}formalExpression")
        )
        yield None if expression is None else (expression.text or "").strip()


def _inside(item: str, prefix: str) -> str:
    # Camunda's getAssignmentId: what is between the prefix and the last character.
    return item[len(prefix) : len(item) - 1].strip()
