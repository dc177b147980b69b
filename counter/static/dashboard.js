/* Dashboards: refresh the live numbers every 10 s. */
(function () {
  "use strict";
  function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  // same-origin: on a private site the reader's HTTP Basic credentials go along (there are no cookies).
  function get(url, done) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { done(d); } }, function () {});
  }
  function refresh() {
    var online = document.getElementById("online");
    if (online) {
      get("/api/v1/sites/" + encodeURIComponent(online.getAttribute("data-site")) + "/online",
          function (d) { online.textContent = fmt(d.online); });
    }
    var table = document.getElementById("sites");
    if (table) {
      get("/api/v1/sites", function (d) {
        d.sites.forEach(function (s) {
          var row = table.querySelector('tr[data-site="' + s.site + '"]');
          if (!row) { return; }
          ["total", "today", "online"].forEach(function (f) {
            var cell = row.querySelector('[data-field="' + f + '"]');
            if (cell) { cell.textContent = fmt(s[f]); }
          });
        });
      });
    }
  }
  setInterval(refresh, 10000);
})();
