// Study progress (issue #25): while a study takes sessions, its page asks for the counts every
// 15 s and updates them in place; a polite live region says what changed. The only script on
// the study page, served from this origin under `script-src 'self'`; without it the page is
// the same, only not live.
(function () {
  "use strict";
  var root = document.querySelector("[data-progress]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-progress");
  var status = document.getElementById("study-status");
  var sessions = document.getElementById("study-sessions");
  var live = document.getElementById("study-live");
  var said = sessions ? sessions.textContent : "";
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { setTimeout(tick, 60000); return; }
        if (status) status.textContent = p.status;
        if (sessions && p.sessions !== said) {
          sessions.textContent = p.sessions;
          said = p.sessions;
          if (live) live.textContent = "Updated: " + p.sessions + ".";
        }
        if (p.running) setTimeout(tick, 15000);
        else if (live) live.textContent = "The study is now " + p.status.toLowerCase() + ". Reload the page to read its report.";
      })
      .catch(function () { setTimeout(tick, 60000); });
  }
  setTimeout(tick, 15000);
})();
