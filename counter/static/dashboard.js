/* Dashboards and the start page: refresh the live numbers every 10 s, in each site's language. */
(function () {
  "use strict";
  var NOT_REFRESHED = "Chưa cập nhật được · Not refreshed";
  function fmt(n, lang) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, lang === "en" ? "," : ".");
  }
  // same-origin: on a private site the reader's HTTP Basic credentials go along (there are no cookies).
  // `done` gets the answer, or null when there was none (the service or its store is down).
  function get(url, done) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { done(d || null); }, function () { done(null); });
  }
  // Numbers that could not be refreshed stay, muted, with a note saying so; the next answer clears both.
  function mark(cells, note, stale) {
    cells.forEach(function (cell) { cell.classList.toggle("stale", stale); });
    if (note) { note.textContent = stale ? NOT_REFRESHED : ""; }
  }
  function refresh() {
    var online = document.getElementById("online");
    if (online) {
      get("/api/v1/sites/" + encodeURIComponent(online.getAttribute("data-site")) + "/online", function (d) {
        if (d) { online.textContent = fmt(d.online, online.getAttribute("data-lang")); }
        mark([online], document.getElementById("online-note"), !d);
      });
    }
    var table = document.getElementById("sites");
    if (table) {
      get("/api/v1/sites", function (d) {
        var cells = Array.prototype.slice.call(table.querySelectorAll("td[data-field]"));
        if (!d) {
          mark(cells, document.getElementById("sites-note"), true);
          return;
        }
        d.sites.forEach(function (s) {
          var row = table.querySelector('tr[data-site="' + s.site + '"]');
          if (!row) { return; }
          ["total", "today", "online"].forEach(function (f) {
            var cell = row.querySelector('[data-field="' + f + '"]');
            if (cell) { cell.textContent = fmt(s[f], row.getAttribute("data-lang")); }
          });
        });
        mark(cells, document.getElementById("sites-note"), false);
      });
    }
  }
  setInterval(refresh, 10000);
})();
