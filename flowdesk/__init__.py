"""flowdesk: run Camunda Modeler BPMN 2.0 processes in Python, persisted in SQLite or PostgreSQL."""
