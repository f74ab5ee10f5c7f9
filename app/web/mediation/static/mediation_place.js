/* The filing form's place: a point marked on the territory map (static/js/map.js picker) fills the hidden
   lat / lon fields; the server finds the grid from it when none is chosen. No inline script (CSP). */
(function () {
  "use strict";

  var element = document.getElementById("place-map");
  if (!element || !window.GridcaseMap) { return; }
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var text = document.getElementById("place-text");

  function picked(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    text.textContent = text.dataset.msgPicked.replace("%(lat)s", lat.value).replace("%(lon)s", lon.value);
  }

  var picker = window.GridcaseMap.picker(element, picked);
  if (lat.value && lon.value) { picker.place(parseFloat(lat.value), parseFloat(lon.value), true); }
})();
