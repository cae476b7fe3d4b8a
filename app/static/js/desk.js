/* 综合窗口: small helps on the applicant step (the server checks everything again).
 *
 * - the ID number is upper-cased as typed (身份证号码末位 X, 统一社会信用代码 letters);
 * - after a refused step, focus goes to the first field the server marked invalid.
 */
(function () {
  "use strict";

  var form = document.querySelector("form.js-applicant");
  if (!form) { return; }
  var idNumber = form.querySelector('input[name="id_number"]');
  if (idNumber) {
    idNumber.addEventListener("input", function () {
      var start = idNumber.selectionStart, end = idNumber.selectionEnd;
      var upper = idNumber.value.toUpperCase();
      if (upper !== idNumber.value) {
        idNumber.value = upper;
        idNumber.setSelectionRange(start, end);
      }
    });
  }
  var invalid = form.querySelector('[aria-invalid="true"]');
  if (invalid) { invalid.focus(); }
})();
