// Sextant console script: theme toggle, copy buttons, bulk selection, keyboard
// navigation on the issues list, and live refresh from the server-sent event stream.
// Loaded from /static/ only (the Content-Security-Policy forbids inline scripts); it
// never builds HTML from data: refreshed fragments come from the server, escaped there.
(function () {
  "use strict";

  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem("sextant-theme"); } catch (e) { /* private mode */ }
  if (stored) root.setAttribute("data-theme", stored);

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function currentTheme() {
    var explicit = root.getAttribute("data-theme");
    if (explicit) return explicit;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function copy(text, button) {
    function done() {
      var old = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = old; }, 1200);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
    document.body.removeChild(area);
  }

  // --- issues list: selection and keyboard --------------------------------------------
  var cursor = -1;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.issue-row")); }

  function highlight(i) {
    var all = rows();
    if (!all.length) return;
    cursor = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (r, j) { r.classList.toggle("cursor", j === cursor); });
    all[cursor].scrollIntoView({ block: "nearest" });
  }

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function onKey(ev) {
    if (ev.metaKey || ev.ctrlKey || ev.altKey) return;
    var search = document.getElementById("search-box");
    if (typing(document.activeElement)) {
      if (ev.key === "Escape") document.activeElement.blur();
      return;
    }
    var all = rows();
    if (ev.key === "/" && search) { ev.preventDefault(); search.focus(); search.select(); return; }
    if (!all.length) return;
    if (ev.key === "j") { ev.preventDefault(); highlight(cursor + 1); }
    else if (ev.key === "k") { ev.preventDefault(); highlight(cursor - 1); }
    else if (ev.key === "Enter" && cursor >= 0) { ev.preventDefault(); window.location.href = all[cursor].getAttribute("data-href"); }
    else if (ev.key === "x" && cursor >= 0) {
      ev.preventDefault();
      var box = all[cursor].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
    }
  }

  // --- live refresh ---------------------------------------------------------------------
  // On a notice, the element marked data-refresh is re-fetched from the server and
  // replaced: the list as a fragment, the issue page's summary from the page itself.
  var pending = null;

  function refresh() {
    var target = document.querySelector("[data-refresh]");
    if (!target) return;
    var url = new URL(window.location.href);
    var isList = target.id === "issue-list";
    if (isList) url.searchParams.set("fragment", "1");
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var checked = {};
        target.querySelectorAll("input[name=id]:checked").forEach(function (b) { checked[b.value] = true; });
        var doc = new DOMParser().parseFromString(isList ? "<div id='x'>" + html + "</div>" : html, "text/html");
        var fresh = isList ? doc.getElementById("x") : doc.getElementById(target.id);
        if (!fresh) return;
        target.replaceChildren.apply(target, Array.prototype.slice.call(fresh.childNodes));
        target.querySelectorAll("input[name=id]").forEach(function (b) { if (checked[b.value]) b.checked = true; });
        var first = document.getElementById("first-event");
        if (first && isList && rows().length) first.remove();
        if (cursor >= 0) highlight(cursor);
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* next notice tries again */ });
  }

  function scheduleRefresh() {
    if (pending) return;
    // Coalesce bursts: at most one refresh per 200 ms, well inside the 1 s promise.
    pending = setTimeout(function () { pending = null; refresh(); }, 200);
  }

  function connectLive() {
    var url = document.body.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var summary = document.getElementById("issue-summary");
    var issueId = summary ? summary.getAttribute("data-issue-id") : null;
    var source = new EventSource(url);
    source.addEventListener("ready", function () {
      document.body.setAttribute("data-live-ready", "1");
      if (status) status.classList.add("on");
    });
    source.addEventListener("event", function (ev) {
      var notice = {};
      try { notice = JSON.parse(ev.data); } catch (e) { return; }
      if (issueId && String(notice.issue_id) !== issueId) return;
      scheduleRefresh();
    });
    source.addEventListener("lagged", scheduleRefresh);
    source.onerror = function () { if (status) status.classList.remove("on"); };
  }

  onReady(function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (b) {
      b.addEventListener("click", function () {
        var next = currentTheme() === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("sextant-theme", next); } catch (e) { /* private mode */ }
      });
    });
    document.addEventListener("click", function (ev) {
      var t = ev.target;
      if (!(t instanceof Element)) return;
      var copyButton = t.closest("[data-copy]");
      if (copyButton) { copy(copyButton.getAttribute("data-copy"), copyButton); return; }
      var confirmButton = t.closest("[data-confirm]");
      if (confirmButton && !window.confirm(confirmButton.getAttribute("data-confirm"))) ev.preventDefault();
    });
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input[name=id]").forEach(function (b) { b.checked = all.checked; });
      });
    }
    document.addEventListener("keydown", onKey);
    connectLive();
  });
})();
