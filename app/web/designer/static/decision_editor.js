/* The dmn-js decision table editor: open a version's XML (or a new empty table), edit the table, validate it
   (every problem at once) and deploy it as the next version. The editor is window.gridcaseDecisionEditor
   (the browser tests drive dmn-js through it where the page has no other control). */
(function () {
  "use strict";

  var helpers = window.gridcaseDesigner;
  var root = document.getElementById("decision-editor");
  var statusLine = document.getElementById("decision-status");
  var problemList = document.getElementById("decision-problems");
  var validateButton = document.getElementById("validate-button");
  var deployButton = document.getElementById("deploy-button");
  var msg = root.dataset;

  /* dmn-js speaks English; in a zh page its labels come from this table (anything missing stays English). */
  var ZH = {
    "When": "当", "And": "且", "Then": "则", "Annotation": "备注", "Annotations": "备注",
    "Hit policy": "命中策略", "Hit policy:": "命中策略:", "Unique": "唯一", "First": "首个", "Priority": "优先级",
    "Any": "任一", "Collect": "收集", "Rule order": "规则顺序", "Output order": "输出顺序",
    "View DRD": "查看决策图", "Input": "输入", "Output": "输出", "Input expression": "输入表达式",
    "Input label": "输入标签", "Output label": "输出标签", "Output name": "输出变量名", "Input type": "输入类型",
    "Output type": "输出类型", "Type": "类型", "Expression": "表达式", "Expression language": "表达式语言",
    "Enter expression": "输入表达式", "Add rule": "添加规则", "Add rule above": "在上方添加规则",
    "Add rule below": "在下方添加规则", "Remove rule": "删除规则", "Copy rule": "复制规则", "Cut rule": "剪切规则",
    "Add input": "添加输入", "Add output": "添加输出", "Add input column left": "在左侧添加输入列",
    "Add input column right": "在右侧添加输入列", "Add output column left": "在左侧添加输出列",
    "Add output column right": "在右侧添加输出列", "Remove input column": "删除输入列",
    "Remove output column": "删除输出列", "Delete": "删除", "Edit": "编辑", "Value": "值", "Values": "值",
    "Decision name": "决策名称", "Add cell description": "添加单元格说明", "Remove cell description": "删除单元格说明",
    "Strings must be in double quotes": "字符串须加双引号", "Yes": "是", "No": "否"
  };
  function translateZh(template, replacements) {
    var text = Object.prototype.hasOwnProperty.call(ZH, template) ? ZH[template] : template;
    return text.replace(/{([^}]+)}/g, function (whole, key) {
      return (replacements || {})[key] || whole;
    });
  }
  var zh = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
  var options = { container: root, common: { keyboard: { bindTo: document } } };
  if (zh) {  /* per view: dmn-js replaces, not merges, the common additionalModules */
    ["drd", "decisionTable", "literalExpression", "boxedExpression"].forEach(function (view) {
      options[view] = { additionalModules: [{ translate: ["value", translateZh] }] };
    });
  }

  var editor = new window.DmnJS(options);
  window.gridcaseDecisionEditor = editor;

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " status-" + kind : "");
  }

  function setBusy(busy) {
    validateButton.disabled = busy;
    deployButton.disabled = busy;
  }

  function showProblems(problems) {
    problemList.textContent = "";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "problem" + (problem.severity === "warning" ? " problem-warning" : "");
      if (problem.element_id) {
        if (problem.element_name && problem.element_name !== problem.element_id) {
          var name = document.createElement("strong");
          name.textContent = problem.element_name;
          item.appendChild(name);
          item.appendChild(document.createTextNode(" "));
        }
        var code = document.createElement("code");
        code.textContent = problem.element_id;
        item.appendChild(code);
        item.appendChild(document.createTextNode(" "));
      }
      item.appendChild(document.createTextNode(problem.message));
      problemList.appendChild(item);
    });
  }

  function currentXml() {
    return editor.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function validate() {
    setBusy(true);
    setStatus(msg.msgValidating);
    return currentXml()
      .then(function (xml) { return helpers.postJSON(msg.validateUrl, { xml: xml }); })
      .then(function (response) {
        var body = response.body;
        if (response.status !== 200) {
          setStatus(msg.msgFailed + " " + (body.message || response.status), "error");
        } else if (body.valid) {
          showProblems([]);
          setStatus(msg.msgValid, "ok");
        } else {
          showProblems(body.problems || []);
          setStatus(msg.msgInvalid, "error");
        }
        return body;
      })
      .catch(function (error) { setStatus(msg.msgFailed + " " + error, "error"); })
      .finally(function () { setBusy(false); });
  }

  function deploy() {
    setBusy(true);
    setStatus(msg.msgDeploying);
    return currentXml()
      .then(function (xml) { return helpers.postJSON(msg.deployUrl, { xml: xml }); })
      .then(function (response) {
        var body = response.body;
        if (response.status === 201 || response.status === 200) {
          showProblems([]);
          var template = response.status === 201 ? msg.msgDeployed : msg.msgUnchanged;
          setStatus(helpers.fill(template, { version: body.version }), "ok");
          var link = document.createElement("a");
          link.href = body.edit_url;
          link.id = "deployed-version-link";
          link.textContent = helpers.fill(msg.msgOpenVersion, { version: body.version });
          statusLine.appendChild(document.createTextNode(" "));
          statusLine.appendChild(link);
          root.dataset.deployedVersion = body.version;
        } else if (response.status === 422 && body.details && body.details.problems) {
          showProblems(body.details.problems);
          setStatus(msg.msgInvalid, "error");
        } else {
          setStatus(msg.msgFailed + " " + (body.message || response.status), "error");
        }
        return body;
      })
      .catch(function (error) { setStatus(msg.msgFailed + " " + error, "error"); })
      .finally(function () { setBusy(false); });
  }

  /* A file may hold several decisions: open the first table, with a tab for each when there are more. */
  function openTables() {
    var tables = editor.getViews().filter(function (view) { return view.type === "decisionTable"; });
    if (!tables.length) { return Promise.resolve(); }
    if (tables.length > 1) {
      var tabs = document.createElement("div");
      tabs.className = "decision-tabs";
      tables.forEach(function (view) {
        var tab = document.createElement("button");
        tab.type = "button";
        tab.textContent = view.name || view.id;
        tab.dataset.decisionId = view.id;
        tab.addEventListener("click", function () { editor.open(view); });
        tabs.appendChild(tab);
      });
      root.parentNode.insertBefore(tabs, root);
    }
    return editor.open(tables[0]);
  }

  function loadXml() {
    if (msg.emptyXml) { return Promise.resolve(msg.emptyXml); }
    return fetch(msg.xmlUrl, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    });
  }

  validateButton.addEventListener("click", validate);
  deployButton.addEventListener("click", deploy);
  setBusy(true);
  setStatus(msg.msgLoading);

  loadXml()
    .then(function (xml) { return editor.importXML(xml); })
    .then(openTables)
    .then(function () {
      setStatus("");
      root.dataset.ready = "true";
      setBusy(false);
    })
    .catch(function (error) { setStatus(msg.msgLoadFailed + " " + error, "error"); });
})();
