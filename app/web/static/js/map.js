/* Maps without a tile server: our grid polygons and a pin on a plain background (Leaflet).
   GridcaseMap.show(element): a case map from data-lat / data-lon / data-grid (GeoJSON Feature).
   GridcaseMap.picker(element, onPick): a map to pick a location, drawing the grids of data-grids-url. */
(function () {
  "use strict";

  var GRID_STYLE = { color: "#1c6dd0", weight: 2, fillColor: "#1c6dd0", fillOpacity: 0.08 };
  var PIN_STYLE = { radius: 9, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 };
  var DEFAULT_CENTER = [30.7934, 103.9332];

  function baseMap(element) {
    var map = L.map(element, { attributionControl: false, zoomSnap: 0.25, maxZoom: 22 });
    map.setView(DEFAULT_CENTER, 14);
    return map;
  }

  function parse(value) {
    if (!value || value === "null") { return null; }
    try { return JSON.parse(value); } catch (error) { return null; }
  }

  function show(element) {
    if (!element) { return null; }
    var map = baseMap(element);
    var grid = parse(element.dataset.grid);
    var bounds = null;
    if (grid) {
      var layer = L.geoJSON(grid, { style: GRID_STYLE }).addTo(map);
      layer.bindTooltip(grid.properties && grid.properties.name || "");
      bounds = layer.getBounds();
    }
    if (element.dataset.lat && element.dataset.lon) {
      var point = [parseFloat(element.dataset.lat), parseFloat(element.dataset.lon)];
      L.circleMarker(point, PIN_STYLE).addTo(map);
      bounds = bounds ? bounds.extend(point) : L.latLngBounds([point, point]);
    }
    if (bounds) { map.fitBounds(bounds.pad(0.2), { maxZoom: 18 }); }
    element.gridcaseMap = map;
    return map;
  }

  function picker(element, onPick) {
    var map = baseMap(element);
    var pin = null;
    function place(lat, lon, pan) {
      if (pin) { pin.setLatLng([lat, lon]); } else { pin = L.circleMarker([lat, lon], PIN_STYLE).addTo(map); }
      if (pan) { map.setView([lat, lon], Math.max(map.getZoom(), 16)); }
      onPick(lat, lon);
    }
    map.on("click", function (event) { place(event.latlng.lat, event.latlng.lng, false); });
    if (element.dataset.gridsUrl) {
      fetch(element.dataset.gridsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (collection) {
          if (!collection || !collection.features.length) { return; }
          var layer = L.geoJSON(collection, { style: GRID_STYLE }).addTo(map);
          layer.eachLayer(function (item) { item.bindTooltip(item.feature.properties.name); });
          if (!pin) { map.fitBounds(layer.getBounds()); }
        });
    }
    element.gridcaseMap = map;
    return { map: map, place: place };
  }

  window.GridcaseMap = { show: show, picker: picker };
  document.addEventListener("DOMContentLoaded", function () { show(document.getElementById("case-map")); });
})();
