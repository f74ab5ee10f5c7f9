/* The phone's offline queue: photo uploads and task completions are kept in IndexedDB (idb-keyval) before
   they are sent, each with its own Idempotency-Key made once, so a send cut off mid-way (or a page reloaded
   while offline) is sent again later with the same key and the server answers the first result instead of
   storing a second photo or completion. Sent in order when the network returns (the "online" event) and on
   every page load: photos first, then the completions, whose photos still queued when they were made
   ("local:<id>") are replaced by the ids the server gave them.
   GridcaseQueue.start(statusElement) → the queue; see its methods at the end. */
(function () {
  "use strict";

  var store = idbKeyval.createStore("gridcase-offline", "queue");
  var LOCAL = "local:";

  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function post(entry, onProgress) {
    // XMLHttpRequest for the upload progress (fetch has none for request bodies)
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", entry.url);
      xhr.setRequestHeader("X-CSRFToken", GridcaseFetch.token());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Idempotency-Key", entry.key);
      if (onProgress) {
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) { onProgress(event.loaded, event.total); }
        });
      }
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
        // a redirect to the sign-in page answers HTML: the session ended, the entry waits for a sign-in
        var signedOut = body === null || new URL(xhr.responseURL, location.href).pathname !==
          new URL(entry.url, location.href).pathname;
        resolve({ ok: xhr.status >= 200 && xhr.status < 300 && !signedOut, status: xhr.status,
          body: body || {}, signedOut: signedOut });
      });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.addEventListener("timeout", function () { reject(new Error("network")); });
      xhr.timeout = 180000;
      if (entry.type === "photo") {
        var form = new FormData();
        form.append("file", entry.blob, entry.name);
        xhr.send(form);
      } else {
        xhr.setRequestHeader("Content-Type", "application/json");
        xhr.send(JSON.stringify(entry.body));
      }
    });
  }

  function start(statusElement) {
    var texts = statusElement ? statusElement.dataset : {};
    var user = texts.user || "";
    var listeners = [];
    var running = null;
    var rerun = null;
    var progress = {}; // entry id → function(loaded, total) of the page showing that upload

    function all() {
      return idbKeyval.values(store).then(function (items) {
        return items.filter(function (e) { return e.user === user; })
          .sort(function (a, b) { return a.created - b.created || (a.type === "photo" ? -1 : 1); });
      });
    }

    function save(entry) { return idbKeyval.set(entry.id, entry, store).then(function () { return entry; }); }
    function drop(id) { return idbKeyval.del(id, store); }

    function add(fields) {
      var entry = Object.assign({ id: newId(), key: newId(), user: user, created: Date.now(), state: "pending" },
        fields);
      return save(entry).then(function (saved) { show(); return saved; });
    }

    function resolveRefs(value, ids) {
      if (Array.isArray(value)) { return value.map(function (v) { return resolveRefs(v, ids); }); }
      if (typeof value === "string" && value.indexOf(LOCAL) === 0) {
        return ids[value] === undefined ? value : ids[value];
      }
      if (value && typeof value === "object") {
        var out = {};
        Object.keys(value).forEach(function (k) { out[k] = resolveRefs(value[k], ids); });
        return out;
      }
      return value;
    }

    function unresolved(value) { return JSON.stringify(value).indexOf('"' + LOCAL) >= 0; }

    function sendOne(entry, ids) {
      if (entry.type === "complete") {
        entry.body = resolveRefs(entry.body, ids);
        if (unresolved(entry.body)) { return Promise.resolve({ waiting: true }); } // its photo failed or waits
      }
      return post(entry, progress[entry.id]).then(function (answer) {
        if (answer.ok) {
          entry.state = "sent";
          entry.answer = answer.body;
          if (entry.type === "photo") { ids[LOCAL + entry.id] = answer.body.id; }
          return save(entry).then(function () { return { sent: entry }; });
        }
        if (answer.signedOut) { return { stop: "signed_out" }; }
        var firstStillRuns = answer.status === 409 && (answer.body.details || {})["Idempotency-Key"];
        if (firstStillRuns || answer.status >= 500) { return { stop: "retry" }; } // the first try still runs, or broken
        entry.state = "failed";
        entry.status = answer.status;
        entry.problem = answer.body.message || String(answer.status);
        entry.answer = answer.body;
        return save(entry).then(function () { return { failed: entry }; });
      }, function () { return { stop: "offline" }; });
    }

    /* Sends every pending entry once (one run at a time); resolves {sent, failed: [entries], stopped}. */
    function sync() {
      if (running) { // entries added meanwhile go in the next run
        rerun = rerun || running.then(function () { rerun = null; return sync(); });
        return rerun;
      }
      if (!navigator.onLine) { // surely offline (the other way round the phone may be wrong): not tried
        show("offline");
        return Promise.resolve({ sent: [], failed: [], stopped: "offline" });
      }
      running = all().then(function (entries) {
        var ids = {};
        var sent = [];
        var failed = [];
        entries.forEach(function (e) { if (e.type === "photo" && e.state === "sent") { ids[LOCAL + e.id] = e.answer.id; } });
        var pending = entries.filter(function (e) { return e.state === "pending"; });
        var chain = Promise.resolve(null);
        pending.forEach(function (entry) {
          chain = chain.then(function (stopped) {
            if (stopped) { return stopped; }
            return sendOne(entry, ids).then(function (result) {
              if (result.sent) { sent.push(result.sent); }
              if (result.failed) { failed.push(result.failed); }
              return result.stop || null;
            });
          });
        });
        return chain.then(function (stopped) { return { sent: sent, failed: failed, stopped: stopped }; });
      }).then(function (result) {
        running = null;
        return cleanUp().then(function () { show(result.stopped); notify(result); return result; });
      }, function (error) { running = null; show(); throw error; });
      show("sending");
      return running;
    }

    function cleanUp() {
      // a task's entries go once its completion is sent; a sent photo stays until then (its id is needed)
      return all().then(function (entries) {
        var done = {};
        entries.forEach(function (e) { if (e.type === "complete" && e.state === "sent") { done[e.taskId] = true; } });
        return Promise.all(entries.filter(function (e) { return done[e.taskId]; }).map(function (e) {
          return drop(e.id);
        }));
      });
    }

    function waiting(entries) {
      // what the worker sees as one item: a completion (with its photos), or a photo not yet in one
      var completing = {};
      entries.forEach(function (e) { if (e.type === "complete") { completing[e.taskId] = true; } });
      return entries.filter(function (e) {
        return e.state === "pending" && (e.type === "complete" || !completing[e.taskId]);
      }).length;
    }

    function show(state) {
      if (!statusElement) { return; }
      all().then(function (entries) {
        var count = waiting(entries);
        var failed = entries.filter(function (e) { return e.state === "failed"; });
        var line = "";
        if (count && (!navigator.onLine || state === "offline")) {
          line = texts.msgQueued.replace("%(n)s", String(count));
        } else if (count && state === "signed_out") {
          line = texts.msgSignIn.replace("%(n)s", String(count));
        } else if (count && state === "sending") {
          line = texts.msgSending.replace("%(n)s", String(count));
        } else if (count) {
          line = texts.msgWaiting.replace("%(n)s", String(count));
        } else if (!navigator.onLine) {
          line = texts.msgOffline;
        }
        statusElement.replaceChildren();
        statusElement.appendChild(document.createTextNode(line));
        failed.forEach(function (entry) {
          var row = document.createElement("span");
          row.className = "queue-failed";
          // a task done, handed on or gone meanwhile: said in the page's words; else the server's
          var gone = entry.status === 403 || entry.status === 404 || entry.status === 409;
          row.textContent = texts.msgFailed + " " + (gone ? texts.msgGone : entry.problem);
          var discard = document.createElement("button");
          discard.type = "button";
          discard.className = "small";
          discard.textContent = texts.msgDiscard;
          discard.addEventListener("click", function () { drop(entry.id).then(function () { show(); }); });
          row.appendChild(discard);
          statusElement.appendChild(row);
        });
        statusElement.hidden = !line && !failed.length;
        statusElement.classList.toggle("offline", !navigator.onLine);
      });
    }

    function notify(result) { listeners.forEach(function (listener) { listener(result); }); }

    window.addEventListener("online", function () { sync(); });
    window.addEventListener("offline", function () { show("offline"); });

    return {
      add: add,
      all: all,
      get: function (id) { return idbKeyval.get(id, store); },
      drop: drop,
      sync: sync,
      show: show,
      local: function (entry) { return LOCAL + entry.id; },
      onProgress: function (entryId, callback) { progress[entryId] = callback; },
      onSynced: function (listener) { listeners.push(listener); }
    };
  }

  window.GridcaseQueue = { start: start };
})();
