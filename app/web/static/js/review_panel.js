/* The review panel's map: the case's location and where the handling and the proof were completed
   (data-places: [{kind, lat, lon, label}]), with a line from the case to each completion place. Leaflet. */
(function () {
  "use strict";

  var STYLES = {
    "case": { radius: 9, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 },
    "handle": { radius: 7, color: "#fff", weight: 2, fillColor: "#1c6dd0", fillOpacity: 1 },
    "photo_proof": { radius: 7, color: "#fff", weight: 2, fillColor: "#2e7d32", fillOpacity: 1 }
  };

  function draw(element) {
    var places;
    try { places = JSON.parse(element.dataset.places || "[]"); } catch (error) { places = []; }
    if (!places.length || !window.L) { return; }
    var map = L.map(element, { attributionControl: false, zoomSnap: 0.25, maxZoom: 22 });
    var points = places.map(function (place) { return [place.lat, place.lon]; });
    var home = places[0].kind === "case" ? points[0] : null;
    places.forEach(function (place, index) {
      var marker = L.circleMarker(points[index], STYLES[place.kind] || STYLES.handle).addTo(map);
      marker.bindTooltip(place.label, { permanent: true, direction: "top", offset: [0, -8] });
      if (home && index > 0) { L.polyline([home, points[index]], { color: "#555", weight: 1, dashArray: "4 4" }).addTo(map); }
    });
    map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 18 });
    element.dataset.state = "ready";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("review-map");
    if (element) { draw(element); }
  });
})();
