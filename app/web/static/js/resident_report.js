/* The resident's report form: category classes filter the sub-class list; the place comes from a tap on the
   map (our grids on a plain background) or from the phone's location. */
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
  function picked(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    text.textContent = text.dataset.msgPicked.replace("%(lat)s", lat.value).replace("%(lon)s", lon.value);
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
