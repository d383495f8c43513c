"""Documents of the shipped processes: Jinja2 templates rendered from process variables.

A service task renders one with `camunda:delegateExpression="${renderDocument}"` and these
extension properties (`camunda:properties`):

- `template`: a file in `flowdesk/processes/templates/`; `.md.j2` gives Markdown,
  `.html.j2` HTML (autoescaped).
- `document`: the document's name, itself a template (e.g. `Quotation {{ quotation_no }}`).

The document is stored with the instance (`Engine.documents`) and its name is kept in the
variable `documents` (a list), so later steps and templates can refer to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.sandbox

from flowdesk.errors import HandlerError
from flowdesk.handlers import HandlerRegistry, ServiceCall

SERVICE_NAME = "renderDocument"
"""The service name `render_document` is registered under (`${renderDocument}`)."""

_MEDIA_TYPES = {".md.j2": "text/markdown", ".html.j2": "text/html"}

_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    loader=jinja2.PackageLoader("flowdesk.processes", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Render `template` (a file name under `templates/`) with `variables`.

    Raises:
        jinja2.TemplateError: The template is missing, malformed, or uses an unset variable.
    """
    return _ENVIRONMENT.get_template(template).render(**variables)


def media_type_of(template: str) -> str:
    """The media type a template file's name announces."""
    for suffix, media_type in _MEDIA_TYPES.items():
        if template.endswith(suffix):
            return media_type
    raise ValueError(f"{template!r} is neither a .md.j2 nor a .html.j2 template")


def render_document(call: ServiceCall) -> dict[str, Any]:
    """The `renderDocument` service: render the task's template and attach the result.

    Raises:
        HandlerError: The task names no template, or it cannot be rendered; the instance
            gets an incident, retried once the cause is fixed.
    """
    template = call.properties.get("template")
    if not template:
        raise HandlerError(call.element_id, "renderDocument needs a 'template' property")
    try:
        media_type = media_type_of(template)
        content = render(template, call.variables)
        name = _ENVIRONMENT.from_string(call.properties.get("document", template)).render(
            **call.variables
        )
    except (jinja2.TemplateError, ValueError) as err:
        raise HandlerError(call.element_id, f"document {template!r}: {err}") from err
    call.attach(name, content, media_type)
    return {"documents": [*call.variables.get("documents", []), name]}


def register(registry: HandlerRegistry) -> None:
    """Register the `renderDocument` service."""
    registry.register_service(SERVICE_NAME, render_document)
