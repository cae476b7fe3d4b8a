/* The case page: the process diagram with where the case stands, and print buttons.
 *
 *   <div id="case-diagram" data-url="/cases/<no>/diagram.json"></div>
 *   <p id="diagram-status" role="status"></p>
 * The JSON is {"xml", "done": [ids], "active": [ids], "overdue": [ids]}; each id gets the marker of
 * its list (styled in app.css under .diagram). Needs the vendored bpmn-viewer (global BpmnJS).
 */
(function () {
  "use strict";

  function say(text, isError) {
    var box = document.getElementById("diagram-status");
    if (!box) { return; }
    box.textContent = text;
    box.className = isError ? "error" : "hint";
  }

  function mark(viewer, data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    ["done", "active", "overdue"].forEach(function (marker) {
      (data[marker] || []).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, marker); }
      });
    });
  }

  function summary(data) {
    var parts = ["已办 " + (data.done || []).length + " 个环节", "在办 " + (data.active || []).length + " 个"];
    if ((data.overdue || []).length) { parts.push("其中超期 " + data.overdue.length + " 个"); }
    return "流程图已加载：" + parts.join("，");
  }

  async function showDiagram(container) {
    if (typeof window.BpmnJS !== "function") {
      say("流程图组件未能加载，请刷新页面重试", true);
      return;
    }
    var resp;
    try {
      resp = await fetch(container.getAttribute("data-url"), {credentials: "same-origin",
                                                             headers: {"Accept": "application/json"}});
    } catch (err) {
      say("网络错误，流程图未能加载", true);
      return;
    }
    var data = await resp.json().catch(function () { return null; });
    if (!resp.ok || !data || !data.xml) {
      say((data && data.message) || "流程图未能加载", true);
      return;
    }
    var viewer = new window.BpmnJS({container: container});
    try {
      await viewer.importXML(data.xml);
    } catch (err) {
      say("流程图无法显示：" + (err && err.message ? err.message : "格式错误"), true);
      return;
    }
    viewer.get("canvas").zoom("fit-viewport", "auto");
    mark(viewer, data);
    say(summary(data), false);
  }

  var container = document.getElementById("case-diagram");
  if (container) { showDiagram(container); }

  document.querySelectorAll(".js-print").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
