/* The grid worker's pages as an app: registers the service worker (/m/sw.js), tells it what this page loaded
   so the shell is kept for offline use, starts the offline queue (offline_queue.js) and sends what it holds
   now and whenever the network returns; the inbox reloads once a queued completion went through. Signing
   out empties the kept pages first. GridcaseWorker.queue is the queue for the task page's script,
   GridcaseWorker.forgetPage(url) drops a kept page (a task once completed). */
(function () {
  "use strict";

  var status = document.getElementById("offline-status");
  if (!status) { return; }
  var queue = GridcaseQueue.start(status);

  function forgetPage(url) {
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) { worker.postMessage({ type: "drop", url: new URL(url, location.href).href }); }
  }

  window.GridcaseWorker = { queue: queue, forgetPage: forgetPage };

  function loadedUrls() {
    var urls = [location.href];
    performance.getEntriesByType("resource").forEach(function (entry) { urls.push(entry.name); });
    return urls.filter(function (url) { return new URL(url, location.href).origin === location.origin; });
  }

  function loaded() {
    // the scripts after this one count too: asked once the whole page has loaded
    return new Promise(function (resolve) {
      if (document.readyState === "complete") { resolve(); } else { window.addEventListener("load", resolve); }
    });
  }

  if ("serviceWorker" in navigator && status.dataset.swUrl) {
    navigator.serviceWorker.register(status.dataset.swUrl, { scope: status.dataset.scope })
      .then(function () { return Promise.all([navigator.serviceWorker.ready, loaded()]); })
      .then(function (ready) {
        ready[0].active.postMessage({ type: "keep", urls: loadedUrls() });
      })
      .catch(function () { /* no service worker (e.g. private mode): the pages work online as before */ });
  }

  var signOut = document.querySelector("form.signout");
  if (signOut) {
    signOut.addEventListener("submit", function (event) {
      if (!window.caches || signOut.dataset.forgotten) { return; }
      event.preventDefault();
      var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
      if (worker) { worker.postMessage({ type: "forget" }); }
      caches.delete("gridcase-m-v1").finally(function () {
        signOut.dataset.forgotten = "1";
        signOut.submit();
      });
    });
  }

  queue.onSynced(function (result) {
    var completed = result.sent.filter(function (entry) { return entry.type === "complete"; });
    // a completed task's kept page would offer its old form offline: forgotten
    completed.forEach(function (entry) { forgetPage(entry.url.replace(/\/complete$/, "")); });
    if (completed.length && status.dataset.page === "inbox") { location.reload(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    queue.show();
    if (navigator.onLine) { queue.sync(); }
  });
})();
