"""flowdesk's diagrams against bpmn-js, the renderer of Camunda Modeler, on the same files.

bpmn-js (npm) draws each file in headless Chromium (Debian's package) and exports its SVG with
`saveSVG`; the test compares, element by element, what both drew: the same elements, each shape
at the same place with the same outline (rect, circle or diamond, its size, stroke width and
dashes), each connection along the same points, and each outside label centred on the same
point. Icons inside shapes are flowdesk's own drawings and are not compared.

`.ci/install-bpmn-js` installs both and prints the bundle path for `FLOWDESK_BPMN_JS`; without
them the test skips and says why.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import DATA, EXAMPLES
from lxml import etree

from flowdesk import DiagramError
from flowdesk.diagrams import render_svg
from flowdesk.diagrams._text import text_width

REPO = Path(__file__).parents[2]
FILES = [
    *sorted((REPO / "bpmn").glob("*.bpmn")),
    DATA / "diagram_states.bpmn",
    DATA / "diagram_shapes.bpmn",
    DATA / "reassign.bpmn",
    DATA / "task_queries.bpmn",
    EXAMPLES / "expense_approval.bpmn",
]
# With FLOWDESK_CORPUS, the corpus's BPMN files too (read there, never copied).
CORPUS = Path(os.environ["FLOWDESK_CORPUS"]) if os.environ.get("FLOWDESK_CORPUS") else None
if CORPUS is not None:
    FILES += sorted(CORPUS.rglob("*.bpmn"))
BUNDLE_ENV = "FLOWDESK_BPMN_JS"
DEFAULT_BUNDLE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "flowdesk/bpmn-js-18.31.1/node_modules/bpmn-js/dist/bpmn-viewer.production.min.js"
)
SVG = "{http://www.w3.org/2000/svg}"
OUTLINED = {"task", "call-activity", "subprocess", "event", "gateway", "participant", "lane"}
# Outside labels: flowdesk centres them on the DI label box with its own text widths (Arial's),
# bpmn-js on the same box with the browser's font; the top is the same.
LABEL_TOLERANCE = 3.0
METRICS = "__metrics__"
LATIN_SAMPLE = "Quotation To, AVa"  # kerned pairs too
WIDE_SAMPLE = "审"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="{bundle}"></script></head>
<body><div id="canvas" style="width:1600px;height:1000px"></div><pre id="out">pending</pre>
<script>
(async () => {{
  const files = {files};
  const METRICS = {metrics_key}, LATIN = {latin}, WIDE = {wide};
  const result = {{}};
  for (const [name, xml] of Object.entries(files)) {{
    const viewer = new BpmnJS({{ container: '#canvas' }});
    try {{
      await viewer.importXML(xml);
      result[name] = (await viewer.saveSVG()).svg;
    }} catch (err) {{
      result[name] = 'ERROR ' + err;
    }}
    viewer.destroy();
  }}
  // The browser's Arial (or its substitute) at 1000 px, to tell whether line breaks can match.
  const canvas = document.createElement('canvas').getContext('2d');
  canvas.font = '1000px Arial';
  result[METRICS] = JSON.stringify({{
    latin: canvas.measureText(LATIN).width, wide: canvas.measureText(WIDE).width
  }});
  const json = JSON.stringify(result);
  document.getElementById('out').textContent = btoa(unescape(encodeURIComponent(json)));
}})();
</script></body></html>"""


