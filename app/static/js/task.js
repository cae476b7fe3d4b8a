/* The task page's action forms (认领, 转办, 委派, 交回, 加签, 撤回, 抄送, 评论, 中止计时).
 *
 * The forms work without this script; it only asks before the actions that say
 * data-confirm, and stops a second click from posting the same form twice.
 * A form.js-extra (the 后加签 choice) is only read by form.js when the task form is
 * submitted; Enter in it must not submit it on its own.
 */
(function () {
  "use strict";

  document.querySelectorAll("main form.js-extra").forEach(function (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  });

  document.querySelectorAll("main form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
        return;
      }
      if (form.getAttribute("data-sent") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
        button.disabled = true;
      });
    });
  });

  // the browser's back button may show this page again from its cache: let the forms post again
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("main form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      });
    });
  });
})();
