/* The register form's map: clicking it fills latitude and longitude (WGS-84, six decimals); typing them
   moves the pin. The form works without it. */
(function () {
  "use strict";

  var element = document.getElementById("register-map");
  if (!element || !window.GridcaseMap) { return; }
  var lat = document.getElementById("d-lat");
  var lon = document.getElementById("d-lon");
  var picker = window.GridcaseMap.picker(element, function (pickedLat, pickedLon) {
    lat.value = pickedLat.toFixed(6);
    lon.value = pickedLon.toFixed(6);
  });

  function typed() {
    var a = parseFloat(lat.value);
    var b = parseFloat(lon.value);
    if (isFinite(a) && isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180) { picker.place(a, b, true); }
  }
  lat.addEventListener("change", typed);
  lon.addEventListener("change", typed);
  if (lat.value && lon.value) { typed(); }
})();