def _chromium() -> str | None:
    return (
        os.environ.get("FLOWDESK_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def _bundle() -> Path | None:
    configured = os.environ.get(BUNDLE_ENV)
    bundle = Path(configured) if configured else DEFAULT_BUNDLE
    return bundle if bundle.is_file() else None


@pytest.fixture(scope="module")
def bpmn_js_svgs() -> dict[str, str]:
    """Each file's SVG as bpmn-js exports it, by path."""
    chromium, bundle = _chromium(), _bundle()
    if chromium is None or bundle is None:
        pytest.skip(
            f"needs chromium and bpmn-js ({BUNDLE_ENV}, or the cache of .ci/install-bpmn-js; "
            "run `bash .ci/install-bpmn-js`)"
        )
    return render_with_bpmn_js(FILES, chromium=chromium, bundle=bundle)


def render_with_bpmn_js(paths: list[Path], *, chromium: str, bundle: Path) -> dict[str, str]:
    """bpmn-js's `saveSVG` of each file, by path, drawn in one headless Chromium run; a file
    bpmn-js cannot draw maps to "ERROR " and its message."""
    files = {str(path): path.read_text(encoding="utf-8") for path in paths}
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "render.html"
        # Embedded as JSON: "</" is escaped so no file can end the script element early.
        data = json.dumps(files).replace("</", "<\\/")
        page.write_text(
            PAGE.format(
                bundle=bundle.as_uri(),
                files=data,
                metrics_key=json.dumps(METRICS),
                latin=json.dumps(LATIN_SAMPLE),
                wide=json.dumps(WIDE_SAMPLE),
            ),
            encoding="utf-8",
        )
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--allow-file-access-from-files",
                f"--user-data-dir={folder}/profile",
                "--virtual-time-budget=30000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    match = re.search(r'<pre id="out">([A-Za-z0-9+/=]+)</pre>', result.stdout)
    assert match, f"bpmn-js rendered nothing: {result.stderr[-2000:]}"
    rendered: dict[str, str] = json.loads(base64.b64decode(match.group(1)).decode("utf-8"))
    return rendered


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"([-\d.]+)[, ]([-\d.]+)", text)]


def _style(element: etree._Element, name: str) -> str | None:
    found = re.search(rf"{name}:\s*([^;]+)", element.get("style", ""))
    return None if found is None else found.group(1).strip()


def _normal(value: str | None) -> str | None:
    return None if value in (None, "none", "0") else value.replace("px", "").replace(" ", "")


def _outline(
    kind: str, shape: etree._Element, stroke_width: str | None, dashes: str | None
) -> dict[str, object]:
    tag = etree.QName(shape).localname
    outline: dict[str, object] = {
        "tag": tag,
        "stroke": _normal(stroke_width),
        "dashes": _normal(dashes),
    }
    if tag == "rect":
        outline["size"] = (float(shape.get("width")), float(shape.get("height")))
    elif tag == "circle":
        outline["size"] = float(shape.get("r"))
    elif tag == "polygon":
        outline["size"] = sorted(_points(shape.get("points")))
    return outline


def _bpmn_js_elements(
    svg: str,
) -> tuple[dict[str, dict[str, object]], dict[str, tuple[float, float]]]:
    tree = etree.fromstring(svg.encode("utf-8"))
    elements: dict[str, dict[str, object]] = {}
    labels: dict[str, tuple[float, float]] = {}
    for group in tree.iter(f"{SVG}g"):
        element_id = group.get("data-element-id")
        classes = group.get("class", "").split()
        if not element_id or "djs-element" not in classes:
            continue
        hit = next(child for child in group if "djs-hit" in child.get("class", ""))
        if element_id.endswith("_label"):
            x, y = _points(group.get("transform").removeprefix("matrix(1 0 0 1 "))[0]
            labels[element_id.removesuffix("_label")] = (x + float(hit.get("width")) / 2, y)
            continue
        if "djs-connection" in classes:
            elements[element_id] = {"waypoints": _points(hit.get("d"))}
            continue
        x, y = _points(group.get("transform").removeprefix("matrix(1 0 0 1 "))[0]
        visual = group.find(f"{SVG}g")
        first = next(child for child in visual if isinstance(child.tag, str))
        elements[element_id] = {
            "at": (x, y),
            "outline": _outline(
                "", first, _style(first, "stroke-width"), _style(first, "stroke-dasharray")
            ),
        }
    return elements, labels


