/* The version diff drawn on the diagrams: the old version (removed and changed elements marked) beside the
   new one (added and changed marked), both moving together; each entry of the server's list selects its
   element on both, and a click on a marked element selects its entry. The viewers are
   window.gridcaseDiff.old and .new (the browser tests read their markers). */
(function () {
  "use strict";

  var list = document.querySelector(".diff-list");
  var statusLine = document.getElementById("diff-status");
  var entries = Array.prototype.slice.call(document.querySelectorAll("#diff-changes .diff-entry"));
  var SIDES = { changed: ["old", "new"], added: ["new"], removed: ["old"], moved: ["old", "new"] };
  var SELECTED = "gc-diff-selected";
  var viewers = {};
  var selectedId = null;
  var syncing = false;

  ["old", "new"].forEach(function (side) {
    var container = document.getElementById("diff-" + side);
    viewers[side] = new window.BpmnJS({ container: container });
  });
  window.gridcaseDiff = viewers;

  function load(side) {
    var url = document.getElementById("diff-" + side).dataset.xmlUrl;
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewers[side].importXML(xml); });
  }

  function element(side, id) {
    return viewers[side].get("elementRegistry").get(id);
  }

  /* Mark every listed element on the side(s) where it is drawn; an entry drawn nowhere (a message, the
     process itself) says so and selects nothing. */
  function markAll() {
    entries.forEach(function (entry) {
      var id = entry.dataset.elementId;
      var kind = entry.dataset.kind;
      var drawn = false;
      SIDES[kind].forEach(function (side) {
        if (element(side, id)) {
          viewers[side].get("canvas").addMarker(id, "gc-diff-" + kind);
          drawn = true;
        }
      });
      if (drawn) {
        entry.classList.add("diff-on-canvas");
      } else {
        entry.querySelector(".diff-select").title = list.dataset.msgNotOnCanvas;
      }
    });
  }

  /* The two diagrams show the same part of the drawing: most elements keep their place between versions. */
  function keepInStep(from, to) {
    viewers[from].on("canvas.viewbox.changed", function (event) {
      if (syncing) { return; }
      var fromRoot = viewers[from].get("canvas").getRootElement();
      var toCanvas = viewers[to].get("canvas");
      if (fromRoot.id !== toCanvas.getRootElement().id) { return; }
      syncing = true;
      try {
        toCanvas.viewbox({ x: event.viewbox.x, y: event.viewbox.y, width: event.viewbox.width, height: event.viewbox.height });
      } finally {
        syncing = false;
      }
    });
  }

  /* Show an element at full size on a side, opening the sub-process plane it is drawn on if need be. */
  function focus(side, id) {
    var shape = element(side, id);
    if (!shape) { return false; }
    var canvas = viewers[side].get("canvas");
    var root = canvas.findRoot(shape);
    if (root && root !== canvas.getRootElement()) { canvas.setRootElement(root); }
    canvas.zoom(1);
    canvas.scrollToElement(shape, { top: 100, bottom: 100, left: 200, right: 200 });
    return true;
  }

  function select(id) {
    ["old", "new"].forEach(function (side) {
      var canvas = viewers[side].get("canvas");
      if (selectedId && element(side, selectedId)) { canvas.removeMarker(selectedId, SELECTED); }
      if (element(side, id)) { canvas.addMarker(id, SELECTED); }
    });
    selectedId = id;
    entries.forEach(function (entry) {
      var current = entry.dataset.elementId === id;
      entry.classList.toggle("diff-entry-selected", current);
      entry.querySelector(".diff-select").setAttribute("aria-pressed", current ? "true" : "false");
      if (current) { entry.scrollIntoView({ block: "nearest" }); }
    });
    if (!focus("new", id)) { focus("old", id); }
    document.querySelector(".diff-layout").dataset.selected = id;
  }

  entries.forEach(function (entry) {
    entry.querySelector(".diff-select").addEventListener("click", function () {
      select(entry.dataset.elementId);
    });
  });
  ["old", "new"].forEach(function (side) {
    viewers[side].on("element.click", function (event) {
      var id = event.element && event.element.id;
      if (id && entries.some(function (entry) { return entry.dataset.elementId === id; })) { select(id); }
    });
  });

  Promise.all([load("old"), load("new")])
    .then(function () {
      markAll();
      viewers.old.get("canvas").zoom("fit-viewport");
      keepInStep("old", "new");
      keepInStep("new", "old");
      var box = viewers.old.get("canvas").viewbox();
      viewers.new.get("canvas").viewbox({ x: box.x, y: box.y, width: box.width, height: box.height });
      document.querySelector(".diff-layout").dataset.ready = "true";
    })
    .catch(function (error) {
      statusLine.textContent = list.dataset.msgLoadFailed + " " + error;
      statusLine.className = "status status-error";
    });
})();
