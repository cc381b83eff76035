// Article pages: landing on a claim (#claim-<id>) outlines all of its quote. A quote
// that crosses markup is several <mark data-claim="<id>">, and only the first, which
// has the id, matches :target; the others get the class is-target (dossier.css).
// A classic script, not a module: it runs in a page opened from disk too.
(function () {
  "use strict";

  function outline() {
    var id = "";
    try {
      id = decodeURIComponent(location.hash.slice(1));
    } catch (e) { /* a malformed fragment targets nothing */ }
    var target = id.indexOf("claim-") === 0 ? document.getElementById(id) : null;
    var claim = target ? target.getAttribute("data-claim") : null;
    document.querySelectorAll("mark[data-claim]").forEach(function (mark) {
      mark.classList.toggle("is-target", claim !== null && mark.getAttribute("data-claim") === claim);
    });
  }

  outline();
  window.addEventListener("hashchange", outline);
})();
