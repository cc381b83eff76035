// Served by `python build.py serve` only (never written into a build): it
// reloads the page after each good rebuild, keeping the scroll position, and
// shows the errors of a broken build over the page until they are fixed. A
// page that loaded the search index reloads again once a newer one is served
// (it is made in the background, after the rebuild's reload).
//
// One tab of the site listens to the server's events (/__dossier/events) and
// passes them on to the others: a browser opens at most 6 connections to one
// host over HTTP/1.1, and an event stream held by every tab would take them
// all (the 7th tab would never load). The tab holding a Web Lock listens; when
// it goes (closed, reloaded) the lock passes to another. A browser without
// Web Locks or BroadcastChannel has each tab listen while it is visible only.
(function () {
  "use strict";

  var script = document.currentScript;
  var pageBuild = script ? script.getAttribute("data-build") : "";
  var pageSearch = script ? Number(script.getAttribute("data-search")) : 0;
  var scrollKey = "dossier-serve-scroll:" + location.pathname;
  var reloading = false;

  function reload() {
    if (reloading) return;
    reloading = true;
    try {
      sessionStorage.setItem(scrollKey, JSON.stringify([window.scrollX, window.scrollY]));
    } catch (e) { /* storage disabled: reload without keeping the position */ }
    location.reload();
  }

  // A build id is "<server instance>-<number>". Another instance (a restarted server) or a later
  // number is a newer build; an earlier one is a listening tab that has not heard of ours yet.
  function newer(build) {
    var at = build.lastIndexOf("-"), ours = pageBuild.lastIndexOf("-");
    if (build.slice(0, at) !== pageBuild.slice(0, ours)) return true;
    return Number(build.slice(at + 1)) > Number(pageBuild.slice(ours + 1));
  }

  // Whether the page fetched anything of the search index (/pagefind/): it then holds that index.
  function usesSearch() {
    return performance.getEntriesByType("resource").some(function (entry) {
      return new URL(entry.name, location.href).pathname.indexOf("/pagefind/") === 0;
    });
  }

  function searchChanged(data) {
    if (data.search !== pageSearch && usesSearch()) reload();
  }

  function restoreScroll() {
    var saved = null;
    try {
      saved = sessionStorage.getItem(scrollKey);
      sessionStorage.removeItem(scrollKey);
    } catch (e) { return; }
    if (!saved) return;
    var xy = JSON.parse(saved);
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    window.scrollTo(xy[0], xy[1]);
    // Images and late styles can change the height; place it again once all is in.
    window.addEventListener("load", function () { window.scrollTo(xy[0], xy[1]); });
  }

  function hideOverlay() {
    var old = document.getElementById("dossier-overlay");
    if (old) old.remove();
  }

  function wireOverlay(overlay) {
    var button = overlay.querySelector(".dossier-overlay-hide");
    if (button) button.addEventListener("click", function () { overlay.hidden = true; });
  }

  function showErrors(lines, good) {
    hideOverlay();
    var overlay = document.createElement("div");
    overlay.id = "dossier-overlay";
    overlay.setAttribute("role", "alert");
    var box = document.createElement("div");
    box.className = "dossier-overlay-box";
    var title = document.createElement("p");
    title.className = "dossier-overlay-title";
    title.textContent = "The build failed (" + lines.length + (lines.length === 1 ? " error" : " errors") + "). " +
      (good === false ? "There is no good build yet" : "This is the last good build") +
      "; it reloads once the files are fixed.";
    var list = document.createElement("pre");
    list.className = "dossier-overlay-errors";
    list.textContent = lines.join("\n");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "dossier-overlay-hide";
    button.textContent = "Hide";
    box.append(title, list, button);
    overlay.append(box);
    document.body.prepend(overlay);
    wireOverlay(overlay);
  }

  function setState(state) {
    document.documentElement.setAttribute("data-dossier-serve", state);
  }

  // One event of the server's, heard by this tab or passed on by the listening one.
  function handle(name, data) {
    if (name === "state") {
      setState(data);
    } else if (name === "hello") {  // on (re)connecting: rebuilt meanwhile, or the server restarted?
      setState("live");
      if (newer(data.build)) reload();
      else searchChanged(data);
    } else if (name === "reload") {
      if (newer(data.build)) reload();
    } else if (name === "search") {
      searchChanged(data);
    } else if (name === "errors") {
      if (!reloading) showErrors(data.errors, data.good);
    }
  }

  // Open the event stream; `pass` gets each event, and the stream's state ("live" comes with hello).
  function listen(pass) {
    var source = new EventSource("/__dossier/events");
    source.addEventListener("error", function () { pass("state", "reconnecting"); });
    ["hello", "reload", "search", "errors"].forEach(function (name) {
      source.addEventListener(name, function (e) { pass(name, JSON.parse(e.data)); });
    });
    return source;
  }

  // The listening tab keeps what a stream opened now would begin with (LiveState.subscribe), for
  // the tabs that open later: a hello, and the errors if the build is broken.
  function Latest() {
    this.hello = null;
    this.errors = null;
  }
  Latest.prototype.note = function (name, data) {
    if (name === "hello") {
      this.hello = data;
      this.errors = null;
    } else if (this.hello && name === "reload") {
      this.hello = { build: data.build, ok: true, search: this.hello.search };
      this.errors = null;
    } else if (this.hello && name === "errors") {
      this.hello = { build: data.build, ok: false, search: this.hello.search };
      this.errors = data;
    } else if (this.hello && name === "search") {
      this.hello = { build: this.hello.build, ok: this.hello.ok, search: data.search };
    }
  };

  function shareOneStream() {
    var me = Math.random().toString(36).slice(2);
    var channel = new BroadcastChannel("dossier-serve");
    var latest = null;  // set while this tab is the one listening
    channel.addEventListener("message", function (e) {
      var m = e.data;
      if (m.ask) {  // a tab just opened: tell it how things stand (it may have missed a rebuild)
        if (latest && latest.hello) {
          channel.postMessage({ to: m.ask, name: "hello", data: latest.hello });
          if (latest.errors) channel.postMessage({ to: m.ask, name: "errors", data: latest.errors });
        }
      } else if (!m.to || m.to === me) {
        handle(m.name, m.data);
      }
    });
    navigator.locks.request("dossier-serve-events", function () {
      latest = new Latest();
      listen(function (name, data) {
        latest.note(name, data);
        handle(name, data);
        channel.postMessage({ name: name, data: data });
      });
      return new Promise(function () {});  // held for as long as the page lives
    }).then(null, listenAlone);  // refused (an opaque origin): listen alone
    channel.postMessage({ ask: me });
  }

  // Without a shared stream: listen while visible only, so that hidden tabs hold no connection.
  function listenAlone() {
    var source = null;
    function follow() {
      if (document.visibilityState === "hidden") {
        if (source) source.close();
        source = null;
      } else if (!source) {
        source = listen(handle);  // its hello tells what happened meanwhile
      }
    }
    document.addEventListener("visibilitychange", follow);
    follow();
  }

  restoreScroll();
  var served = document.getElementById("dossier-overlay");
  if (served) wireOverlay(served);
  if (window.BroadcastChannel && navigator.locks) shareOneStream();
  else listenAlone();
})();
