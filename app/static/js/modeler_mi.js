/* Multi-instance settings of an activity, for the panel in modeler_panel.js (load after it).
 *
 * Written the way the bundled diagrams do (see processes/README.md, 会签):
 *   <bpmn:property id="drawing_reviewers" name="drawing_reviewers" />   (so the references resolve)
 *   <bpmn:multiInstanceLoopCharacteristics isSequential="false">
 *     <bpmn:loopDataInputRef>drawing_reviewers</bpmn:loopDataInputRef>     collection
 *     <bpmn:inputDataItem id="reviewer" name="reviewer" />                 element variable
 *     <bpmn:loopDataOutputRef>…</bpmn:loopDataOutputRef> <bpmn:outputDataItem …/>   results, optional
 *     <bpmn:completionCondition>…</bpmn:completionCondition>               optional
 */
(function () {
  "use strict";

  var Panel = window.BinglianPanel.Panel;
  var is = window.BinglianPanel.is;
  var IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

  Panel.prototype.property = function (bo, name) {
    var found = (bo.get("properties") || []).filter(function (p) { return p.id === name || p.name === name; })[0];
    if (found) { return found; }
    var created = this.factory.create("bpmn:Property", {id: name, name: name});
    this.modeling.updateModdleProperties(this.element, bo, {properties: (bo.get("properties") || []).concat([created])});
    return created;
  };

  Panel.prototype.setLoop = function (loop, key, value) {
    var props = {};
    props[key] = value;
    this.modeling.updateModdleProperties(this.element, loop, props);
  };

  Panel.prototype.reference = function (bo, loop, key, name) {
    if (name && !IDENT.test(name)) { window.alert("变量名必须是英文标识符"); return; }
    this.setLoop(loop, key, name ? this.property(bo, name) : undefined);
  };

  Panel.prototype.dataItem = function (loop, key, type, name) {
    if (name && !IDENT.test(name)) { window.alert("变量名必须是英文标识符"); return; }
    this.setLoop(loop, key, name ? this.factory.create(type, {id: name, name: name}) : undefined);
  };

  Panel.prototype.multiInstance = function (bo) {
    var self = this;
    var loop = bo.loopCharacteristics && is(bo.loopCharacteristics, "bpmn:MultiInstanceLoopCharacteristics")
      ? bo.loopCharacteristics : null;
    this.heading("多实例（会签）");
    var mode = loop ? (loop.isSequential ? "sequential" : "parallel") : "";
    this.select("方式", [["", "单实例"], ["parallel", "并行（各部门同时办理）"], ["sequential", "串行（依次办理）"]], mode,
      function (value) {
        if (!value) {
          self.modeling.updateProperties(self.element, {loopCharacteristics: undefined});
        } else if (loop) {
          self.setLoop(loop, "isSequential", value === "sequential");
        } else {
          self.modeling.updateProperties(self.element, {loopCharacteristics: self.factory.create(
            "bpmn:MultiInstanceLoopCharacteristics", {isSequential: value === "sequential"})});
        }
      }, "mi_mode");
    if (!loop) { return; }
    var refName = function (ref) { return ref ? ref.name || ref.id : ""; };
    this.text("集合（每项一个实例）", refName(loop.loopDataInputRef), function (value) {
      self.reference(bo, loop, "loopDataInputRef", value);
    }, "例：drawing_reviewers（由前面的脚本任务设置）", "mi_collection");
    this.text("元素变量（每个实例的取值）", refName(loop.inputDataItem), function (value) {
      self.dataItem(loop, "inputDataItem", "bpmn:DataInput", value);
    }, "例：reviewer；办理部门可写 ${reviewer}", "mi_element");
    this.text("结果集合（可空）", refName(loop.loopDataOutputRef), function (value) {
      self.reference(bo, loop, "loopDataOutputRef", value);
    }, null, "mi_output");
    this.text("结果变量（表单字段，可空）", refName(loop.outputDataItem), function (value) {
      self.dataItem(loop, "outputDataItem", "bpmn:DataOutput", value);
    }, null, "mi_output_element");
    this.text("完成条件（可空）", loop.completionCondition ? loop.completionCondition.body : "", function (value) {
      self.setLoop(loop, "completionCondition", self.expr(value));
    }, "例：any(r == 'reject' for r in drawing_results.values())", "mi_completion");
  };
})();
