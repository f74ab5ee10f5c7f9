/* fetch() for page scripts: same-origin cookies, the CSRF token header, JSON answers. */
(function () {
  "use strict";
  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function send(url, options) {
    options = options || {};
    var headers = Object.assign({ "X-CSRFToken": token(), Accept: "application/json" }, options.headers || {});
    var init = Object.assign({}, options, { headers: headers, credentials: "same-origin" });
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      headers["Content-Type"] = "application/json";
      delete init.json;
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }
  window.GridcaseFetch = { send: send, token: token };
})();
