/* The campaign page's map: each grid coloured by its progress (every place passed / some failed / under
   way) with its counts, each place a dot in its item's status colour linking to the place page. Asked
   again every minute, so an open page follows the inspections as they are done. */
(function () {
  "use strict";

  var element = document.getElementById("campaign-map");
  if (!element || !window.GridcaseMap) { return; }
  var REFRESH_MS = 60000;
  var map = window.GridcaseMap.show(element);
  // Above the territory layer (panes 402-404): the progress colours are what this map is for.
  map.createPane("insp-grids").style.zIndex = 405;
  map.createPane("insp-items").style.zIndex = 406;
  var drawn = L.layerGroup().addTo(map);
  var fitted = false;

  function toMap(c) { return map.projection.toMap(c[1], c[0]); }

  function placeLink(item) {
    var link = document.createElement("a");
    link.href = element.dataset.placeUrl.replace(/0$/, String(item.place));
    link.textContent = item.name + " · " + item.status_label;
    return link;
  }

  function draw(body) {
    drawn.clearLayers();
    var bounds = null;
    body.grids.forEach(function (feature) {
      var p = feature.properties;
      var layer = L.geoJSON(feature, {
        className: "insp-grid insp-grid-" + p.state, pane: "insp-grids", coordsToLatLng: toMap
      });
      layer.bindTooltip(p.grid_name + ": " + p.done + " / " + p.total + " · " + p.state_label, { sticky: true });
      drawn.addLayer(layer);
      layer.eachLayer(function (shape) { shape.getElement().setAttribute("data-code", p.grid_code); });
      bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
    });
    body.items.forEach(function (item) {
      var marker = L.circleMarker(map.projection.toMap(item.lat, item.lon), {
        radius: 7, className: "insp-item insp-item-" + item.status, pane: "insp-items"
      });
      marker.bindPopup(placeLink(item));
      drawn.addLayer(marker);
    });
    if (bounds && !fitted) {
      map.fitBounds(bounds, { animate: false, maxZoom: 17 });
      fitted = true;
    }
    element.dataset.loaded = "true";
    element.dataset.done = String(body.counts.done);
  }

  function load() {
    fetch(element.dataset.mapUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) { draw(body); } })
      .catch(function () { /* offline for a moment: the next round asks again */ });
  }

  load();
  window.setInterval(load, REFRESH_MS);
})();
