"""Camunda form checks, field by field."""

from __future__ import annotations

from flowdesk._records import FormField
from flowdesk.engine.instances import forms


def test_validate__readonly_field_refuses_a_submitted_value() -> None:
    fields = [FormField(id="ref", label="Reference", type="string", readonly=True)]
    _, errors = forms.validate(fields, {"ref": "changed"})
    assert errors == {"ref": "is read-only"}


def test_validate__extra_variables_pass_through_unchanged() -> None:
    fields = [FormField(id="ok", label="OK", type="boolean", required=True)]
    converted, errors = forms.validate(fields, {"ok": "false", "note": {"x": 1}})
    assert (converted, errors) == ({"ok": False, "note": {"x": 1}}, {})


def test_validate__date_accepts_iso_text_and_camundas_day_month_year() -> None:
    fields = [FormField(id="on", label="On", type="date")]
    assert forms.validate(fields, {"on": "2026-03-02"}) == ({"on": "2026-03-02"}, {})
    assert forms.validate(fields, {"on": "02/03/2026"}) == ({"on": "2026-03-02"}, {})
    assert "on" in forms.validate(fields, {"on": "03/31/2026"})[1]
    assert "on" in forms.validate(fields, {"on": "next week"})[1]
