/* The launch page's map: the grids of the launcher's territory (click one to choose it, as ticking it in the
   list does) and its places, the chosen ones marked; the count of chosen places follows every change, with
   the launch's own rule (no grid ticked: every grid; no type ticked: every type). The form works without
   this script; the server counts again after a refusal. */
(function () {
  "use strict";

  var element = document.getElementById("launch-map");
  var form = document.getElementById("launch-form");
  if (!element || !form || !window.GridcaseMap) { return; }
  var counter = document.getElementById("chosen-count");
  var map = window.GridcaseMap.show(element);
  // Above the territory layer (panes 402-404), so a click inside a compound still chooses its grid.
  map.createPane("insp-grids").style.zIndex = 405;
  map.createPane("insp-places").style.zIndex = 406;
  var gridLayers = {};
  var placeMarkers = [];
  var data = { grids: [], counts: [], places: [] };

  function ticked(name) {
    return Array.prototype.map.call(
      form.querySelectorAll("input[name=" + name + "]:checked"), function (input) { return input.value; });
  }

  function chosen(gridCode, type, grids, types) {
    if (!grids.length && !types.length) { return false; }
    var inGrid = !grids.length || grids.some(function (code) { return gridCode.indexOf(code) === 0; });
    return inGrid && (!types.length || types.indexOf(type) >= 0);
  }

  function toggle(path, name, on) {
    if (path) { path.classList.toggle(name, on); }
  }

  function update() {
    var grids = ticked("grid");
    var types = ticked("place_type");
    var total = 0;
    data.counts.forEach(function (row) { if (chosen(row.grid, row.type, grids, types)) { total += row.n; } });
    counter.textContent = String(total);
    element.dataset.chosen = String(total);
    Object.keys(gridLayers).forEach(function (code) {
      var on = grids.some(function (root) { return code.indexOf(root) === 0; });
      gridLayers[code].eachLayer(function (layer) { toggle(layer.getElement(), "is-chosen", on); });
    });
    placeMarkers.forEach(function (entry) {
      toggle(entry.marker.getElement(), "is-chosen", chosen(entry.place.grid, entry.place.type, grids, types));
    });
  }

  function checkbox(code) {
    return form.querySelector("input[name=grid][value='" + code + "']");
  }

  function draw() {
    var bounds = null;
    data.grids.forEach(function (feature) {
      var code = feature.properties.code;
      var layer = L.geoJSON(feature, {
        className: "insp-launch-grid",
        pane: "insp-grids",
        coordsToLatLng: function (c) { return map.projection.toMap(c[1], c[0]); }
      }).addTo(map);
      layer.eachLayer(function (shape) { shape.getElement().setAttribute("data-code", code); });
      layer.bindTooltip(feature.properties.name, { sticky: true });
      layer.on("click", function () {
        var box = checkbox(code);
        if (box) { box.checked = !box.checked; update(); }
      });
      gridLayers[code] = layer;
      bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
    });
    data.places.forEach(function (place) {
      var marker = L.circleMarker(map.projection.toMap(place.lat, place.lon), {
        radius: 6, className: "insp-place", pane: "insp-places"
      }).addTo(map);
      marker.bindTooltip(place.name);
      placeMarkers.push({ marker: marker, place: place });
    });
    if (bounds) { map.fitBounds(bounds, { animate: false, maxZoom: 16 }); }
    element.dataset.loaded = "true";
    update();
  }

  form.addEventListener("change", update);
  fetch(element.dataset.targetsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (body) { if (body) { data = body; draw(); } });
})();
