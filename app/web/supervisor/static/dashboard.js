// One-screen dashboard (一屏掌控): a Leaflet map of open cases over the grid polygons (no tile server: the
// grids are the map), counts, KPIs, the overdue list and ECharts charts; polls its JSON endpoint every N
// seconds. Data comes from data-* attributes and JSON endpoints only (CSP: no inline script).
(function () {
  "use strict";

  var SEVERITY_COLOURS = { red: "#c62828", orange: "#ef6c00", yellow: "#f9a825", blue: "#1565c0" };
  var STATUS_ORDER = ["reported", "triage", "dispatching", "handling", "feedback", "review",
                      "closed", "rejected", "duplicate", "withdrawn"];
  var DEFAULT_CENTRE = [30.79, 103.93];

  function Dashboard(root) {
    this.root = root;
    this.text = JSON.parse(root.dataset.strings || "{}");
    this.locale = (root.dataset.locale || "zh_CN").replace("_", "-");
    this.refreshMs = Math.max(2, parseInt(root.dataset.refreshSeconds, 10) || 30) * 1000;
    this.refreshCount = 0;
    this.number = new Intl.NumberFormat(this.locale);
    this.percent = new Intl.NumberFormat(this.locale, { style: "percent", maximumFractionDigits: 1 });
    this.time = new Intl.DateTimeFormat(this.locale, { dateStyle: "short", timeStyle: "short" });
    this.fitted = false;
    this.map = L.map(document.getElementById("dash-map"), { attributionControl: false, zoomSnap: 0.25 });
    this.map.setView(DEFAULT_CENTRE, 12);
    this.gridLayer = L.geoJSON(null, { style: this.gridStyle }).addTo(this.map);
    this.markerLayer = L.featureGroup().addTo(this.map);
    this.charts = {};
    ["status", "category", "trend"].forEach(function (name) {
      var element = document.getElementById("chart-" + name);
      if (element) { this.charts[name] = echarts.init(element, null, { renderer: "canvas" }); }
    }, this);
    window.addEventListener("resize", this.resize.bind(this));
  }

  Dashboard.prototype.t = function (key, fallback) {
    return this.text[key] || fallback || key;
  };

  Dashboard.prototype.caseUrl = function (key) {
    return this.root.dataset.caseUrl.replace("__KEY__", encodeURIComponent(key));
  };

  Dashboard.prototype.gridStyle = function (feature) {
    var community = feature.properties.level === "community";
    return {
      color: community ? "#37474f" : "#78909c",
      weight: community ? 2.5 : 1,
      fillColor: "#cfd8dc",
      fillOpacity: community ? 0 : 0.25,
      className: "grid-polygon grid-" + feature.properties.level
    };
  };

  Dashboard.prototype.getJson = function (url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  };

  Dashboard.prototype.loadGrids = function () {
    var self = this;
    return this.getJson(this.root.dataset.gridsUrl).then(function (collection) {
      self.gridLayer.addData(collection);
      self.gridLayer.eachLayer(function (layer) {
        layer.bindTooltip(layer.feature.properties.name, { sticky: true });
      });
      self.root.dataset.grids = String(collection.features.length);
    });
  };

  Dashboard.prototype.refresh = function () {
    var self = this;
    return this.getJson(this.root.dataset.url)
      .then(function (data) {
        self.render(data);
        self.refreshCount += 1;
        self.root.dataset.refreshCount = String(self.refreshCount);
        document.getElementById("dash-error").textContent = "";
      })
      .catch(function (error) {
        document.getElementById("dash-error").textContent = self.t("refresh_failed") + " (" + error.message + ")";
      })
      .then(function () {
        window.setTimeout(self.refresh.bind(self), self.refreshMs);
      });
  };

  Dashboard.prototype.render = function (data) {
    document.getElementById("dash-updated").textContent =
      this.t("updated") + " " + this.time.format(new Date(data.generated_at));
    this.renderTiles(data);
    this.renderMarkers(data.markers);
    this.renderStatus(data.by_status);
    this.renderCategories(data.by_category);
    this.renderOverdue(data.overdue);
    if (data.kpis) { this.renderKpis(data.kpis); }
    if (data.trend && this.charts.trend) { this.renderTrend(data.trend); }
  };

  Dashboard.prototype.setText = function (id, value) {
    var element = document.getElementById(id);
    if (element) { element.textContent = value; }
  };

  Dashboard.prototype.renderTiles = function (data) {
    this.setText("tile-open", this.number.format(data.open_total));
    data.by_severity.forEach(function (row) {
      this.setText("tile-" + row.severity, this.number.format(row.count));
    }, this);
    this.setText("tile-overdue", this.number.format(data.overdue_total));
  };

  Dashboard.prototype.renderMarkers = function (markers) {
    var self = this;
    this.markerLayer.clearLayers();
    markers.forEach(function (m) {
      var colour = SEVERITY_COLOURS[m.severity] || "#607d8b";
      var marker = L.circleMarker([m.lat, m.lon], {
        radius: m.overdue ? 9 : 7,
        color: m.overdue ? "#000" : "#fff",
        weight: m.overdue ? 2.5 : 1.5,
        fillColor: colour,
        fillOpacity: 0.9,
        className: "case-marker severity-" + m.severity + (m.overdue ? " is-overdue" : "")
      });
      marker.bindTooltip(m.key + " · " + m.title + " · " + self.t("status." + m.status, m.status));
      marker.on("click", function () { window.location.href = self.caseUrl(m.key); });
      marker.addTo(self.markerLayer);
    });
    this.root.dataset.markers = String(markers.length);
    if (!this.fitted) {
      var bounds = this.gridLayer.getLayers().length ? this.gridLayer.getBounds() : this.markerLayer.getBounds();
      if (bounds.isValid()) { this.map.fitBounds(bounds, { padding: [12, 12] }); }
      this.fitted = true;
    }
  };

  Dashboard.prototype.richTooltip = { trigger: "axis", renderMode: "richText" };

  Dashboard.prototype.renderStatus = function (rows) {
    var byStatus = {};
    rows.forEach(function (row) { byStatus[row.status] = row.count; });
    var shown = STATUS_ORDER.filter(function (s) { return byStatus[s]; });
    this.charts.status.setOption({
      animation: false,
      grid: { left: 40, right: 12, top: 12, bottom: 60 },
      tooltip: this.richTooltip,
      xAxis: { type: "category", data: shown.map(function (s) { return this.t("status." + s, s); }, this),
               axisLabel: { rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: this.t("cases"), data: shown.map(function (s) { return byStatus[s]; }),
                 itemStyle: { color: "#1c6dd0" } }]
    });
    this.charts.status.getDom().dataset.points = String(shown.length);
  };

  Dashboard.prototype.renderCategories = function (rows) {
    var top = rows.slice(0, 10).reverse();
    this.charts.category.setOption({
      animation: false,
      grid: { left: 110, right: 16, top: 8, bottom: 24 },
      tooltip: this.richTooltip,
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: top.map(function (r) {
        return r.code ? r.code + " " + (r.name || "") : this.t("uncategorised");
      }, this) },
      series: [{ type: "bar", name: this.t("open_cases"), data: top.map(function (r) { return r.count; }),
                 itemStyle: { color: "#ef6c00" } }]
    });
    this.charts.category.getDom().dataset.points = String(top.length);
  };

  Dashboard.prototype.renderTrend = function (trend) {
    var series = ["received", "handled", "closed"].map(function (name) {
      return { type: "line", name: this.t(name), data: trend[name], smooth: true };
    }, this);
    this.charts.trend.setOption({
      animation: false,
      grid: { left: 40, right: 16, top: 32, bottom: 28 },
      tooltip: this.richTooltip,
      legend: { top: 0 },
      xAxis: { type: "category", data: trend.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: series
    });
    this.charts.trend.getDom().dataset.points = String(trend.days.length);
  };

  Dashboard.prototype.renderKpis = function (kpis) {
    var self = this;
    document.querySelectorAll("[data-kpi]").forEach(function (cell) {
      var key = cell.dataset.kpi;
      var value = kpis[key];
      if (value === null || value === undefined) { cell.textContent = "–"; return; }
      cell.textContent = /_rate$/.test(key) ? self.percent.format(value) : self.number.format(value);
    });
  };

  Dashboard.prototype.renderOverdue = function (rows) {
    var body = document.getElementById("dash-overdue");
    var self = this;
    body.replaceChildren();
    if (!rows.length) {
      var empty = body.insertRow();
      var cell = empty.insertCell();
      cell.colSpan = 5;
      cell.className = "muted";
      cell.textContent = this.t("none");
      return;
    }
    rows.forEach(function (row) {
      var tr = body.insertRow();
      tr.dataset.caseKey = row.key;
      var link = document.createElement("a");
      link.href = self.caseUrl(row.key);
      link.textContent = row.key;
      tr.insertCell().appendChild(link);
      tr.insertCell().textContent = row.title;
      var badge = document.createElement("span");
      badge.className = "sev sev-" + row.severity;
      badge.textContent = self.t("severity." + row.severity, row.severity);
      tr.insertCell().appendChild(badge);
      var due = tr.insertCell();
      due.className = "overdue";
      due.textContent = row.due_at ? self.time.format(new Date(row.due_at)) : "";
      tr.insertCell().textContent = (row.handler || "") +
        (row.escalation_level ? " · " + self.t("level." + row.escalation_level, row.escalation_level) : "");
    });
  };

  Dashboard.prototype.resize = function () {
    Object.keys(this.charts).forEach(function (name) { this.charts[name].resize(); }, this);
    this.map.invalidateSize();
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("dashboard");
    if (!root) { return; }
    var dashboard = new Dashboard(root);
    dashboard.loadGrids()
      .catch(function () { /* the markers still show without the grid backdrop */ })
      .then(function () { return dashboard.refresh(); });
  });
})();
