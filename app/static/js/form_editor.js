/* The form editor page: the vendored form-js editor (global FormEditor), saving into the draft.
 *
 *   <div id="form-editor" data-schema="{…}" data-revision="n" data-save-url="/processes/<key>/draft/forms/<id>"></div>
 *   <div id="form-result"></div>   problems or "saved", in Chinese
 * The server answers the draft JSON, or {"message", "errors": [...]} when the schema is refused.
 */
(function () {
  "use strict";

  var box = document.getElementById("form-editor");
  if (!box) { return; }
  var result = document.getElementById("form-result");
  var revision = parseInt(box.getAttribute("data-revision"), 10) || 0;
  var editor = null;
  var busy = false;

  function report(message, problems, ok) {
    result.textContent = "";
    var title = document.createElement("p");
    title.className = ok ? "flash success" : "error";
    title.textContent = message;
    result.appendChild(title);
    var list = Array.isArray(problems) ? problems : (problems && typeof problems === "object" ? Object.values(problems) : []);
    if (list.length) {
      var ul = document.createElement("ul");
      ul.className = "errors";
      list.forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = Array.isArray(p) ? p.join("；") : String(p);
        ul.appendChild(li);
      });
      result.appendChild(ul);
    }
  }

  async function save() {
    if (busy || !editor) { return; }
    busy = true;
    try {
      var reply = await BinglianRequest.send("PUT", box.getAttribute("data-save-url"),
                                             {schema: editor.saveSchema(), revision: revision || null});
      var body = reply.body;
      if (!reply.ok) { report(body.message || "保存失败", body.errors, false); return; }
      revision = body.revision;
      document.getElementById("draft-state").textContent = "草稿第 " + revision + " 次保存 · " + (body.updated_by || "");
      var open = (body.bpmn_problems || []).length;
      report("表单已保存到草稿（第 " + revision + " 次保存）" + (open ? "；流程图还有 " + open + " 个问题" : ""), [], true);
    } catch (err) {
      report("网络错误，请检查连接后重试", [], false);
    } finally { busy = false; }
  }

  async function start() {
    if (!window.FormEditor || typeof window.FormEditor.createFormEditor !== "function") {
      report("表单编辑器组件未能加载，请刷新页面重试", [], false);
      return;
    }
    var schema = JSON.parse(box.getAttribute("data-schema"));
    editor = await window.FormEditor.createFormEditor({container: box, schema: schema});
    box.setAttribute("data-ready", "true");
  }

  document.getElementById("form-save").addEventListener("click", save);
  start().catch(function (err) { report("表单无法打开：" + (err && err.message ? err.message : "格式错误"), [], false); });
})();
