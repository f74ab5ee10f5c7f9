/* The page maps (Leaflet). The default layer is our own territory: grid outlines, compounds (小区) and
   buildings (楼栋) with their names, fetched per XYZ tile from data-layer-url for what the map shows (names
   appear from a zoom on: CSS classes labels-<level> on the map). A tile server is drawn underneath only when
   the setting names one (data-tile-url, -attribution, -subdomains, -max-zoom); with data-tile-crs="gcj02" the
   tiles are in GCJ-02, so our WGS-84 points are converted for drawing and picked points converted back
   (gcj02.js). Everything outside this file stays WGS-84.
   GridcaseMap.show(element): a case map from data-lat / data-lon / data-grid (GeoJSON Feature).
   GridcaseMap.picker(element, onPick): a map to pick a location; onPick(lat, lon) gets WGS-84. */
(function () {
  "use strict";

  var CASE_GRID_STYLE = { color: "#1c6dd0", weight: 3, fillColor: "#1c6dd0", fillOpacity: 0.06 };
  var LEVEL_STYLES = {
    grid: { color: "#1c6dd0", weight: 1.5, dashArray: "6 4", fill: false },
    compound: { color: "#2e7d32", weight: 1, fillColor: "#66bb6a", fillOpacity: 0.18 },
    building: { color: "#8d6e63", weight: 1, fillColor: "#bcaaa4", fillOpacity: 0.55 }
  };
  var PANES = { grid: 402, compound: 403, building: 404 }; // drawn in this order whatever tile came first
  // Names shown from these map zooms on (grids: up to GRID_LABELS_UNTIL, where compounds take over). A name
  // sits at its outline's centre, so a closer threshold would leave big compounds' names outside the view.
  var LABEL_ZOOM = { compound: 14, building: 16 };
  var GRID_LABELS_UNTIL = 14;
  var CASE_ZOOM = 16; // a case map opens at least this close to its pin
  var PIN_STYLE = {
    radius: 9, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1, pane: "markerPane"
  };
  var DEFAULT_CENTER = [30.7934, 103.9332];
  var MAX_TILES = 16; // a layer tile is 4 map tiles wide, so a phone or desktop view needs 1 to 6

  function parse(value) {
    if (!value || value === "null") { return null; }
    try { return JSON.parse(value); } catch (error) { return null; }
  }

  // Our WGS-84 <-> what the tiles are drawn in.
  function projection(element) {
    if (element.dataset.tileCrs !== "gcj02") {
      return {
        toMap: function (lat, lng) { return L.latLng(lat, lng); },
        toWgs: function (latlng) { return { lat: latlng.lat, lng: latlng.lng }; }
      };
    }
    var gcj = window.GridcaseGcj02;
    if (!gcj) { throw new Error("MAP_TILE_CRS=gcj02 needs gcj02.js on the page"); }
    return {
      toMap: function (lat, lng) { var p = gcj.toGcj(lat, lng); return L.latLng(p.lat, p.lng); },
      toWgs: function (latlng) { return gcj.toWgs(latlng.lat, latlng.lng); }
    };
  }

  function baseMap(element) {
    var data = element.dataset;
    var map = L.map(element, { attributionControl: Boolean(data.tileUrl), zoomSnap: 0.25, maxZoom: 20 });
    map.projection = projection(element);
    if (data.tileUrl) {
      map.attributionControl.setPrefix(false);
      L.tileLayer(data.tileUrl, {
        attribution: data.tileAttribution || "",
        subdomains: data.tileSubdomains || "abc",
        maxNativeZoom: parseInt(data.tileMaxZoom || "18", 10),
        maxZoom: 20
      }).addTo(map);
    }
    Object.keys(PANES).forEach(function (level) {
      map.createPane("territory-" + level).style.zIndex = PANES[level];
    });
    map.on("zoomend", function () { showLabels(map, element); });
    return map;
  }

  // The first view, without animation: a view change while an animated one is under way is undone when that
  // animation ends (Leaflet), so a tap on "use my location" right after loading would be lost.
  function firstView(map, element, bounds, maxZoom) {
    if (bounds) {
      map.fitBounds(bounds, { maxZoom: maxZoom, animate: false });
    } else {
      map.setView(map.projection.toMap(DEFAULT_CENTER[0], DEFAULT_CENTER[1]), 14, { animate: false });
    }
    showLabels(map, element);
  }

  function showLabels(map, element) {
    var zoom = map.getZoom();
    element.dataset.zoom = String(zoom);
    element.classList.toggle("labels-grid", zoom < GRID_LABELS_UNTIL);
    element.classList.toggle("labels-compound", zoom >= LABEL_ZOOM.compound);
    element.classList.toggle("labels-building", zoom >= LABEL_ZOOM.building);
  }

  function geoJson(map, data, options) {
    options.coordsToLatLng = function (coords) { return map.projection.toMap(coords[1], coords[0]); };
    return L.geoJSON(data, options);
  }

  // -- the territory layer, tile by tile ------------------------------------------------------------------

  function tileRange(bounds, zoom) {
    var n = Math.pow(2, zoom);
    function x(lng) { return Math.min(n - 1, Math.max(0, Math.floor((lng + 180) / 360 * n))); }
    function y(lat) {
      var rad = lat * Math.PI / 180;
      var value = (1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2 * n;
      return Math.min(n - 1, Math.max(0, Math.floor(value)));
    }
    return { x0: x(bounds.west), x1: x(bounds.east), y0: y(bounds.north), y1: y(bounds.south) };
  }

  function territory(map, element, skipCodes) {
    var url = element.dataset.layerUrl;
    if (!url) { return; }
    var query = element.dataset.layerCase ? "?case=" + encodeURIComponent(element.dataset.layerCase) : "";
    var drawn = {};
    var asked = {};
    (skipCodes || []).forEach(function (code) { drawn[code] = true; });

    function draw(collection) {
      var fresh = collection.features.filter(function (feature) {
        var code = feature.properties.code;
        if (drawn[code]) { return false; }
        drawn[code] = true;
        return true;
      });
      fresh.forEach(function (feature) {
        var level = feature.properties.level;
        var layer = geoJson(map, feature, {
          pane: "territory-" + level, className: "territory-" + level, style: LEVEL_STYLES[level]
        }).addTo(map);
        layer.bindTooltip(feature.properties.name, {
          permanent: true, direction: "center", pane: "tooltipPane", className: "map-label map-label-" + level
        });
      });
      element.dataset.territoryDrawn = String(Object.keys(drawn).length);
    }

    function forget(key) {
      return function () { delete asked[key]; };
    }

    function refresh() {
      var zoom = Math.max(8, Math.min(Math.floor(map.getZoom()) - 2, 16));
      var view = map.getBounds();
      var sw = map.projection.toWgs(view.getSouthWest());
      var ne = map.projection.toWgs(view.getNorthEast());
      var range = tileRange({ west: sw.lng, south: sw.lat, east: ne.lng, north: ne.lat }, zoom);
      if ((range.x1 - range.x0 + 1) * (range.y1 - range.y0 + 1) > MAX_TILES) { return; }
      for (var x = range.x0; x <= range.x1; x++) {
        for (var y = range.y0; y <= range.y1; y++) {
          var key = zoom + "/" + x + "/" + y;
          if (asked[key]) { continue; }
          asked[key] = true;
          fetch(url.replace(/0\/0\/0\.json$/, key + ".json") + query,
                { headers: { Accept: "application/json" }, credentials: "same-origin" })
            .then(function (response) { return response.ok ? response.json() : null; })
            .then(function (collection) { if (collection) { draw(collection); } })
            // Offline (the phone app) or a dropped connection: no layer for that tile now, asked again on the
            // next move instead of an uncaught error.
            .catch(forget(key));
        }
      }
    }
    map.on("moveend", refresh);
    refresh();
  }

  // -- the two kinds of map -------------------------------------------------------------------------------

  function show(element) {
    if (!element) { return null; }
    var map = baseMap(element);
    var grid = parse(element.dataset.grid);
    var bounds = null;
    var point = null;
    if (grid) {
      var layer = geoJson(map, grid, { style: CASE_GRID_STYLE, interactive: false }).addTo(map);
      bounds = layer.getBounds();
    }
    if (element.dataset.lat && element.dataset.lon) {
      point = map.projection.toMap(parseFloat(element.dataset.lat), parseFloat(element.dataset.lon));
      L.circleMarker(point, PIN_STYLE).addTo(map);
      bounds = bounds ? bounds.extend(point) : L.latLngBounds([point, point]);
    }
    firstView(map, element, bounds && bounds.pad(0.2), 18);
    if (point && map.getZoom() < CASE_ZOOM) {
      // close enough for the buildings and the compounds' names around the pin
      map.setView(point, CASE_ZOOM, { animate: false });
    }
    territory(map, element, []);
    element.gridcaseMap = map;
    return map;
  }

  function picker(element, onPick) {
    var map = baseMap(element);
    var pin = null;
    var area = parse(element.dataset.bounds); // [west, south, east, north] of the territory, WGS-84
    var bounds = area && L.latLngBounds(
      map.projection.toMap(area[1], area[0]), map.projection.toMap(area[3], area[2]));
    firstView(map, element, bounds, 18);
    function mark(point) {
      if (pin) { pin.setLatLng(point); } else { pin = L.circleMarker(point, PIN_STYLE).addTo(map); }
    }
    function place(lat, lon, pan) {
      var point = map.projection.toMap(lat, lon);
      mark(point);
      if (pan) { map.setView(point, Math.max(map.getZoom(), 16), { animate: false }); }
      onPick(lat, lon);
    }
    map.on("click", function (event) {
      mark(event.latlng);
      var wgs = map.projection.toWgs(event.latlng);
      onPick(wgs.lat, wgs.lng);
    });
    territory(map, element, []);
    element.gridcaseMap = map;
    return { map: map, place: place };
  }

  window.GridcaseMap = { show: show, picker: picker };
  document.addEventListener("DOMContentLoaded", function () { show(document.getElementById("case-map")); });
})();
