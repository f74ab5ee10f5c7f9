/* The resident's report form: category classes filter the sub-class list; the place comes from a tap on the
   map (our territory layer: grids, compounds, buildings) or from the phone's location, and is shown by the
   names of its grid and compound. */
(function () {
  "use strict";
  var select = document.getElementById("category_code");
  var classes = document.querySelectorAll('input[name="category_class"]');

  function showClass(code) {
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      var match = !code || group.dataset.class === code;
      group.hidden = !match;
      group.disabled = !match;
    });
    var chosen = select.selectedOptions[0];
    if (code && chosen && chosen.dataset.class !== code) {
      var first = select.querySelector('optgroup[data-class="' + code + '"] option');
      select.value = first ? first.value : "";
    }
  }
  Array.prototype.forEach.call(classes, function (radio) {
    radio.addEventListener("change", function () { showClass(radio.value); });
    if (radio.checked) { showClass(radio.value); }
  });
  select.addEventListener("change", function () {
    var chosen = select.selectedOptions[0];
    var radio = chosen && document.querySelector('input[name="category_class"][value="' + chosen.dataset.class + '"]');
    if (radio) { radio.checked = true; }
  });

  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var text = document.getElementById("location-text");
  var asked = 0; // only the latest pick's answer is shown
  function coordinates(message) {
    return message.replace("%(lat)s", lat.value).replace("%(lon)s", lon.value);
  }
  // "已定位：望丛社区 第1网格 · 锦绣花园 · 3栋": the grid and compound (and building) of the point.
  function placeName(place) {
    var grid = [place.community, place.grid].filter(Boolean).map(function (p) { return p.name; }).join(" ");
    return [grid, place.compound && place.compound.name, place.building && place.building.name]
      .filter(Boolean).join(" · ");
  }
  function picked(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    var ticket = ++asked;
    text.textContent = text.dataset.msgLocating;
    var url = text.dataset.placeUrl + "?lat=" + lat.value + "&lon=" + lon.value;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
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
          text.textContent = coordinates(text.dataset.msgPicked); // offline: the coordinates at least
        }
      });
  }
  var picker = window.GridcaseMap.picker(document.getElementById("pick-map"), picked);
  if (lat.value && lon.value) { picker.place(parseFloat(lat.value), parseFloat(lon.value), true); }

  document.getElementById("use-location").addEventListener("click", function () {
    if (!navigator.geolocation) { text.textContent = text.dataset.msgFailed; return; }
    navigator.geolocation.getCurrentPosition(function (position) {
      picker.place(position.coords.latitude, position.coords.longitude, true);
    }, function () { text.textContent = text.dataset.msgFailed; }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
