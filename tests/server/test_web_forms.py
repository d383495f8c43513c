"""How the web pages' generated form shows values and reads what was posted
(`flowdesk.server.web_forms`); the engine's validation itself is tested through the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flowdesk import FormField
from flowdesk.server.web_forms import field_views, initial_values, submitted

FIELDS = (
    FormField(id="name", label="Name", type="string", required=True,
              constraints=(("required", None), ("minlength", "2"), ("maxlength", "9"))),
    FormField(id="count", label="Count", type="long", constraints=(("min", "1"),)),
    FormField(id="urgent", label="Urgent", type="boolean", default="true"),
    FormField(id="due", label="Due", type="date"),
    FormField(id="kind", label="Kind", type="enum", enum_values=("a", "b"),
              enum_labels=("Kind A", "Kind B"), default="${defaultKind}"),
    FormField(id="ref", label="Ref", type="string", readonly=True,
              constraints=(("readonly", None),)),
    FormField(id="colour", label="Colour", type="color"),
)  # fmt: skip


def test_a_fresh_form_shows_the_variables_else_the_defaults_but_no_expression() -> None:
    shown = initial_values(FIELDS, {"count": 3, "ref": "R-1"})
    assert shown == {"count": 3, "urgent": "true", "ref": "R-1"}


def test_each_type_gets_its_input_and_its_value_as_text() -> None:
    values = {"count": 12, "urgent": True, "due": "2026-03-05T10:00:00", "kind": "b"}
    views = {v.id: v for v in field_views(FIELDS, values, {"name": "is required"})}
    assert {k: (v.input, v.value) for k, v in views.items()} == {
        "name": ("text", ""),
        "count": ("whole-number", "12"),
        "urgent": ("checkbox", "true"),
        "due": ("date", "2026-03-05"),  # a stored date-time: the date input shows its day
        "kind": ("select", "b"),
        "ref": ("text", ""),
        "colour": ("text", ""),  # a custom type: text
    }
    assert views["name"].error == "is required" and views["count"].error is None
    assert views["name"].hints == ("at least 2 characters", "at most 9 characters")
    assert views["count"].hints == ("at least 1",)
    assert views["kind"].options == (("a", "Kind A"), ("b", "Kind B"))
    assert views["ref"].readonly and not views["name"].readonly


def test_dates_and_booleans_from_python_are_shown_as_the_inputs_take_them() -> None:
    views = field_views(
        FIELDS,
        {"due": datetime(2026, 3, 5, 9, tzinfo=UTC), "urgent": False, "name": date(2026, 1, 2)},
    )
    shown = {v.id: v.value for v in views}
    assert (shown["due"], shown["urgent"], shown["name"]) == ("2026-03-05", "false", "2026-01-02")


def test_what_was_posted_becomes_the_data_empty_inputs_null_readonly_left_out() -> None:
    data, entered = submitted(
        FIELDS,
        {"name": ["Al"], "count": [""], "urgent": ["false"], "kind": ["a"], "ref": ["forged"],
         "due": ["2026-03-05"]},
    )  # fmt: skip
    assert data == {"name": "Al", "count": None, "urgent": "false", "due": "2026-03-05",
                    "kind": "a", "colour": None}  # fmt: skip
    assert entered["count"] == "" and "ref" not in entered
    data, _ = submitted(FIELDS, {"urgent": ["false", "true"]})  # the box ticked
    assert data["urgent"] == "true"
