/* The grid worker's task page: the task form (static/js/task_form.js), the phone's location, photos and the
   completion. Photos are made small in the phone first (photo_resize.js) and shown at once from the phone,
   then sent through the offline queue (offline_queue.js) with a progress bar; the server's thumbnail takes
   the local picture's place once the photos job has made it. 办结 waits while photos are being sent. The
   completion goes through the queue too (with its own Idempotency-Key): offline it is kept and sent when
   the network returns, even after a reload. The server's field errors (JSON pointer and message in the
   user's language) are marked next to the fields they name. Without the queue (the form preview) the form
   is checked by the server straight away. */
(function () {
  "use strict";

  var root = document.getElementById("task-form");
  if (!root) { return; }
  var messages = root.dataset;
  var queue = window.GridcaseWorker ? GridcaseWorker.queue : null;
  var taskId = queue ? Number(document.getElementById("offline-status").dataset.taskId) : null;
  var location = null;
  var uploading = 0;
  var submitted = false; // a completion of this task waits in the queue
  var button = document.getElementById("complete-button");
  var formError = document.getElementById("form-error");
  var items = {}; // "local:<entry id>" → the photo's <li> in its field

  // -- photos ----------------------------------------------------------------------------------------

  function tickOf(item) { return item.querySelector("input[type=checkbox]"); }

  function showLocal(item, blob) {
    var label = item.querySelector("label");
    var pending = label.querySelector(".thumb-pending");
    var image = label.querySelector("img") || document.createElement("img");
    image.src = URL.createObjectURL(blob);
    image.alt = image.alt || tickOf(item).value;
    if (pending) { label.replaceChild(image, pending); }
  }

  function progressBar(item) {
    var bar = item.querySelector("progress") || document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    item.appendChild(bar);
    return bar;
  }

  function note(item, text) {
    var line = item.querySelector(".photo-note") || document.createElement("span");
    line.className = "photo-note muted";
    line.textContent = text;
    item.appendChild(line);
  }

  function serverThumbnail(item, answer, tries) {
    // the photos job makes the thumbnail after the upload: asked a few times, then the local picture stays
    if (answer.thumbnail) {
      var image = item.querySelector("img");
      var local = image.src;
      image.src = answer.thumbnail;
      image.dataset.server = "1";
      if (local.indexOf("blob:") === 0) { URL.revokeObjectURL(local); }
      return;
    }
    if (tries > 8) { return; }
    setTimeout(function () {
      GridcaseFetch.send(answer.status, { method: "GET" }).then(function (reply) {
        if (reply.ok && reply.body.has_thumbnail) { answer.thumbnail = answer.thumbnail_when_made; }
        serverThumbnail(item, answer, tries + 1);
      }, function () { serverThumbnail(item, answer, tries + 1); });
    }, 600 * Math.pow(1.5, tries));
  }

  function photoSent(entry) {
    var item = items[queue.local(entry)];
    if (!item) { return; }
    tickOf(item).value = String(entry.answer.id);
    var bar = item.querySelector("progress");
    if (bar) { bar.remove(); }
    note(item, "");
    serverThumbnail(item, entry.answer, 0);
  }

  function photoFailed(entry, api) {
    var item = items[queue.local(entry)];
    if (item) { item.remove(); }
    var details = entry.answer.details || {};
    api.status.textContent = messages.msgUploadFailed + " " + entry.name + ": " +
      (details.file || entry.problem);
    queue.drop(entry.id);
  }

  function settle(entry, api) {
    return queue.get(entry.id).then(function (now) {
      if (!now) { return; }
      var item = items[queue.local(now)];
      if (now.state === "sent") { photoSent(now); } else if (now.state === "failed") { photoFailed(now, api); } else if (item) {
        var bar = item.querySelector("progress");
        if (bar) { bar.remove(); }
        note(item, messages.msgPhotoQueued);
      }
      api.changed();
    });
  }

  function upload(files, api) {
    api.status.textContent = "";
    files.forEach(function (file) {
      uploading += 1;
      updateButton();
      var item = api.add({ id: "", thumbnail: null, label: "" }, true);
      note(item, messages.msgPreparing);
      GridcasePhoto.prepare(file).then(function (prepared) {
        showLocal(item, prepared.blob);
        return queue.add({
          type: "photo", taskId: taskId, field: api.path.join("."), blob: prepared.blob, name: prepared.name,
          url: messages.photoUrl + "?kind=" + encodeURIComponent(api.field.upload_kind)
        });
      }).then(function (entry) {
        items[queue.local(entry)] = item;
        tickOf(item).value = queue.local(entry);
        var bar = progressBar(item);
        note(item, messages.msgUploading);
        queue.onProgress(entry.id, function (loaded, total) { bar.value = loaded / total; });
        return queue.sync().then(function () { return settle(entry, api); }, function () {
          bar.remove();
          note(item, messages.msgPhotoQueued); // kept in the phone: the next run sends it
        });
      }, function () {
        // not kept in the phone (no storage for the queue): not offered as a photo of the form either
        item.remove();
        api.status.textContent = messages.msgUploadFailed + " " + file.name;
        api.changed();
      }).finally(function () {
        uploading -= 1;
        updateButton();
      });
    });
  }

  function restore(api) {
    // photos taken on this page before a reload, still in the phone (or sent, their completion not yet)
    queue.all().then(function (entries) {
      entries.forEach(function (entry) {
        if (entry.type !== "photo" || entry.taskId !== taskId || entry.field !== api.path.join(".")) { return; }
        var item;
        if (entry.state === "sent") {
          var listed = api.field && root.querySelector('.photo-field input[value="' + entry.answer.id + '"]');
          if (listed) { listed.checked = true; return; }
          item = api.add({ id: entry.answer.id, thumbnail: entry.answer.thumbnail, label: "" }, true);
          if (!entry.answer.thumbnail) { showLocal(item, entry.blob); }
          return;
        }
        item = api.add({ id: queue.local(entry), thumbnail: null, label: "" }, entry.state === "pending");
        items[queue.local(entry)] = item;
        showLocal(item, entry.blob);
        note(item, entry.state === "pending" ? messages.msgPhotoQueued : entry.problem);
      });
      api.changed();
    });
  }

  var form = GridcaseForm.mount(root, queue ? { photos: { field: restore, upload: upload } } : undefined);

  // -- location --------------------------------------------------------------------------------------
  var locationStatus = document.getElementById("location-status");
  if (locationStatus && messages.trackLocation) {
    if (navigator.geolocation) {
      locationStatus.textContent = messages.msgLocationWait;
      navigator.geolocation.getCurrentPosition(function (position) {
        location = {
          lat: position.coords.latitude,
          lon: position.coords.longitude,
          accuracy: Math.round(position.coords.accuracy || 0)
        };
        locationStatus.textContent = messages.msgLocationOk.replace("%(m)s", String(location.accuracy));
      }, function () {
        locationStatus.textContent = messages.msgLocationNone;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    } else {
      locationStatus.textContent = messages.msgLocationNone;
    }
  }

  // -- completion ------------------------------------------------------------------------------------
  if (!button) { return; }
  button.dataset.label = button.textContent;
  var parked = button.disabled;

  function updateButton() {
    button.disabled = parked || submitted || uploading > 0;
    button.textContent = uploading > 0 ? messages.msgWaitUploads
      : submitted ? messages.msgCompleteQueued : button.dataset.label;
    root.classList.toggle("is-submitted", submitted);
  }

  function fail(general) {
    formError.textContent = messages.msgFailed + (general.length ? " " + general.join(" ") : "");
    formError.hidden = false;
  }

  function serverProblems(body) {
    if (Array.isArray(body.errors) && body.errors.length) { return body.errors; }
    var details = body.details || {};
    var keys = Object.keys(details);
    if (!keys.length) { return [{ pointer: "", message: body.message || "" }]; }
    return keys.map(function (field) {
      return { pointer: "/" + field.split(".").join("/"), message: String(details[field]) };
    });
  }

  // once every marked field is corrected, the summary line goes too
  root.addEventListener("input", function () {
    if (!root.querySelector(".has-error")) { formError.hidden = true; }
  });

  function synced(result) {
    result.sent.forEach(function (entry) {
      if (entry.type === "photo") { photoSent(entry); }
      if (entry.type === "complete" && entry.taskId === taskId) {
        window.location.assign(entry.answer.redirect || messages.inboxUrl);
      }
    });
    result.failed.forEach(function (entry) {
      if (entry.type !== "complete" || entry.taskId !== taskId) { return; }
      if (entry.status !== 422) { parked = true; submitted = false; updateButton(); return; } // the line says why
      // refused (e.g. a field the server judges otherwise): the form stays, marked; the entry goes
      queue.drop(entry.id).then(function () { queue.show(); });
      submitted = false;
      updateButton();
      fail(form.showErrors(serverProblems(entry.answer)));
    });
    if (result.stopped && submitted) { queuedNotice(); }
  }

  function queuedNotice() {
    formError.textContent = messages.msgCompleteQueuedLong;
    formError.hidden = false;
  }

  function sendDirect() {
    // the form preview: the server's answer on the spot, nothing kept
    button.disabled = true;
    button.textContent = messages.msgSending;
    GridcaseFetch.send(messages.completeUrl, { method: "POST", json: { data: form.value(), location: location } })
      .then(function (answer) {
        updateButton();
        if (answer.ok) {
          formError.textContent = button.dataset.msgAccepted || "";
          formError.hidden = false;
          return;
        }
        fail(form.showErrors(serverProblems(answer.body)));
      }, function () {
        updateButton();
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  }

  function send(withChecks) {
    form.clearErrors();
    formError.hidden = true;
    var problems = withChecks ? form.check() : [];
    if (problems.length) { fail(form.showErrors(problems)); return; }
    if (!queue) { sendDirect(); return; }
    submitted = true;
    updateButton();
    queue.add({ type: "complete", taskId: taskId, url: messages.completeUrl,
      body: { data: form.value(), location: location } })
      .then(function () { return queue.sync(); })
      .then(function (result) { if (result.stopped && submitted) { queuedNotice(); } })
      .catch(function () {
        submitted = false;
        updateButton();
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  }

  if (queue) {
    queue.onSynced(synced);
    queue.all().then(function (entries) {
      submitted = entries.some(function (e) { return e.type === "complete" && e.taskId === taskId && e.state === "pending"; });
      updateButton();
      if (submitted && !navigator.onLine) { queuedNotice(); }
    });
  }
  button.addEventListener("click", function () { send(true); });
  // the form preview's "server only": what the server says about data the page would have refused
  var serverOnly = document.getElementById("server-check-button");
  if (serverOnly) { serverOnly.addEventListener("click", function () { send(false); }); }
})();
