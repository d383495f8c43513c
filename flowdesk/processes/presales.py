"""The presales process: start helper, handlers and documents (being written)."""

from __future__ import annotations

from flowdesk.handlers import HandlerRegistry

KEY = "presales"


def register(registry: HandlerRegistry) -> None:
    """Register the handlers this process's service tasks and user tasks need."""
