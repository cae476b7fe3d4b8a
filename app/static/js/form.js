/* Mount a form-js form and submit it as JSON (with the page's CSRF token, through request.js).
 *
 * Markup:
 *   <div class="js-form" data-schema="…json…" data-values="…json…" data-submit-url="/x" data-redirect="/y"
 *        data-idempotency-key="…"></div>  (optional: sent as the Idempotency-Key header of every try)
 *   <div class="form-result" role="alert" aria-live="assertive"></div>   (optional, next to it)
 *   <button class="js-form-submit" data-for="form-id">提交</button>  (optional; else form-js's own submit)
 * The server answers JSON: {"redirect": "/next"} on success, or {"message", "errors": {field: [...]}}.
 */
(function () {
  "use strict";

  function showProblems(box, body) {
    if (!box) { return; }
    box.textContent = "";
    var title = document.createElement("p");
    title.className = "error";
    title.textContent = (body && body.message) || "提交失败，请稍后重试";
    box.appendChild(title);
    var errors = body && body.errors;
    if (errors && typeof errors === "object") {
      var list = document.createElement("ul");
      list.className = "errors";
      Object.keys(errors).forEach(function (key) {
        var item = document.createElement("li");
        var value = errors[key];
        item.textContent = Array.isArray(value) ? value.join("；") : String(value);
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    box.focus();
  }

  function post(url, payload, idempotencyKey) {
    return BinglianRequest.send("POST", url, payload, idempotencyKey ? {"Idempotency-Key": idempotencyKey} : {});
  }

  async function mount(container) {
    var schema = JSON.parse(container.getAttribute("data-schema"));
    var values = JSON.parse(container.getAttribute("data-values") || "{}");
    var box = container.parentNode.querySelector(".form-result");
    var extra = container.getAttribute("data-extra");  // id of a <form> whose fields are sent along
    var form = await FormViewer.createForm({container: container, schema: schema, data: values});
    var busy = false;
    document.querySelectorAll('.js-form-submit[data-for="' + container.id + '"]').forEach(function (button) {
      button.addEventListener("click", function (event) { event.preventDefault(); form.submit(); });
    });
    form.on("submit", function (event) {
      if (busy || Object.keys(event.errors || {}).length) { return; }
      busy = true;
      var payload = {data: event.data};
      if (extra) {
        new FormData(document.getElementById(extra)).forEach(function (value, key) { payload[key] = value; });
      }
      post(container.getAttribute("data-submit-url"), payload, container.getAttribute("data-idempotency-key")).then(function (result) {
        busy = false;
        if (result.ok) {
          window.location.assign(result.body.redirect || container.getAttribute("data-redirect") || window.location.href);
        } else {
          showProblems(box, result.body);  // the form keeps what was typed
        }
      }, function () {
        busy = false;
        showProblems(box, {message: "网络错误，请检查连接后重试"});
      });
    });
  }

  document.querySelectorAll(".js-form").forEach(function (container) { mount(container); });
  window.BinglianForm = {post: post, showProblems: showProblems};
})();