def _flowdesk_elements(
    svg: str,
) -> tuple[dict[str, dict[str, object]], dict[str, tuple[float, float]], dict[str, str]]:
    tree = etree.fromstring(svg.encode("utf-8"))
    elements: dict[str, dict[str, object]] = {}
    kinds: dict[str, str] = {}
    labels: dict[str, tuple[float, float]] = {}
    for group in tree.iter(f"{SVG}g"):
        element_id = group.get("data-element-id")
        label_for = group.get("data-label-for")
        if label_for:
            x, y = _points(group.get("transform"))[0]
            span = group.find(f".//{SVG}tspan")
            labels[label_for] = (x + float(span.get("x")), y)
            continue
        if not element_id:
            continue
        kinds[element_id] = group.get("data-kind")
        if group.get("data-waypoints") is not None:
            elements[element_id] = {"waypoints": _points(group.get("data-waypoints"))}
            continue
        first = next(child for child in group if etree.QName(child).localname != "title")
        elements[element_id] = {
            "at": _points(group.get("transform"))[0],
            "outline": _outline(
                group.get("data-kind"),
                first,
                first.get("stroke-width"),
                first.get("stroke-dasharray"),
            ),
        }
    return elements, labels, kinds


def _flat(points: object) -> list[float]:
    return [value for point in points for value in point]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_flowdesk_draws_what_bpmn_js_draws(path: Path, bpmn_js_svgs: dict[str, str]) -> None:
    reference = bpmn_js_svgs[str(path)]
    if reference == "ERROR Error: no diagram to display":
        with pytest.raises(DiagramError):  # a file without DI: neither draws it
            render_svg(path.read_bytes())
        return
    assert not reference.startswith("ERROR"), reference
    theirs, their_labels = _bpmn_js_elements(reference)
    ours, our_labels, kinds = _flowdesk_elements(render_svg(path.read_bytes()))

    assert set(ours) == set(theirs)
    for element_id, drawn in ours.items():
        expected = theirs[element_id]
        if "waypoints" in drawn:
            assert _flat(drawn["waypoints"]) == pytest.approx(
                _flat(expected["waypoints"]), abs=0.01
            ), element_id
            continue
        assert drawn["at"] == pytest.approx(expected["at"]), element_id
        if kinds[element_id] in OUTLINED:
            assert drawn["outline"] == expected["outline"], element_id
    assert set(our_labels) == set(their_labels)
    for element_id, (x, y) in our_labels.items():
        their_x, their_y = their_labels[element_id]
        assert abs(x - their_x) <= LABEL_TOLERANCE and abs(y - their_y) <= LABEL_TOLERANCE, (
            element_id,
            (x, y),
            (their_x, their_y),
        )


def _lines_of(svg: str, *, bpmn_js: bool) -> dict[str, list[str]]:
    """Each element's name as laid out in lines (outside labels as "ID_label")."""
    found: dict[str, list[str]] = {}
    for group in etree.fromstring(svg.encode("utf-8")).iter(f"{SVG}g"):
        if bpmn_js:
            element_id = group.get("data-element-id")
            if not element_id or "djs-shape" not in group.get("class", ""):
                continue
            holder = group.find(f"{SVG}g")
        else:
            label_for = group.get("data-label-for")
            element_id = f"{label_for}_label" if label_for else group.get("data-element-id")
            if not element_id or group.get("data-waypoints") is not None:
                continue
            holder = group
        lines = [(span.text or "").strip() for span in holder.iter(f"{SVG}tspan")]
        found[element_id] = [line for line in lines if line]  # bpmn-js writes empty lines too
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_names_break_into_the_lines_bpmn_js_breaks_them_into(
    path: Path, bpmn_js_svgs: dict[str, str]
) -> None:
    metrics = json.loads(bpmn_js_svgs[METRICS])
    if abs(metrics["latin"] - text_width(LATIN_SAMPLE, 1000)) > 1:
        pytest.skip("the browser's Arial has other widths (install fonts-liberation)")
    wide_font = abs(metrics["wide"] - 1000) <= 1  # else CJK names cannot be compared
    reference = bpmn_js_svgs[str(path)]
    if reference.startswith("ERROR"):
        pytest.skip(reference)
    theirs = _lines_of(reference, bpmn_js=True)
    ours = _lines_of(render_svg(path.read_bytes()), bpmn_js=False)

    compared = 0
    for element_id, lines in ours.items():
        if not wide_font and any(ord(char) > 0x2E80 for line in lines for char in line):
            continue
        assert lines == theirs.get(element_id, []), element_id
        compared += 1
    assert compared or not ours
