"""Every bundled diagram opens in the vendored bpmn-js as drawn: no import warnings, every element shown."""
import json

import pytest
from lxml import etree

from config import BASE_DIR

VENDOR = BASE_DIR / "app" / "static" / "vendor" / "bpmn-js"
DIAGRAMS = sorted((BASE_DIR / "processes").glob("*.bpmn"))
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _element_ids(path):
    """The flow elements and lanes of the process (what bpmn-js must draw)."""
    process = etree.parse(str(path)).getroot().find(f"{BPMN}process")
    return sorted(e.get("id") for e in process.iter(f"{BPMN}*")
                  if etree.QName(e).localname in FLOW_ELEMENTS)


FLOW_ELEMENTS = {"lane", "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
                 "userTask", "serviceTask", "scriptTask", "receiveTask", "sendTask", "manualTask", "callActivity",
                 "businessRuleTask", "subProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
                 "eventBasedGateway", "sequenceFlow"}


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_diagram_imports_without_warnings_and_shows_every_element(browser, tmp_path, path):
    page_file = tmp_path / "view.html"
    page_file.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<link rel="stylesheet" href="{(VENDOR / "assets" / "bpmn-js.css").as_uri()}">'
        f'<script src="{(VENDOR / "bpmn-viewer.production.min.js").as_uri()}"></script></head>'
        '<body><div id="canvas" style="width:2300px;height:1300px"></div></body></html>', encoding="utf-8")
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_file.as_uri())
    result = page.evaluate("""async (xml) => {
        const viewer = new BpmnJS({container: '#canvas'});
        try {
            const {warnings} = await viewer.importXML(xml);
            viewer.get('canvas').zoom('fit-viewport');
            const shown = viewer.get('elementRegistry').getAll().map(e => e.businessObject && e.businessObject.id);
            return {warnings: warnings.map(w => w.message), shown};
        } catch (err) {
            return {error: String(err)};
        }
    }""", path.read_text(encoding="utf-8"))
    page.close()
    assert "error" not in result, result
    assert result["warnings"] == [] and errors == []
    missing = set(_element_ids(path)) - set(result["shown"])
    assert not missing, f"not drawn: {sorted(missing)}"
