/* Visit counter widget: <div data-visit-counter="SITE"></div><script async src=".../widget.js"></script>
 * Options, classes and behaviour: see the README ("On a portal page"). */
(function () {
  "use strict";
  if (window.VisitCounter) { window.VisitCounter.scan(); return; }

  var LABELS = {
    vi: { title: "Thống kê truy cập", total: "Tổng số", online: "Trực tuyến", today: "Hôm nay",
          yesterday: "Hôm qua", this_week: "Tuần này", this_month: "Tháng này",
          last_week: "Tuần trước", last_month: "Tháng trước", page: "Lượt xem trang" },
    en: { title: "Visitor statistics", total: "Total", online: "Online", today: "Today",
          yesterday: "Yesterday", this_week: "This week", this_month: "This month",
          last_week: "Last week", last_month: "Last month", page: "Page views" }
  };
  var SEPARATOR = { vi: ".", en: "," };
  var DASH = "\u2014";
  var DEFAULT_FIELDS = "total,online,today";
  var HEARTBEAT_MS = 60000;
  var TIMEOUT_MS = 5000;
  var RETRIES = 5;
  function dark(s) {
    return s + "{background:#0d1117;color:#e6edf3;border-color:#3d444d}" +
      s + ":where(.vc-stale) :where(.vc-value){color:#9198a1}";
  }
  // Colours keep 4.5:1 contrast or more in every theme and state (no opacity).
  var CSS = [
    ":where(.vc-counter){font:14px/1.5 system-ui,sans-serif;border:1px solid #d0d7de;",
    "border-radius:6px;padding:8px 12px;max-width:280px;background:#fff;color:#1f2328}",
    ":where(.vc-counter) :where(.vc-title){font-weight:600;margin:0 0 4px}",
    ":where(.vc-counter) :where(.vc-row){display:flex;justify-content:space-between;gap:12px}",
    ":where(.vc-counter) :where(.vc-value){font-variant-numeric:tabular-nums;font-weight:600}",
    ":where(.vc-stale) :where(.vc-value){color:#59636e}",
    dark(":where(.vc-dark)"),
    "@media (prefers-color-scheme:dark){", dark(":where(.vc-auto)"), "}"
  ].join("");

  var script = document.currentScript;
  var base = "";
  try {
    base = new URL(script && script.src ? script.src : "", location.href).origin;
  } catch (e) { base = ""; }

  var memory = {};
  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    memory[key] = value;
    try { localStorage.setItem(key, value); } catch (e) { /* storage blocked */ }
  }

  function randomId(length) {
    var chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    var out = "";
    var bytes = crypto.getRandomValues(new Uint8Array(length));
    for (var i = 0; i < length; i++) { out += chars.charAt(bytes[i] & 63); }
    return out;
  }

  // None when storage is blocked: the service derives the day's id, so each page is not a new visit.
  function visitorId() {
    try {
      var id = localStorage.getItem("vc:visitor");
      if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) { localStorage.setItem("vc:visitor", id = randomId(22)); }
      return id;
    } catch (e) { /* blocked */ }
  }

  function group(n, lang) {
    if (typeof n !== "number" || !isFinite(n)) { return DASH; }
    return String(Math.floor(n)).replace(/\B(?=(\d{3})+(?!\d))/g, SEPARATOR[lang] || ".");
  }

  var warned = {};
  function warn(site, error) {
    var text = "Visit counter \"" + site + "\": " + (error && error.message ? error.message : "refused") +
      (error && error.code ? " (" + error.code + ")" : "");
    if (warned[text]) { return; }
    warned[text] = 1;
    try { console.warn(text); } catch (e) { /* no console */ }
  }

  function addStyles() {
    try {
      if (!("adoptedStyleSheets" in document) || typeof CSSStyleSheet !== "function") { return; }
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    } catch (e) { /* unstyled is fine */ }
  }

  // Calls done(status, data, retryAfter); status 0: no readable answer (network, timeout, CORS).
  function request(method, path, body, done, fresh) {
    var finished = false;
    function finish(status, data, after) { if (!finished) { finished = true; done(status, data, after); } }
    try {
      if (typeof fetch !== "function") { finish(0, null); return; }
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      var timer = setTimeout(function () {
        if (controller) { controller.abort(); }
        finish(0, null);
      }, TIMEOUT_MS);
      var options = { method: method, credentials: "omit", mode: "cors", keepalive: method === "POST" };
      if (controller) { options.signal = controller.signal; }
      if (fresh) { options.cache = "no-cache"; }
      if (body) {
        // text/plain keeps it a simple request: no CORS preflight.
        options.body = JSON.stringify(body);
        options.headers = { "Content-Type": "text/plain" };
      }
      fetch(base + path, options).then(function (response) {
        clearTimeout(timer);
        var after = parseInt(response.headers.get("Retry-After"), 10);
        return response.json().then(function (data) { finish(response.status, data, after); },
                                    function () { finish(response.status, null, after); });
      }).then(null, function () { clearTimeout(timer); finish(0, null); });
    } catch (e) { finish(0, null); }
  }

  function retryable(status) {
    return status === 0 || status === 429 || status === 502 || status === 503 || status === 504;
  }
  function refusal(status) { return status >= 400 && !retryable(status); }

  function local(el, site) {
    var lang = el.getAttribute("data-lang");
    if (!LABELS[lang]) { lang = load("vc:lang:" + site); }
    if (!LABELS[lang]) { lang = "vi"; }
    var theme = el.getAttribute("data-theme");
    var title = el.getAttribute("data-title");
    var wanted = (el.getAttribute("data-fields") || DEFAULT_FIELDS).split(",");
    var fields = [];
    for (var i = 0; i < wanted.length; i++) {
      var f = wanted[i].replace(/^\s+|\s+$/g, "");
      if (f !== "title" && LABELS.vi[f] && fields.indexOf(f) < 0) { fields.push(f); }
    }
    return { lang: lang, fields: fields.length ? fields : DEFAULT_FIELDS.split(","),
             theme: /^(light|dark|auto)$/.test(theme) ? theme : "light",
             title: title === null ? LABELS[lang].title : title };
  }

  function build(el, cfg) {
    var words = LABELS[cfg.lang] || LABELS.vi;
    while (el.firstChild) { el.removeChild(el.firstChild); }
    var box = document.createElement("div");
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", cfg.title || words.title);
    box.setAttribute("lang", cfg.lang);
    if (cfg.title) {
      var title = document.createElement("div");
      title.className = "vc-title";
      title.textContent = cfg.title;
      box.appendChild(title);
    }
    var values = {};
    for (var k = 0; k < cfg.fields.length; k++) {
      var f = cfg.fields[k];
      if (!words[f] || f === "title") { continue; }
      var row = document.createElement("div");
      row.className = "vc-row vc-row-" + f;
      var label = document.createElement("span");
      label.className = "vc-label";
      label.textContent = words[f];
      var value = document.createElement("span");
      value.className = "vc-value";
      value.setAttribute("data-field", f);
      value.textContent = DASH;
      row.appendChild(label);
      row.appendChild(document.createTextNode(" "));
      row.appendChild(value);
      box.appendChild(row);
      values[f] = value;
    }
    el.appendChild(box);
    return { box: box, values: values, lang: cfg.lang, theme: cfg.theme };
  }

  function paint(w, entry) {
    var ok = entry && entry.state !== 2;
    for (var f in w.values) {
      if (Object.prototype.hasOwnProperty.call(w.values, f)) {
        var n = !ok ? null : f === "page" ? entry.page : entry.last && entry.last[f];
        w.values[f].textContent = group(n, w.lang);
      }
    }
    w.box.className = "vc-counter vc-" + w.theme + (ok && entry.stale ? " vc-stale" : "");
  }

  var sites = {};

  function entryFor(site, count) {
    var key = count ? site : site + " read";
    if (!sites[key]) {
      var last = null;
      try { last = JSON.parse(load("vc:last:" + site) || "null"); } catch (e) { last = null; }
      sites[key] = { site: site, count: count, widgets: [], last: last, page: null, stale: true, state: 0 };
    }
    return sites[key];
  }

  function paintAll(entry) {
    for (var i = 0; i < entry.widgets.length; i++) { paint(entry.widgets[i], entry); }
  }

  function refuse(entry, error) {
    warn(entry.site, error);
    entry.state = 2;
    paintAll(entry);
  }

  // Takes an answer; returns true when it settles the call (numbers, or a refusal).
  function receive(entry, status, data) {
    if (entry.state === 2) { return true; }
    if (status === 200 && data && typeof data.total === "number") {
      entry.last = data;
      entry.stale = data.stale;  // Redis out of reach: old numbers
      if (data.page && typeof data.page.pageviews === "number") { entry.page = data.page.pageviews; }
      save("vc:last:" + entry.site, JSON.stringify(data));
      paintAll(entry);
      return true;
    }
    if (refusal(status)) { refuse(entry, data && data.error); return true; }
    entry.stale = true;
    paintAll(entry);
    return false;
  }

  function api(entry) { return "/api/v1/sites/" + encodeURIComponent(entry.site); }

  function pageViews(entry) {
    // The page the hit counted, even after history.pushState.
    var path = entry.body ? entry.body.path : location.pathname;
    request("GET", api(entry) + "/pages/views?path=" + encodeURIComponent(path), null,
      function (status, data) {
        if (status === 200 && data && typeof data.pageviews === "number") {
          entry.page = data.pageviews;
          paintAll(entry);
        }
      });
  }

  function refresh(entry, tries) {
    if (entry.count) {
      // The hit id makes a retry safe: the service never counts the same id twice.
      if (!entry.body) {
        entry.body = { visitor: visitorId(), hit: randomId(24), path: location.pathname.slice(0, 512) };
      }
      request("POST", api(entry) + "/hits", entry.body, answer);
    } else {
      request("GET", api(entry) + "/stats", null, answer);
      if (entry.wantsPage) { pageViews(entry); }
    }
    function answer(status, data, after) {
      if (receive(entry, status, data) || tries >= RETRIES) { return; }
      // The longer of Retry-After and 3..48 s: five tries outlast a Redis failover.
      var delay = Math.max(after > 0 ? Math.min(after, 300) * 1000 : 0, 3000 * Math.pow(2, tries));
      function later() { setTimeout(function () { refresh(entry, tries + 1); }, delay); }
      if (status || !entry.count) { later(); return; }
      // No readable answer: the service is down, or the browser hid its refusal of this page's origin.
      request("GET", "/widget/sites/" + encodeURIComponent(entry.site), null, function (st, cfg) {
        if (st === 200 && cfg && cfg.refused) { refuse(entry, cfg.refused); }
        else if (refusal(st)) { refuse(entry, cfg && cfg.error); }
        else { later(); }
      }, true);
    }
  }

  // At most one heartbeat a minute, tab switches included.
  var lastBeat = performance.now();  // the page's hit slides the visitor's last-seen time too
  function heartbeat() {
    if (document.visibilityState && document.visibilityState !== "visible") { return; }
    if (performance.now() - lastBeat < HEARTBEAT_MS - 5000) { return; }
    lastBeat = performance.now();
    for (var key in sites) {
      if (Object.prototype.hasOwnProperty.call(sites, key) && sites[key].state === 1) {
        (function (entry) {
          if (!entry.count) { refresh(entry, RETRIES); return; }
          // The counted path: the answer brings the page row too.
          var beat = { visitor: visitorId() };
          if (entry.wantsPage) { beat.path = entry.body.path; }
          request("POST", api(entry) + "/heartbeat", beat, function (status, data) { receive(entry, status, data); });
        })(sites[key]);
      }
    }
  }

  function attach(el, site, count, cfg) {
    var entry = entryFor(site, count);
    var w = build(el, cfg);
    entry.widgets.push(w);
    paint(w, entry);
    if (!entry.state) {
      entry.state = 1;
      entry.wantsPage = !!w.values.page;
      refresh(entry, 0);
    } else if (w.values.page && !entry.wantsPage) {
      entry.wantsPage = true;
      if (!count) { pageViews(entry); }
    }
  }

  function setup(el) {
    var site = el.getAttribute("data-visit-counter") || "";
    var count = el.getAttribute("data-count") !== "false";
    var query = [];
    var names = ["lang", "fields", "theme", "title"];
    for (var i = 0; i < names.length; i++) {
      var v = el.getAttribute("data-" + names[i]);
      if (v !== null && (v || i === 3)) { query.push(names[i] + "=" + encodeURIComponent(v)); }
    }
    // The service checks the attributes, knows the site's language and whether this page may count.
    request("GET", "/widget/sites/" + encodeURIComponent(site) + (query.length ? "?" + query.join("&") : ""),
      null, function (status, cfg) {
        try {
          if (status === 200 && cfg && cfg.fields) {
            save("vc:lang:" + site, cfg.lang);
            if (count && cfg.refused) {
              warn(site, cfg.refused);
              paint(build(el, cfg), null);
            } else {
              attach(el, site, count, cfg);
            }
          } else if (refusal(status)) {
            warn(site, cfg && cfg.error);
            if (cfg && LABELS[cfg.lang]) { save("vc:lang:" + site, cfg.lang); }
            paint(build(el, local(el, site)), null);
          } else {
            attach(el, site, count, local(el, site));
          }
        } catch (e) { /* never break the page */ }
      });
  }

  function scan() {
    try {
      var nodes = document.querySelectorAll("[data-visit-counter]");
      for (var i = 0; i < nodes.length; i++) {
        if (nodes[i].getAttribute("data-vc-ready")) { continue; }
        nodes[i].setAttribute("data-vc-ready", "1");
        setup(nodes[i]);
      }
    } catch (e) { /* never break the page */ }
  }

  addStyles();
  window.VisitCounter = { scan: scan, version: "2" };
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
