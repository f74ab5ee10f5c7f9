/* The live board: polls data-live-url every data-poll-seconds with If-None-Match (304 while nothing changed),
   swaps the changed parts in (the same server templates as the page), and ticks each responder's countdown
   every second by the server's clock (X-Board-Now: the injected clock in tests, the server's in production).
   The steps' part is redrawn only when its key changes, so a form being typed is never lost. A failed poll
   says so and is retried with a growing pause (weak networks). Polling, not server-sent events: see
   app/web/command/views.py. */
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root) { return; }
  var data = root.dataset;
  var pollMs = Math.max(2, parseInt(data.pollSeconds, 10) || 5) * 1000;
  var pause = pollMs;
  var etag = null;
  var stepsKey = data.stepsKey;
  var offset = Date.parse(data.now) - Date.now(); // server clock minus this browser's
  var status = document.getElementById("live-status");
  var timer = null;

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clock(seconds) {
    var s = Math.abs(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    return (h ? h + ":" + two(m) : two(m)) + ":" + two(rest);
  }

  function tick() {
    var now = Date.now() + offset;
    Array.prototype.forEach.call(root.querySelectorAll(".cc-countdown"), function (node) {
      var left = Math.floor((Date.parse(node.dataset.due) - now) / 1000);
      var text = (left >= 0 ? data.msgLeft : data.msgOver).replace("%(t)s", clock(left));
      if (node.textContent !== text) { node.textContent = text; }
      node.classList.toggle("is-over", left < 0);
    });
  }

  function swap(parts, newStepsKey) {
    Object.keys(parts).forEach(function (name) {
      if (name === "steps" && newStepsKey === stepsKey) { return; }
      var node = root.querySelector('[data-part="' + name + '"]');
      if (node) { node.innerHTML = parts[name]; }
    });
    stepsKey = newStepsKey;
    tick();
  }

  function said(text) {
    if (status.textContent !== text) { status.textContent = text; }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, pause);
  }

  function poll() {
    var headers = { Accept: "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(data.liveUrl, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var serverNow = response.headers.get("X-Board-Now");
        if (serverNow) { offset = Date.parse(serverNow) - Date.now(); }
        if (response.status === 304) { return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (body) {
        if (body) { swap(body.parts, body.steps_key); }
        root.dataset.polls = String((parseInt(root.dataset.polls || "0", 10)) + 1);
        said(data.msgLive.replace("%(time)s", new Date(Date.now() + offset).toLocaleTimeString()));
        status.classList.remove("stale");
        pause = pollMs;
      })
      .catch(function () {
        said(data.msgStale);
        status.classList.add("stale");
        pause = Math.min(pause * 2, 60000);
      })
      .then(schedule);
  }

  // a board in a background tab asks again as soon as it is looked at
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { clearTimeout(timer); poll(); }
  });
  tick();
  setInterval(tick, 1000);
  schedule();
})();
