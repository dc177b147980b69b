/* Dashboards and the start page: refresh the live numbers every 10 s, in each site's language. */
(function () {
  "use strict";
  function fmt(n, lang) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, lang === "en" ? "," : ".");
  }
  // same-origin: on a private site the reader's HTTP Basic credentials go along (there are no cookies).
  function get(url, done) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { done(d); } }, function () {});
  }
  function refresh() {
    var online = document.getElementById("online");
    if (online) {
      get("/api/v1/sites/" + encodeURIComponent(online.getAttribute("data-site")) + "/online",
          function (d) { online.textContent = fmt(d.online, online.getAttribute("data-lang")); });
    }
    var table = document.getElementById("sites");
    if (table) {
      get("/api/v1/sites", function (d) {
        d.sites.forEach(function (s) {
          var row = table.querySelector('tr[data-site="' + s.site + '"]');
          if (!row) { return; }
          ["total", "today", "online"].forEach(function (f) {
            var cell = row.querySelector('[data-field="' + f + '"]');
            if (cell) { cell.textContent = fmt(s[f], row.getAttribute("data-lang")); }
          });
        });
      });
    }
  }
  setInterval(refresh, 10000);
})();
