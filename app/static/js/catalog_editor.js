/* The catalog editor page: the matter catalog (事项目录) as tables, and its YAML text.
 *
 *   <form id="catalog-editor" data-catalog="{…}" data-revision="n" data-save-url="…"><div id="catalog-tables"></div></form>
 *   <form id="catalog-yaml-form" data-save-url="…"><textarea id="catalog-yaml-text"></textarea></form>
 *   <div id="catalog-result"></div>
 * The tables edit the time limits (the service's and each matter's) and each matter's materials
 * (name, required, 容缺 with its deadline, 告知承诺, file types); everything else in the catalog is
 * kept as it is. Saving sends {"catalog": {…}} (or {"yaml": "…"}); the server validates it with the
 * catalog service and answers the draft with its problems in Chinese.
 */
(function () {
  "use strict";

  var UNITS = [["", "未设置"], ["workday", "工作日"], ["workhour", "工作小时"], ["day", "自然日"]];
  var LIMITS = [["promised", "承诺时限"], ["statutory", "法定时限"], ["extension_cap", "延期上限"]];
  var form = document.getElementById("catalog-editor");
  var yamlForm = document.getElementById("catalog-yaml-form");
  var result = document.getElementById("catalog-result");
  var revision = parseInt((form || yamlForm).getAttribute("data-revision"), 10) || 0;
  var catalog = form ? JSON.parse(form.getAttribute("data-catalog")) : null;
  var seq = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function cell(row, child) {
    var td = el("td");
    if (typeof child === "string") { td.textContent = child; } else { td.appendChild(child); }
    row.appendChild(td);
    return td;
  }

  function input(type, value, onChange, attrs) {
    var node = el("input", Object.assign({type: type, id: "cat-" + (++seq)}, attrs || {}));
    if (type === "checkbox") { node.checked = !!value; } else { node.value = value === undefined || value === null ? "" : value; }
    node.addEventListener("change", function () { onChange(type === "checkbox" ? node.checked : node.value.trim()); });
    return node;
  }

  function toInt(text) {
    if (text === "") { return undefined; }
    return /^-?\d+$/.test(text) ? parseInt(text, 10) : text;  // a bad value reaches the server, which names it
  }

  function limitsTable(owner, title, keys) {
    var table = el("table", {"class": "limits"});
    table.appendChild(el("caption", {}, title));
    var head = el("tr");
    ["时限", "数量", "单位"].forEach(function (t) { head.appendChild(el("th", {scope: "col"}, t)); });
    table.appendChild(head);
    keys.forEach(function (pair) {
      var key = pair[0];
      var limit = (owner.limits || {})[key] || {};
      var row = el("tr", {"data-limit": key});
      cell(row, pair[1]);
      var write = function (field, value) {
        owner.limits = owner.limits || {};
        var current = owner.limits[key] || {};
        current[field] = value;
        if (current.amount === undefined && !current.unit) { delete owner.limits[key]; } else { owner.limits[key] = current; }
      };
      cell(row, input("number", limit.amount, function (v) { write("amount", toInt(v)); },
                      {min: "0", "class": "narrow-input", "aria-label": pair[1] + "数量", name: key + "_amount"}));
      var select = el("select", {"aria-label": pair[1] + "单位", name: key + "_unit"});
      UNITS.forEach(function (u) {
        var option = el("option", {value: u[0]}, u[1]);
        if ((limit.unit || "") === u[0]) { option.selected = true; }
        select.appendChild(option);
      });
      select.addEventListener("change", function () { write("unit", select.value || undefined); });
      cell(row, select);
      table.appendChild(row);
    });
    return table;
  }

  function materialRow(matter, material, index) {
    var row = el("tr", {"data-material": material.code || ""});
    var set = function (key) { return function (v) { material[key] = v; }; };
    cell(row, input("text", material.code, set("code"), {"aria-label": "材料编码", "class": "narrow-input", name: "code"}));
    cell(row, input("text", material.name, set("name"), {"aria-label": "材料名称", name: "name"}));
    cell(row, input("checkbox", material.required, set("required"), {"aria-label": "必要材料", name: "required"}));
    cell(row, input("checkbox", material.deficiency_allowed, set("deficiency_allowed"),
                    {"aria-label": "允许容缺", name: "deficiency_allowed"}));
    cell(row, input("number", material.supplement_workdays, function (v) {
      var n = toInt(v);
      if (n === undefined) { delete material.supplement_workdays; } else { material.supplement_workdays = n; }
    }, {"aria-label": "容缺补齐时限（工作日）", min: "1", "class": "narrow-input", name: "supplement_workdays"}));
    cell(row, input("checkbox", material.commitment_allowed, set("commitment_allowed"),
                    {"aria-label": "允许告知承诺", name: "commitment_allowed"}));
    cell(row, input("text", (material.file_types || []).join(", "), function (v) {
      material.file_types = v.split(/[,，\s]+/).filter(Boolean).map(function (t) { return t.toLowerCase(); });
    }, {"aria-label": "文件类型", name: "file_types"}));
    var remove = el("button", {type: "button", "class": "link"}, "删除");
    remove.addEventListener("click", function () { matter.materials.splice(index, 1); render(); });
    cell(row, remove);
    return row;
  }

  function matterBlock(matter) {
    var box = el("fieldset", {"data-matter": matter.code || ""});
    box.appendChild(el("legend", {}, (matter.name || "") + "（" + (matter.code || "") + "）· " + (matter.department || "") +
                                      (matter.task ? " · 任务 " + matter.task : "")));
    box.appendChild(limitsTable(matter, "本事项时限", LIMITS.slice(0, 2)));
    var table = el("table", {"class": "materials"});
    table.appendChild(el("caption", {}, "材料"));
    var head = el("tr");
    ["编码", "名称", "必要", "容缺", "补齐时限（工作日）", "告知承诺", "文件类型", ""].forEach(function (t) {
      head.appendChild(el("th", {scope: "col"}, t));
    });
    table.appendChild(head);
    matter.materials = matter.materials || [];
    matter.materials.forEach(function (material, i) { table.appendChild(materialRow(matter, material, i)); });
    box.appendChild(table);
    var add = el("button", {type: "button", "class": "add-material"}, "添加材料");
    add.addEventListener("click", function () {
      matter.materials.push({code: "", name: "", required: true, deficiency_allowed: false, file_types: ["pdf"]});
      render();
    });
    box.appendChild(add);
    return box;
  }

  function render() {
    var tables = document.getElementById("catalog-tables");
    tables.textContent = "";
    tables.appendChild(limitsTable(catalog, "全流程时限", LIMITS));
    (catalog.matters || []).forEach(function (matter) { tables.appendChild(matterBlock(matter)); });
  }

  function report(body, ok) {
    result.textContent = "";
    var problems = ok ? (body.catalog_problems || []) : (body.errors || []);
    var title = el("p", {"class": ok && !problems.length ? "flash success" : "error"});
    title.textContent = ok ? (problems.length ? "已保存，但事项目录有 " + problems.length + " 个问题，修正后才能部署："
                                             : "事项目录已保存，校验通过。") : (body.message || "保存失败");
    result.appendChild(title);
    if (problems.length) {
      var list = el("ul", {"class": "errors"});
      (Array.isArray(problems) ? problems : Object.values(problems)).forEach(function (p) { list.appendChild(el("li", {}, String(p))); });
      result.appendChild(list);
    }
  }

  async function send(payload) {
    payload.revision = revision || null;
    try {
      var reply = await BinglianRequest.send("PUT", (form || yamlForm).getAttribute("data-save-url"), payload);
      var body = reply.body;
      if (reply.ok) {
        revision = body.revision;
        document.getElementById("catalog-yaml-text").value = body.catalog_yaml || "";
        document.getElementById("draft-state").textContent = "草稿第 " + body.revision + " 次保存 · " + (body.updated_by || "");
      }
      report(body, reply.ok);
      return reply.ok;
    } catch (err) {
      report({message: "网络错误，请检查连接后重试"}, false);
      return false;
    }
  }

  if (form) {
    render();
    form.addEventListener("submit", function (e) { e.preventDefault(); send({catalog: catalog}); });
  }
  yamlForm.addEventListener("submit", function (e) {
    e.preventDefault();
    send({yaml: document.getElementById("catalog-yaml-text").value}).then(function (ok) {
      if (ok && form) { window.location.reload(); }  // the tables show the saved text (and its problems)
    });
  });
})();
