/* Launching a plan: the place is a click on the map (static/js/map.js picker over our territory layer), shown
   by the name of its grid (the grid decides which units are sent). */
(function () {
  "use strict";
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var text = document.getElementById("location-text");
  var asked = 0; // only the latest click's answer is shown

  function coordinates(message) {
    return message.replace("%(lat)s", lat.value).replace("%(lon)s", lon.value);
  }
  function placeName(place) {
    return [place.community, place.grid].filter(Boolean).map(function (p) { return p.name; }).join(" ");
  }
  function picked(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    var ticket = ++asked;
    text.textContent = text.dataset.msgLocating;
    fetch(text.dataset.placeUrl + "?lat=" + lat.value + "&lon=" + lon.value,
          { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404) { return { outside: true }; }
        return response.ok ? response.json() : null;
      })
      .catch(function () { return null; })
      .then(function (place) {
        if (ticket !== asked) { return; }
        if (place && place.outside) {
          text.textContent = coordinates(text.dataset.msgOutside);
        } else if (place && placeName(place)) {
          text.textContent = text.dataset.msgLocated.replace("%(place)s", placeName(place));
        } else {
          text.textContent = coordinates(text.dataset.msgPicked);
        }
      });
  }
  var picker = window.GridcaseMap.picker(document.getElementById("pick-map"), picked);
  if (lat.value && lon.value) { picker.place(parseFloat(lat.value), parseFloat(lon.value), true); }
})();
