/* Start page: build the snippet from the chosen options and show it live (without counting). */
(function () {
  "use strict";
  var form = document.getElementById("options");
  if (!form) { return; }
  var preview = document.getElementById("preview");
  var code = document.getElementById("snippet");

  function attribute(name, value) {
    return " " + name + '="' + String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;")
      .replace(/</g, "&lt;") + '"';
  }

  function options() {
    var fields = [];
    var boxes = form.querySelectorAll('input[name="fields"]');
    for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { fields.push(boxes[i].value); } }
    var site = form.elements.site;
    return {
      site: site.value,
      lang: form.elements.lang.value || site.options[site.selectedIndex].getAttribute("data-lang"),
      theme: form.elements.theme.value,
      fields: fields.join(","),
      title: form.elements.notitle.checked ? "" : form.elements.title.value.trim() || null
    };
  }

  function update() {
    var o = options();
    var attrs = [["data-visit-counter", o.site], ["data-lang", o.lang]];
    if (o.fields && o.fields !== "total,online,today") { attrs.push(["data-fields", o.fields]); }
    if (o.theme !== "light") { attrs.push(["data-theme", o.theme]); }
    if (o.title !== null) { attrs.push(["data-title", o.title]); }
    var html = "<div";
    var el = document.createElement("div");
    for (var i = 0; i < attrs.length; i++) {
      html += attribute(attrs[i][0], attrs[i][1]);
      el.setAttribute(attrs[i][0], attrs[i][1]);
    }
    code.textContent = html + "></div>\n" + '<script async src="' + form.getAttribute("data-script") +
      '"></' + "script>";
    el.setAttribute("data-count", "false");
    preview.replaceChildren(el);
    if (window.VisitCounter) { window.VisitCounter.scan(); }
  }

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("copy").addEventListener("click", function () {
    var done = document.getElementById("copied");
    if (!navigator.clipboard) { done.textContent = "Select the text and copy it."; return; }
    navigator.clipboard.writeText(code.textContent).then(function () { done.textContent = "Copied."; },
      function () { done.textContent = "Select the text and copy it."; });
  });
  update();
})();
