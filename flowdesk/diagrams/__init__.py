"""BPMN diagrams as SVG, drawn from a file's BPMN DI the way Camunda Modeler draws them.

`render_svg(xml)` draws a process definition; with a `DiagramState` it also marks what an
instance did and does: completed elements and taken flows in blue, elements where tokens wait
in green with a count badge at the bottom left, incidents in red with a count badge at the
bottom right, as Camunda Cockpit marks them. `Engine.diagram` builds that state from an
instance's history, tasks, waits, jobs and incidents. The module needs lxml only, no
SpiffWorkflow, so a web page or a report can draw any BPMN file.

Every shape and edge is a `<g>` with `data-element-id` (the BPMN id), `data-kind` (task,
call-activity, subprocess, event, gateway, participant, lane, data-object, data-store,
text-annotation, group, sequence-flow, message-flow, association, data-association) and
`data-type` (the BPMN tag, such as `userTask`); highlighted ones carry `data-state`
(completed, waiting, incident, or taken for a flow) and the counts (`data-completed`,
`data-waiting`, `data-incidents`). A file without a diagram raises `DiagramError`: flowdesk
does not lay out processes itself. See docs/diagrams.md.
"""

from __future__ import annotations

from flowdesk.diagrams._model import read_diagram
from flowdesk.diagrams._render import DiagramState, render

__all__ = ["DiagramState", "render_svg"]


def render_svg(
    xml: str | bytes,
    *,
    process_key: str | None = None,
    state: DiagramState | None = None,
    title: str | None = None,
) -> str:
    """The SVG document (text) of a BPMN file's diagram.

    Args:
        xml: The BPMN file's content.
        process_key: The process to draw: the plane of its collaboration or of itself. The
            file's first diagram when None.
        state: What to highlight for an instance; nothing when None.
        title: The SVG's `<title>`; the process's name (or key) when None.

    Raises:
        DiagramError: The file is no BPMN XML or has no diagram (BPMN DI) for the process.
    """
    diagram = read_diagram(xml, process_key=process_key)
    if title is None:
        process = diagram.elements.get(process_key or "")
        title = (process.get("name") if process is not None else None) or process_key or "BPMN"
    return render(diagram, title=title, state=state)
