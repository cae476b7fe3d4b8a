/* JSON requests from the pages to the app, with the page's CSRF token (loaded by base.html).
 *
 *   BinglianRequest.send(method, url, payload, headers) -> Promise of {ok, status, body}
 * payload undefined sends no body; headers are added to the JSON and CSRF ones. An answer that
 * is not JSON becomes {message: …}; a network failure rejects the promise.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function send(method, url, payload, headers) {
    var all = {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()};
    Object.keys(headers || {}).forEach(function (name) { all[name] = headers[name]; });
    return fetch(url, {
      method: method, credentials: "same-origin", headers: all,
      body: payload === undefined ? undefined : JSON.stringify(payload)
    }).then(function (resp) {
      return resp.json().catch(function () { return {message: "服务器返回了无法识别的内容"}; })
        .then(function (body) { return {ok: resp.ok, status: resp.status, body: body}; });
    });
  }

  window.BinglianRequest = {send: send};
})();
