/* The bpmn-js modeler page: open a version's XML, validate it (problems marked on their elements) and deploy
   it as the next version. The modeler instance is window.gridcaseModeler (the browser tests drive it). */
(function () {
  "use strict";

  var helpers = window.gridcaseDesigner;
  var root = document.getElementById("modeler");
  var statusLine = document.getElementById("modeler-status");
  var problemList = document.getElementById("modeler-problems");
  var validateButton = document.getElementById("validate-button");
  var deployButton = document.getElementById("deploy-button");
  var msg = root.dataset;
  var ERROR_MARKER = "gc-error";
  var WARNING_MARKER = "gc-warning";
  var LIVE_CHECK_DELAY_MS = 1200;
  var marked = [];

  /* The properties panel (bundle built at set-up: app/web/designer/panel/) and the page's language. */
  var panel = window.GridcasePanel;
  var modeler = new window.BpmnJS({
    container: root,
    keyboard: { bindTo: document },
    propertiesPanel: { parent: "#properties-panel", layout: panel.layout },
    additionalModules: panel.modules(msg.locale),
    moddleExtensions: panel.moddleExtensions
  });
  window.gridcaseModeler = modeler;

  /* SpiffWorkflow lets a reference name a process variable, not an element: a multi-instance task's
     <loopDataInputRef>summoned</loopDataInputRef> is the list in task data "summoned". bpmn-js resolves
     references by element id and drops the ones it cannot resolve, which would break the diagram on export.
     Put each one back as a stand-in carrying the name, so the exported XML says what the imported XML said. */
  function keepUnresolvedReferences(warnings) {
    (warnings || []).forEach(function (warning) {
      var match = /^unresolved reference <(.+)>$/.exec(warning.message || "");
      if (!match || !warning.element || !warning.property) { return; }
      var descriptor = warning.element.$descriptor.propertiesByName[warning.property];
      if (!descriptor) { return; }
      var standIn = { id: match[1] };
      if (descriptor.isMany) {
        warning.element.get(descriptor.name).push(standIn);
      } else {
        warning.element.set(descriptor.name, standIn);
      }
    });
  }
  modeler.on("import.done", function (event) { keepUnresolvedReferences(event.warnings); });

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " status-" + kind : "");
  }

  function setBusy(busy) {
    validateButton.disabled = busy;
    deployButton.disabled = busy;
  }

  /* The panel shows the selected element's problems on their fields (panel/problems.js). */
  function problemsToPanel(problems) {
    modeler.get("eventBus").fire("gridcase.problems", { problems: problems });
  }

  function clearProblems() {
    problemsToPanel([]);
    var canvas = modeler.get("canvas");
    marked.forEach(function (id) {
      canvas.removeMarker(id, ERROR_MARKER);
      canvas.removeMarker(id, WARNING_MARKER);
    });
    marked = [];
    problemList.textContent = "";
  }

  /* SpiffWorkflow's own English text of a refusal its parser made, folded under the translated reason. */
  function originalText(text) {
    var details = document.createElement("details");
    details.className = "problem-original";
    var summary = document.createElement("summary");
    summary.textContent = "SpiffWorkflow";
    var body = document.createElement("code");
    body.lang = "en";
    body.textContent = text;
    details.appendChild(summary);
    details.appendChild(body);
    details.addEventListener("click", function (event) { event.stopPropagation(); });  /* not a select */
    return details;
  }

  /* List each problem; mark its element on the canvas when the diagram has it; a click selects it. */
  function showProblems(problems) {
    clearProblems();
    var registry = modeler.get("elementRegistry");
    var canvas = modeler.get("canvas");
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var warning = problem.severity === "warning";
      item.className = "problem" + (warning ? " problem-warning" : "");
      var where = [];
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
        item.dataset.elementId = problem.element_id;
        if (registry.get(problem.element_id)) {
          canvas.addMarker(problem.element_id, warning ? WARNING_MARKER : ERROR_MARKER);
          marked.push(problem.element_id);
          item.classList.add("problem-on-canvas");
          item.tabIndex = 0;
          item.addEventListener("click", function () { selectElement(problem.element_id); });
        }
      }
      if (problem.line) { where.push(msg.msgLine + " " + problem.line); }
      item.appendChild(document.createTextNode(problem.message + (where.length ? " (" + where.join(", ") + ")" : "")));
      if (problem.original) { item.appendChild(originalText(problem.original)); }
      problemList.appendChild(item);
    });
    problemsToPanel(problems);
    if (marked.length && !liveChecking) { focusElement(marked[0]); }
  }

  /* Bring an element into view at full size: a large diagram fitted to the screen shows it too small. */
  function focusElement(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) { return; }
    var canvas = modeler.get("canvas");
    canvas.zoom(1);
    canvas.scrollToElement(element, { top: 120, bottom: 120, left: 200, right: 200 });
  }

  function selectElement(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) { return; }
    modeler.get("selection").select(element);
    focusElement(id);
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  /* Each validate or deploy takes the next number; an answer to an older one (a live check still in flight
     when the designer deploys) is dropped instead of overwriting the newer status. */
  var generation = 0;

  function validate() {
    var mine = ++generation;
    setBusy(true);
    setStatus(msg.msgValidating);
    return currentXml()
      .then(function (xml) { return helpers.postJSON(msg.validateUrl, { xml: xml }); })
      .then(function (response) {
        var body = response.body;
        if (mine !== generation) { return body; }
        if (response.status !== 200) {
          setStatus(msg.msgFailed + " " + (body.message || response.status), "error");
        } else if (body.valid) {
          clearProblems();
          if (body.problems && body.problems.length) { showProblems(body.problems); }
          setStatus(msg.msgValid, "ok");
        } else {
          showProblems(body.problems || []);
          setStatus(msg.msgInvalid, "error");
        }
        return body;
      })
      .catch(function (error) { if (mine === generation) { setStatus(msg.msgFailed + " " + error, "error"); } })
      .finally(function () { if (mine === generation) { setBusy(false); } });
  }

  function deploy() {
    ++generation;
    clearTimeout(liveTimer);
    setBusy(true);
    setStatus(msg.msgDeploying);
    return currentXml()
      .then(function (xml) { return helpers.postJSON(msg.deployUrl, { xml: xml }); })
      .then(function (response) {
        var body = response.body;
        if (response.status === 201 || response.status === 200) {
          clearProblems();
          var template = response.status === 201 ? msg.msgDeployed : msg.msgUnchanged;
          setStatus(helpers.fill(template, { version: body.version }), "ok");
          var link = document.createElement("a");
          link.href = body.edit_url;
          link.id = "deployed-version-link";
          link.textContent = helpers.fill(msg.msgOpenVersion, { version: body.version });
          statusLine.appendChild(document.createTextNode(" "));
          statusLine.appendChild(link);
          root.dataset.deployedVersion = body.version;
          if (msg.openAfterDeploy === "true") { window.location.assign(body.edit_url); }
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

  /* The same checks as the deploy, run as the designer works: a while after the last change, and again
     after a check in flight if the diagram changed meanwhile. */
  var liveTimer = null;
  var checking = false;
  var liveChecking = false;  /* a live check does not move the view away from what the designer edits */
  var changedWhileChecking = false;
  function liveCheck() {
    if (checking) { changedWhileChecking = true; return; }
    checking = true;
    liveChecking = true;
    validate().finally(function () {
      checking = false;
      liveChecking = false;
      if (changedWhileChecking) { changedWhileChecking = false; scheduleLiveCheck(); }
    });
  }
  function scheduleLiveCheck() {
    if (root.dataset.ready !== "true") { return; }
    clearTimeout(liveTimer);
    liveTimer = setTimeout(liveCheck, LIVE_CHECK_DELAY_MS);
  }
  modeler.on("commandStack.changed", scheduleLiveCheck);

  validateButton.addEventListener("click", validate);
  deployButton.addEventListener("click", deploy);
  setBusy(true);
  setStatus(msg.msgLoading);

  function getText(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    });
  }

  /* The pickers' values first, so the panel offers them from the first selection. */
  getText(msg.vocabularyUrl)
    .then(function (text) { panel.setVocabulary(JSON.parse(text)); })
    .then(function () { return getText(msg.xmlUrl); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function () {
      modeler.get("canvas").zoom("fit-viewport");
      setStatus("");
      root.dataset.ready = "true";
      setBusy(false);
    })
    .catch(function (error) { setStatus(msg.msgLoadFailed + " " + error, "error"); });
})();
