/* WGS-84 <-> GCJ-02 (the "Mars" coordinates of 高德, 腾讯 and other Chinese tile servers), after the well-known
   eviltransform formulas (Krasovsky ellipsoid, as the published reference points use). Loaded only on pages
   whose tile server draws in GCJ-02 (MAP_TILE_CRS=gcj02): our data and our database stay WGS-84.
   GridcaseGcj02.toGcj(lat, lng) -> {lat, lng}; GridcaseGcj02.toWgs(lat, lng) -> {lat, lng} (iterated until
   it maps back within ~1e-7 degrees, about a centimetre); outside China both return the point unchanged. */
(function () {
  "use strict";

  var A = 6378245.0; // semi-major axis of the Krasovsky 1940 ellipsoid
  var EE = 0.00669342162296594323; // its first eccentricity squared

  function outOfChina(lat, lng) {
    return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function offsets(x, y) {
    var common = (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    var lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + common;
    lat += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    lat += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320.0 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    var lng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + common;
    lng += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    lng += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    return { lat: lat, lng: lng };
  }

  // The shift (degrees) GCJ-02 adds to the WGS-84 point (lat, lng).
  function delta(lat, lng) {
    var d = offsets(lng - 105.0, lat - 35.0);
    var radLat = lat / 180.0 * Math.PI;
    var magic = 1 - EE * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    return {
      lat: (d.lat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI),
      lng: (d.lng * 180.0) / (A / sqrtMagic * Math.cos(radLat) * Math.PI)
    };
  }

  function toGcj(lat, lng) {
    if (outOfChina(lat, lng)) { return { lat: lat, lng: lng }; }
    var d = delta(lat, lng);
    return { lat: lat + d.lat, lng: lng + d.lng };
  }

  function toWgs(lat, lng) {
    if (outOfChina(lat, lng)) { return { lat: lat, lng: lng }; }
    // Fixed-point iteration: the shift changes slowly, so each round gains several digits.
    var wgs = { lat: lat, lng: lng };
    for (var i = 0; i < 30; i++) {
      var back = toGcj(wgs.lat, wgs.lng);
      var dLat = lat - back.lat;
      var dLng = lng - back.lng;
      wgs = { lat: wgs.lat + dLat, lng: wgs.lng + dLng };
      if (Math.abs(dLat) < 1e-9 && Math.abs(dLng) < 1e-9) { break; }
    }
    return wgs;
  }

  window.GridcaseGcj02 = { toGcj: toGcj, toWgs: toWgs, outOfChina: outOfChina };
})();
