/* The grid worker's service worker, served at /m/sw.js (scope /m/): the phone's pages keep working in a
   dead spot. Pages (the inbox, opened tasks): network first, the last copy when offline. Our CSS, JS and
   icons: from the cache first when their URL carries a fingerprint (a new file gets a new URL), otherwise
   the cached copy at once and a fresh one fetched behind it. Made thumbnails: from the cache. Sending
   (POST) always goes to the network: the page's offline queue (offline_queue.js) keeps what could not go.
   The page tells this worker what it loaded ({type: "keep", urls}), so the shell is cached whatever the
   static URLs look like; {type: "forget"} at sign-out empties the cache (the next person sees nothing);
   {type: "drop", url} forgets one page (a task just completed: its old form is not shown again offline). */
"use strict";

var CACHE = "gridcase-m-v1";
var SCOPE = new URL(self.registration.scope).pathname; // "/m/"
var STATIC = /^\/(static|vendor)\//;
var FINGERPRINT = /[?&]v=|[.-][0-9a-f]{8,}\.[a-z0-9]+$/i;
var THUMBNAIL = /^\/api\/v1\/attachments\/\d+\/content$/;

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("gridcase-m-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function isPage(url) { return url.pathname.indexOf(SCOPE) === 0 && !/\.[a-z]+$/.test(url.pathname); }
function isThumbnail(url) { return THUMBNAIL.test(url.pathname) && url.searchParams.get("thumbnail") === "1"; }
function keepable(url) {
  return url.origin === self.location.origin && (isPage(url) || STATIC.test(url.pathname) || isThumbnail(url));
}

function store(request, response) {
  // only whole, successful, own answers; never a sign-in page a redirect ended on
  if (!response || !response.ok || response.redirected || response.type !== "basic") { return response; }
  var copy = response.clone();
  caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
  return response;
}

function offlinePage() {
  var html = '<!doctype html><html lang="zh-CN"><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>离线</title>' +
    "<p>离线：此页面尚未保存在手机上，联网后再打开。</p><p lang=\"en\">Offline: this page was not saved on " +
    'the phone; open it again when online.</p><p><a href="' + SCOPE + '">任务 Tasks</a></p></html>';
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.redirected && new URL(response.url).pathname.indexOf(SCOPE) !== 0) {
      // sent to the sign-in page: the session is over, and so are the pages kept for it
      return caches.delete(CACHE).then(function () { return response; });
    }
    return store(request, response);
  }, function () {
    return caches.match(request).then(function (hit) { return hit || offlinePage(); });
  });
}

function cacheFirst(request) {
  return caches.match(request).then(function (hit) {
    return hit || fetch(request).then(function (response) { return store(request, response); });
  });
}

function staleWhileRevalidate(event, request) {
  var fresh = fetch(request).then(function (response) { return store(request, response); });
  event.waitUntil(fresh.catch(function () { return null; }));
  return caches.match(request).then(function (hit) { return hit || fresh; });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    if (isPage(url)) { event.respondWith(networkFirst(request)); }
    return;
  }
  if (STATIC.test(url.pathname)) {
    event.respondWith(FINGERPRINT.test(request.url) ? cacheFirst(request) : staleWhileRevalidate(event, request));
  } else if (isThumbnail(url)) {
    event.respondWith(cacheFirst(request));
  }
});

self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type === "forget") {
    event.waitUntil(caches.delete(CACHE));
  } else if (message.type === "drop" && typeof message.url === "string") {
    event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.delete(message.url); }));
  } else if (message.type === "keep" && Array.isArray(message.urls)) {
    // what a page loaded before this worker controlled it (its first visit): fetched into the cache
    event.waitUntil(caches.open(CACHE).then(function (cache) {
      return Promise.all(message.urls.map(function (raw) {
        var url = new URL(raw, self.location.origin);
        if (!keepable(url)) { return null; }
        return cache.match(url.href).then(function (hit) {
          if (hit && !isPage(url)) { return null; }
          return fetch(url.href, { credentials: "same-origin" }).then(function (response) {
            if (response.ok && !response.redirected) { return cache.put(url.href, response); }
            return null;
          }).catch(function () { return null; });
        });
      }));
    }));
  }
});
