/* Visit counter widget. Embed:
 *   <div data-visit-counter="SITE" data-lang="vi" data-fields="total,online,today"></div>
 *   <script async src="https://COUNTER/widget.js"></script>
 * Counts one page view per page load, sends a heartbeat every 60 s while the
 * page is visible, and shows the numbers. It never throws, never writes HTML
 * (only textContent) and keeps one global: window.VisitCounter.
 * Restyle through the classes vc-counter, vc-title, vc-row, vc-row-<field>,
 * vc-label, vc-value (and vc-stale while the service is unreachable).
 */
(function () {
  "use strict";
  if (window.VisitCounter) { window.VisitCounter.scan(); return; }

  var LABELS = {
    vi: { title: "Thống kê truy cập", total: "Tổng số", online: "Trực tuyến", today: "Hôm nay",
          yesterday: "Hôm qua", this_week: "Tuần này", this_month: "Tháng này" },
    en: { title: "Visitor statistics", total: "Total", online: "Online", today: "Today",
          yesterday: "Yesterday", this_week: "This week", this_month: "This month" }
  };
  var SEPARATOR = { vi: ".", en: "," };
  var FIELDS = ["total", "online", "today", "yesterday", "this_week", "this_month"];
  var DEFAULT_FIELDS = "total,online,today";
  var HEARTBEAT_MS = 60000;
  var TIMEOUT_MS = 5000;
  var CSS = [
    ":where(.vc-counter){font:14px/1.5 system-ui,sans-serif;border:1px solid #d0d7de;",
    "border-radius:6px;padding:8px 12px;max-width:280px;background:#fff;color:#1f2328}",
    ":where(.vc-counter) :where(.vc-title){font-weight:600;margin:0 0 4px}",
    ":where(.vc-counter) :where(.vc-row){display:flex;justify-content:space-between;gap:12px}",
    ":where(.vc-counter) :where(.vc-value){font-variant-numeric:tabular-nums;font-weight:600}",
    ":where(.vc-counter.vc-stale) :where(.vc-value){opacity:.6}"
  ].join("");

  var script = document.currentScript;
  var base = "";
  try {
    base = new URL(script && script.src ? script.src : "", location.href).origin;
  } catch (e) { base = ""; }

  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    memory[key] = value;
    try { window.localStorage.setItem(key, value); } catch (e) { /* storage blocked */ }
  }

  function randomId(length) {
    var chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    var out = "";
    var bytes = new Uint8Array(length);
    if (window.crypto && window.crypto.getRandomValues) { window.crypto.getRandomValues(bytes); }
    else { for (var j = 0; j < length; j++) { bytes[j] = Math.floor(Math.random() * 256); } }
    for (var i = 0; i < length; i++) { out += chars.charAt(bytes[i] & 63); }
    return out;
  }

  function visitorId() {
    var id = load("vc:visitor");
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      id = randomId(22);
      save("vc:visitor", id);
    }
    return id;
  }

  function group(n, lang) {
    if (typeof n !== "number" || !isFinite(n)) { return "\u2014"; }
    return String(Math.floor(n)).replace(/\B(?=(\d{3})+(?!\d))/g, SEPARATOR[lang] || ".");
  }

  function addStyles() {
    try {
      if (!("adoptedStyleSheets" in document) || typeof CSSStyleSheet !== "function") { return; }
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    } catch (e) { /* unstyled is fine */ }
  }

  function build(el) {
    var lang = LABELS[el.getAttribute("data-lang")] ? el.getAttribute("data-lang") : "vi";
    var words = LABELS[lang];
    var wanted = (el.getAttribute("data-fields") || DEFAULT_FIELDS).split(",");
    var fields = [];
    for (var i = 0; i < wanted.length; i++) {
      var f = wanted[i].replace(/^\s+|\s+$/g, "");
      if (FIELDS.indexOf(f) >= 0 && fields.indexOf(f) < 0) { fields.push(f); }
    }
    if (!fields.length) { fields = DEFAULT_FIELDS.split(","); }
    while (el.firstChild) { el.removeChild(el.firstChild); }
    var box = document.createElement("div");
    box.className = "vc-counter";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", words.title);
    box.setAttribute("lang", lang);
    var title = document.createElement("div");
    title.className = "vc-title";
    title.textContent = words.title;
    box.appendChild(title);
    var values = {};
    for (var k = 0; k < fields.length; k++) {
      var row = document.createElement("div");
      row.className = "vc-row vc-row-" + fields[k];
      var label = document.createElement("span");
      label.className = "vc-label";
      label.textContent = words[fields[k]];
      var value = document.createElement("span");
      value.className = "vc-value";
      value.setAttribute("data-field", fields[k]);
      value.textContent = "\u2014";
      row.appendChild(label);
      row.appendChild(document.createTextNode(" "));
      row.appendChild(value);
      box.appendChild(row);
      values[fields[k]] = value;
    }
    el.appendChild(box);
    return { box: box, values: values, lang: lang };
  }

  function show(widget, stats, stale) {
    for (var f in widget.values) {
      if (Object.prototype.hasOwnProperty.call(widget.values, f)) {
        widget.values[f].textContent = stats ? group(stats[f], widget.lang) : "\u2014";
      }
    }
    widget.box.className = stale ? "vc-counter vc-stale" : "vc-counter";
  }

  function request(method, path, body, done) {
    var finished = false;
    function finish(data) { if (!finished) { finished = true; done(data); } }
    try {
      if (typeof fetch !== "function") { finish(null); return; }
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      var timer = setTimeout(function () {
        if (controller) { controller.abort(); }
        finish(null);
      }, TIMEOUT_MS);
      var options = { method: method, credentials: "omit", mode: "cors", keepalive: method === "POST" };
      if (controller) { options.signal = controller.signal; }
      if (body) {
        // text/plain keeps it a simple request: no CORS preflight.
        options.body = JSON.stringify(body);
        options.headers = { "Content-Type": "text/plain" };
      }
      fetch(base + path, options).then(function (response) {
        clearTimeout(timer);
        return response.ok ? response.json() : null;
      }).then(function (data) { finish(data); }, function () { clearTimeout(timer); finish(null); });
    } catch (e) { finish(null); }
  }

  var sites = {};

  function update(site, data) {
    var entry = sites[site];
    if (data && typeof data.total === "number") {
      save("vc:last:" + site, JSON.stringify(data));
      entry.last = data;
    }
    var stale = !data;
    for (var i = 0; i < entry.widgets.length; i++) { show(entry.widgets[i], entry.last, stale); }
  }

  function heartbeat() {
    if (document.visibilityState && document.visibilityState !== "visible") { return; }
    for (var site in sites) {
      if (Object.prototype.hasOwnProperty.call(sites, site)) {
        (function (s) {
          request("POST", "/api/v1/sites/" + encodeURIComponent(s) + "/heartbeat",
                  { visitor: visitorId() }, function (data) { update(s, data); });
        })(site);
      }
    }
  }

  function countPageView(site) {
    // The hit id makes a retry safe: the service never counts the same id twice.
    var body = { visitor: visitorId(), hit: randomId(24), path: location.pathname.slice(0, 512) };
    var path = "/api/v1/sites/" + encodeURIComponent(site) + "/hits";
    request("POST", path, body, function (data) {
      update(site, data);
      if (!data) {
        setTimeout(function () {
          request("POST", path, body, function (again) { if (again) { update(site, again); } });
        }, 3000);
      }
    });
  }

  function scan() {
    try {
      var nodes = document.querySelectorAll("[data-visit-counter]");
      for (var i = 0; i < nodes.length; i++) {
        var el = nodes[i];
        if (el.getAttribute("data-vc-ready")) { continue; }
        el.setAttribute("data-vc-ready", "1");
        var site = el.getAttribute("data-visit-counter") || "";
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(site)) { continue; }
        var widget = build(el);
        var fresh = !sites[site];
        if (fresh) {
          var last = null;
          try { last = JSON.parse(load("vc:last:" + site) || "null"); } catch (e) { last = null; }
          sites[site] = { widgets: [], last: last };
        }
        sites[site].widgets.push(widget);
        show(widget, sites[site].last, true);
        if (fresh) { countPageView(site); }
      }
    } catch (e) { /* never break the page */ }
  }

  addStyles();
  window.VisitCounter = { scan: scan, version: "1" };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
  setInterval(heartbeat, HEARTBEAT_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { heartbeat(); }
  });
})();
