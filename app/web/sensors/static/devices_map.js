/* The devices map: the base map of static/js/map.js (our territory layer), and one dot per device of the
   list's filters, coloured by status, from data-points-url. A dot's name is set as text (device names come
   from imports); clicking it opens the device page (data-device-url, "__id__" replaced). */
(function () {
  "use strict";

  var element = document.getElementById("device-map");
  if (!element || !window.GridcaseMap) { return; }
  var map = window.GridcaseMap.show(element);
  // Above the territory's names (tooltipPane, 650), which sit at the centres where devices often are.
  map.createPane("sensor-devices").style.zIndex = 660;
  var COLORS = {
    online: "#2e7d32", offline: "#c62828", low_battery: "#ef6c00", tampered: "#6a1b9a", never_seen: "#78909c"
  };

  function label(properties) {
    var span = document.createElement("span");
    span.textContent = properties.name + " · " + properties.status_label;
    return span;
  }

  function draw(collection) {
    var bounds = null;
    collection.features.forEach(function (feature) {
      var coords = feature.geometry.coordinates;
      var point = map.projection.toMap(coords[1], coords[0]);
      var properties = feature.properties;
      var dot = L.circleMarker(point, {
        radius: 7, color: "#fff", weight: 2, fillOpacity: 0.95, pane: "sensor-devices",
        fillColor: COLORS[properties.status] || "#78909c", className: "sn-marker sn-marker-" + properties.status
      }).addTo(map);
      dot.bindTooltip(label(properties));
      dot.on("click", function () {
        window.location.href = element.dataset.deviceUrl.replace("__id__", encodeURIComponent(properties.device_id));
      });
      bounds = bounds ? bounds.extend(point) : L.latLngBounds([point, point]);
    });
    if (bounds) { map.fitBounds(bounds.pad(0.2), { maxZoom: 17, animate: false }); }
    document.getElementById("map-note").hidden = !collection.truncated;
    element.dataset.devicesDrawn = String(collection.features.length);
  }

  fetch(element.dataset.pointsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (collection) { if (collection) { draw(collection); } });
})();
