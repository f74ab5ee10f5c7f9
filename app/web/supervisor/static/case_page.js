// Case page: draws the case's BPMN diagram with bpmn-js (NavigatedViewer, global BpmnJS) and marks the
// completed and active elements; toggles the timeline's system events. No inline script (CSP).
(function () {
  "use strict";

  function strings(element) {
    try { return JSON.parse(element.dataset.strings || "{}"); } catch (e) { return {}; }
  }

  // Sequence flows are not engine tasks: a flow was taken when its source was completed and its target
  // reached (completed or active).
  function markFlows(registry, canvas, completed, reached) {
    registry.filter(function (el) { return el.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      var bo = flow.businessObject;
      if (bo.sourceRef && bo.targetRef && completed.has(bo.sourceRef.id) && reached.has(bo.targetRef.id)) {
        canvas.addMarker(flow.id, "gc-taken");
      }
    });
  }

  function drawDiagram(container) {
    var text = strings(container);
    fetch(container.dataset.diagramUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (state) {
        var viewer = new window.BpmnJS({ container: container });
        return viewer.importXML(state.xml).then(function () {
          var canvas = viewer.get("canvas");
          var registry = viewer.get("elementRegistry");
          var completed = new Set(state.completed);
          var active = new Set(state.active);
          var reached = new Set(state.completed.concat(state.active));
          state.completed.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "gc-completed"); } });
          state.active.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "gc-active"); } });
          // The operations page's diagram also names the element of an open incident.
          var incident = state.incident || [];
          incident.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "gc-incident"); } });
          container.dataset.incident = incident.join(" ");
          markFlows(registry, canvas, completed, reached);
          canvas.zoom("fit-viewport");
          container.dataset.state = "ready";
          container.dataset.active = state.active.join(" ");
          container.dataset.completed = state.completed.join(" ");
        });
      })
      .catch(function (error) {
        container.dataset.state = "failed";
        var message = document.createElement("p");
        message.className = "error";
        message.textContent = (text.diagram_failed || "The diagram could not be shown") + ": " + error.message;
        container.appendChild(message);
      });
  }

  function systemToggle(checkbox, list) {
    function apply() { list.classList.toggle("sv-show-system", checkbox.checked); }
    checkbox.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("case-diagram");
    if (container) { drawDiagram(container); }
    var checkbox = document.getElementById("show-system");
    var list = document.getElementById("case-timeline");
    if (checkbox && list) { systemToggle(checkbox, list); }
  });
})();
