/* The modeler page: the vendored bpmn-js modeler (global BpmnJS), the properties panel
 * (modeler_panel.js), saving the draft with its problems shown on the elements, deploying it.
 *
 *   <div id="modeler-canvas" data-draft-url data-save-url data-deploy-url data-discard-url
 *        data-form-url data-departments="[…]" data-forms="[…]"></div>
 * The draft JSON is {"bpmn_xml", "revision", "bpmn_problems": [{"element_id", "message"}], …}.
 */
(function () {
  "use strict";

  var canvasBox = document.getElementById("modeler-canvas");
  if (!canvasBox) { return; }
  var statusBox = document.getElementById("modeler-status");
  var problemList = document.getElementById("modeler-problems");
  var state = {revision: null, dirty: false, busy: false};
  var modeler;

  function say(text, kind) {
    statusBox.textContent = text;
    statusBox.className = kind || "hint";
  }

  var send = BinglianRequest.send;

  function clearProblems() {
    var overlays = modeler.get("overlays");
    var canvas = modeler.get("canvas");
    overlays.remove({type: "problem"});
    modeler.get("elementRegistry").forEach(function (element) { canvas.removeMarker(element, "has-problem"); });
    problemList.textContent = "";
  }

  function focusElement(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) { return; }
    modeler.get("canvas").scrollToElement(element);
    modeler.get("selection").select(element);
  }

  function showProblems(problems) {
    clearProblems();
    var registry = modeler.get("elementRegistry");
    var byElement = {};
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var id = problem.element_id || "";
      var element = id ? registry.get(id) : null;
      var name = element && element.businessObject.name ? element.businessObject.name + "（" + id + "）" : id;
      item.textContent = (name ? name + "：" : "") + problem.message;
      item.setAttribute("data-element-id", id);
      if (element) {
        item.className = "clickable";
        item.tabIndex = 0;
        item.addEventListener("click", function () { focusElement(id); });
        item.addEventListener("keydown", function (e) { if (e.key === "Enter") { focusElement(id); } });
        (byElement[id] = byElement[id] || []).push(problem.message);
      }
      problemList.appendChild(item);
    });
    Object.keys(byElement).forEach(function (id) {
      modeler.get("canvas").addMarker(id, "has-problem");
      var badge = document.createElement("div");
      badge.className = "problem-badge";
      badge.setAttribute("data-element-id", id);
      badge.title = byElement[id].join("\n");
      badge.textContent = "!" + (byElement[id].length > 1 ? byElement[id].length : "");
      modeler.get("overlays").add(id, "problem", {position: {top: -10, right: 10}, html: badge});
    });
    document.getElementById("problem-count").textContent = String(problems.length);
  }

  function showDraft(draft) {
    state.revision = draft.revision;
    var box = document.getElementById("draft-state");
    if (draft.saved) {
      box.textContent = "草稿第 " + draft.revision + " 次保存 · " + (draft.updated_by || "") +
        (draft.base_version ? " · 基于第 " + draft.base_version + " 版" : "");
      document.getElementById("modeler-discard").hidden = false;
    }
    showProblems(draft.bpmn_problems || []);
  }

  async function save() {
    var result = await modeler.saveXML({format: true});
    var reply = await send("PUT", canvasBox.getAttribute("data-save-url"), {xml: result.xml, revision: state.revision});
    if (!reply.ok) {
      say(reply.body.message || "保存失败", "error");
      return null;
    }
    state.dirty = false;
    showDraft(reply.body);
    var count = (reply.body.bpmn_problems || []).length;
    say(count ? "已保存草稿，有 " + count + " 个问题需要修正后才能部署" : "已保存草稿，校验通过，可以部署",
        count ? "error" : "success");
    return reply.body;
  }

  async function guarded(fn) {
    if (state.busy) { return; }
    state.busy = true;
    try { await fn(); } catch (err) {
      say("操作失败：" + (err && err.message ? err.message : "网络错误"), "error");
    } finally { state.busy = false; }
  }

  async function deploy() {
    var draft = await save();
    if (!draft) { return; }
    if ((draft.bpmn_problems || []).length) { return; }
    if (!window.confirm("确定将草稿部署为新版本？新办件将使用新版本，在办件仍按原版本办理。")) { return; }
    var reply = await send("POST", canvasBox.getAttribute("data-deploy-url"), {revision: state.revision});
    if (!reply.ok) {
      var problems = (reply.body.errors && reply.body.errors.bpmn) || [];
      var catalogProblems = (reply.body.errors && reply.body.errors.catalog) || [];
      if (problems.length) { showProblems(problems); }
      say((reply.body.message || "部署失败") + (catalogProblems.length ? "（事项目录：" + catalogProblems.join("；") + "）" : ""),
          "error");
      return;
    }
    state.dirty = false;
    say(reply.body.message, "success");
    window.location.assign(reply.body.redirect);
  }

  async function discard() {
    if (!window.confirm("放弃草稿？未部署的修改将丢失。")) { return; }
    var reply = await send("POST", canvasBox.getAttribute("data-discard-url"), {});
    if (reply.ok) { window.location.assign(reply.body.redirect); } else { say(reply.body.message, "error"); }
  }

  async function start() {
    if (typeof window.BpmnJS !== "function") {
      say("建模器组件未能加载，请刷新页面重试", "error");
      return;
    }
    var i18n = window.BinglianModelerI18n;
    modeler = new window.BpmnJS({container: canvasBox, additionalModules: i18n ? [i18n.module] : []});
    window.BinglianPanel.attach(modeler, document.getElementById("modeler-properties"), {
      departments: JSON.parse(canvasBox.getAttribute("data-departments") || "[]"),
      forms: JSON.parse(canvasBox.getAttribute("data-forms") || "[]"),
      formUrl: canvasBox.getAttribute("data-form-url")
    });
    var reply = await send("GET", canvasBox.getAttribute("data-draft-url"));
    if (!reply.ok) { say(reply.body.message || "草稿未能加载", "error"); return; }
    var imported = await modeler.importXML(reply.body.bpmn_xml);
    modeler.get("canvas").zoom("fit-viewport", "auto");
    showDraft(reply.body);
    var warnings = (imported.warnings || []).length;
    say("流程图已加载" + (warnings ? "（导入时有 " + warnings + " 个警告）" : "") + "。选择元素可在右侧编辑属性。", "hint");
    canvasBox.setAttribute("data-ready", "true");
    modeler.on("commandStack.changed", function () { state.dirty = true; });
    window.BinglianModeler = modeler;
  }

  document.getElementById("modeler-save").addEventListener("click", function () { guarded(save); });
  document.getElementById("modeler-deploy").addEventListener("click", function () { guarded(deploy); });
  document.getElementById("modeler-discard").addEventListener("click", function () { guarded(discard); });
  window.addEventListener("beforeunload", function (e) {
    if (state.dirty) { e.preventDefault(); e.returnValue = ""; }
  });
  start().catch(function (err) { say("流程图无法显示：" + (err && err.message ? err.message : "格式错误"), "error"); });
})();
