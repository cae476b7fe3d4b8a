/* A small properties panel for the bpmn-js modeler: what analysts edit in Binglian.
 *
 *   BinglianPanel.attach(modeler, container, {departments: [{code, name}], forms: [keys], formUrl: "…/__FORM__"})
 *
 * Edits go through bpmn-js's modeling commands (so undo/redo works): names; a lane's department
 * (the lane is named after it); the form of a user task or start event (camunda:formKey); the
 * handling department of a multi-instance task (camunda:candidateGroups); timers (timeDate /
 * timeDuration / timeCycle, with the working-day helpers workdays(n), hours(n), days(n));
 * sequence-flow conditions and the gateway's default flow; multi-instance settings. Extension
 * elements the diagram already has (spiff:serviceTaskOperator, …) are left as they are.
 */
(function () {
  "use strict";

  var CAMUNDA = "http://camunda.org/schema/1.0/bpmn";
  var HELPERS = [["workdays", "工作日 workdays(n)"], ["hours", "工作小时 hours(n)"], ["days", "自然日 days(n)"]];
  var TIMER_KINDS = [["timeDate", "到期时间 timeDate"], ["timeDuration", "持续时间 timeDuration"],
                     ["timeCycle", "循环 timeCycle"]];

  function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function Panel(modeler, container, options) {
    this.modeler = modeler;
    this.container = container;
    this.options = options || {};
    this.modeling = modeler.get("modeling");
    this.factory = modeler.get("bpmnFactory");
    this.element = null;
    this.seq = 0;
    var self = this;
    modeler.get("eventBus").on("selection.changed", function (e) {
      self.show(e.newSelection.length === 1 ? e.newSelection[0] : null);
    });
    modeler.get("eventBus").on("elements.changed", function (e) {
      if (self.element && e.elements.indexOf(self.element) >= 0 && !self.container.contains(document.activeElement)) {
        self.show(self.element);
      }
    });
    this.show(null);
  }

  Panel.prototype.field = function (label, input, hint) {
    var id = "prop-" + (++this.seq);
    input.id = id;
    var row = el("div", {className: "prop"});
    row.appendChild(el("label", {"for": id}, label));
    row.appendChild(input);
    if (hint) { row.appendChild(el("p", {className: "hint"}, hint)); }
    this.body.appendChild(row);
    return input;
  };

  Panel.prototype.text = function (label, value, onChange, hint, name) {
    var input = el("input", {type: "text", name: name || ""});
    input.value = value || "";
    input.addEventListener("change", function () { onChange(input.value.trim()); });
    return this.field(label, input, hint);
  };

  Panel.prototype.select = function (label, choices, value, onChange, name) {
    var select = el("select", {name: name || ""});
    choices.forEach(function (c) {
      var option = el("option", {value: c[0]}, c[1]);
      if (c[0] === (value || "")) { option.selected = true; }
      select.appendChild(option);
    });
    select.addEventListener("change", function () { onChange(select.value); });
    return this.field(label, select);
  };

  Panel.prototype.heading = function (text) { this.body.appendChild(el("h3", {}, text)); };

  Panel.prototype.expr = function (body) {
    return body ? this.factory.create("bpmn:FormalExpression", {body: body}) : undefined;
  };

  Panel.prototype.show = function (element) {
    this.element = element && element.type !== "label" ? element : (element ? element.labelTarget : null);
    this.container.textContent = "";
    this.body = el("div", {className: "props-body"});
    this.container.appendChild(this.body);
    if (!this.element || this.element.type === "bpmn:Process" || this.element.type === "bpmn:Collaboration") {
      this.body.appendChild(el("p", {className: "hint"}, "选择一个元素以编辑其属性。"));
      return;
    }
    var bo = this.element.businessObject;
    this.body.appendChild(el("h2", {}, "属性"));
    this.body.appendChild(el("p", {className: "muted"}, bo.$type.replace("bpmn:", "") + " · " + bo.id));
    if (is(bo, "bpmn:Lane")) { this.lane(bo); return; }
    this.name(bo);
    if (is(bo, "bpmn:UserTask") || (is(bo, "bpmn:StartEvent") && !this.timerOf(bo))) { this.form(bo); }
    if (is(bo, "bpmn:UserTask")) { this.candidate(bo); }
    if (this.timerOf(bo)) { this.timer(bo); }
    if (is(bo, "bpmn:SequenceFlow")) { this.condition(bo); }
    if (is(bo, "bpmn:Activity") && !is(bo, "bpmn:SubProcess")) { this.multiInstance(bo); }
  };

  Panel.prototype.name = function (bo) {
    var self = this;
    this.text("名称（中文）", bo.name, function (value) {
      self.modeling.updateLabel(self.element, value || null);
    }, null, "name");
  };

  Panel.prototype.lane = function (bo) {
    var self = this;
    var names = (this.options.departments || []).map(function (d) { return [d.name, d.name + "（" + d.code + "）"]; });
    var known = names.some(function (c) { return c[0] === bo.name; });
    var choices = [["", "请选择部门"]].concat(names);
    if (bo.name && !known) { choices.push([bo.name, bo.name + "（未登记的部门）"]); }
    this.select("部门（泳道名称即部门）", choices, bo.name, function (value) {
      self.modeling.updateProperties(self.element, {name: value || undefined});
    }, "department");
  };

  Panel.prototype.ensureCamunda = function () {
    var definitions = this.modeler.getDefinitions();
    if (definitions && !definitions.$attrs["xmlns:camunda"]) { definitions.$attrs["xmlns:camunda"] = CAMUNDA; }
  };

  Panel.prototype.form = function (bo) {
    var self = this;
    var current = bo.get("camunda:formKey") || "";
    var keys = (this.options.forms || []).slice();
    if (current && keys.indexOf(current) < 0) { keys.push(current); }
    var choices = [["", "（无表单）"]].concat(keys.map(function (k) { return [k, k]; }));
    this.select("表单", choices, current, function (value) {
      self.ensureCamunda();
      var props = {};
      props["camunda:formKey"] = value || undefined;
      self.modeling.updateProperties(self.element, props);
    }, "form_key");
    if (current && this.options.formUrl) {
      var link = el("a", {href: this.options.formUrl.replace("__FORM__", encodeURIComponent(current))}, "编辑表单 " + current);
      this.body.appendChild(link);
    }
  };

  Panel.prototype.candidate = function (bo) {
    var self = this;
    this.text("办理部门（会签：${变量} 或部门名称，可空）", bo.get("camunda:candidateGroups"), function (value) {
      self.ensureCamunda();
      self.modeling.updateProperties(self.element, {"camunda:candidateGroups": value || undefined});
    }, "为空时由泳道决定办理部门", "candidate");
  };

  Panel.prototype.timerOf = function (bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return is(d, "bpmn:TimerEventDefinition"); })[0];
  };

  Panel.prototype.timer = function (bo) {
    var self = this;
    var definition = this.timerOf(bo);
    var kind = TIMER_KINDS.map(function (k) { return k[0]; }).filter(function (k) { return definition[k]; })[0] || "timeDate";
    var expression = definition[kind] ? definition[kind].body || "" : "";
    var match = /^(workdays|hours|days)\((.*)\)$/.exec(expression.trim());
    this.heading("定时");
    function write(newKind, body) {
      var props = {timeDate: undefined, timeDuration: undefined, timeCycle: undefined};
      props[newKind] = self.expr(body);
      self.modeling.updateModdleProperties(self.element, definition, props);
    }
    this.select("定时类型", TIMER_KINDS, kind, function (value) { write(value, expression); }, "timer_kind");
    var helper = this.select("时限", HELPERS.concat([["", "自定义表达式"]]), match ? match[1] : "", function () {
      if (helper.value && amount.value.trim()) { write(kind, helper.value + "(" + amount.value.trim() + ")"); }
    }, "timer_helper");
    var amount = this.text("数量（数字或变量，如 5 或 deficiency_workdays）", match ? match[2] : "", function (value) {
      if (helper.value && value) { write(kind, helper.value + "(" + value + ")"); }
    }, "按法定工作日历计算：节假日与调休日已计入；当天不计", "timer_amount");
    this.text("表达式", expression, function (value) { write(kind, value); },
              "例：workdays(5)、hours(4)、days(30)、workdays(5, since=accepted_at)", "timer_expression");
    if (is(bo, "bpmn:BoundaryEvent")) {
      this.select("到时后", [["true", "中断所附任务"], ["false", "不中断（提醒、督办）"]],
                  bo.cancelActivity === false ? "false" : "true", function (value) {
                    self.modeling.updateProperties(self.element, {cancelActivity: value === "true"});
                  }, "cancel_activity");
    }
  };

  Panel.prototype.condition = function (bo) {
    var self = this;
    var source = bo.sourceRef;
    if (!is(source, "bpmn:ExclusiveGateway") && !is(source, "bpmn:InclusiveGateway") && !bo.conditionExpression) { return; }
    this.heading("条件");
    var isDefault = source.default === bo;
    if (!isDefault) {
      var area = el("textarea", {rows: "2", name: "condition"});
      area.value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
      area.addEventListener("change", function () {
        self.modeling.updateProperties(self.element, {conditionExpression: self.expr(area.value.trim())});
      });
      this.field("条件表达式", area, "按办件数据判断，例：intake_result == 'accept'、need_tax_ukey");
    }
    var box = el("input", {type: "checkbox", name: "default_flow"});
    box.checked = isDefault;
    box.addEventListener("change", function () {
      var gateway = self.modeler.get("elementRegistry").get(source.id);
      if (box.checked && bo.conditionExpression) {
        self.modeling.updateProperties(self.element, {conditionExpression: undefined});
      }
      self.modeling.updateProperties(gateway, {"default": box.checked ? bo : undefined});
    });
    this.field("默认流（其他条件都不满足时走此流）", box);
  };

  window.BinglianPanel = {
    attach: function (modeler, container, options) { return new Panel(modeler, container, options); },
    Panel: Panel, el: el, is: is
  };
})();
