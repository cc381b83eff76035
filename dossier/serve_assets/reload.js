// Served by `python build.py serve` only (never written into a build): it
// reloads the page after each good rebuild, keeping the scroll position, and
// shows the errors of a broken build over the page until they are fixed. A
// page that loaded the search index reloads again once a newer one is served
// (it is made in the background, after the rebuild's reload).
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

  function showErrors(lines) {
    hideOverlay();
    var overlay = document.createElement("div");
    overlay.id = "dossier-overlay";
    overlay.setAttribute("role", "alert");
    var box = document.createElement("div");
    box.className = "dossier-overlay-box";
    var title = document.createElement("p");
    title.className = "dossier-overlay-title";
    title.textContent = "The build failed (" + lines.length + (lines.length === 1 ? " error" : " errors") +
      "). This is the last good build; it reloads once the files are fixed.";
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

  restoreScroll();
  var served = document.getElementById("dossier-overlay");
  if (served) wireOverlay(served);

  var events = new EventSource("/__dossier/events");
  events.addEventListener("open", function () {
    document.documentElement.setAttribute("data-dossier-serve", "live");
  });
  events.addEventListener("error", function () {
    document.documentElement.setAttribute("data-dossier-serve", "reconnecting");
  });
  // On (re)connecting: if the site was rebuilt meanwhile, or the server restarted, load it anew.
  events.addEventListener("hello", function (e) {
    var data = JSON.parse(e.data);
    if (data.build !== pageBuild) reload();
    else searchChanged(data);
  });
  events.addEventListener("reload", function (e) {
    if (JSON.parse(e.data).build !== pageBuild) reload();
  });
  events.addEventListener("search", function (e) {
    searchChanged(JSON.parse(e.data));
  });
  events.addEventListener("errors", function (e) {
    if (!reloading) showErrors(JSON.parse(e.data).errors);
  });
})();
