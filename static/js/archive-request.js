// Live progress of an archive download request (progressive enhancement: the page is complete
// without it). Polls GET /api/v1/archive/requests/<id>/ (same origin: the session
// authenticates) every second while the request is queued or preparing, and updates the
// status, the progress bar, the error and the download links.
(function () {
  "use strict";
  const box = document.getElementById("request-progress");
  if (!box) return;
  const $ = (id) => box.querySelector(`[data-testid="${id}"]`);
  const ACTIVE = new Set(["queued", "preparing"]);

  function show(req) {
    const status = $("request-status");
    status.textContent = req.status;
    status.className = `badge job-${req.status}`;
    box.dataset.status = req.status;
    const bar = $("request-bar");
    bar.max = Math.max(req.total, 1);
    bar.value = req.done;
    $("request-done").textContent = req.done;
    $("request-total").textContent = req.total;
    if (req.error) {
      $("request-error").textContent = req.error;
      $("request-error").hidden = false;
    }
    $("request-links").hidden = req.status !== "ready";
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.api, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        if (response.status >= 500) setTimeout(poll, 2000);
        return;
      }
      const req = await response.json();
      show(req);
      if (ACTIVE.has(req.status)) setTimeout(poll, 1000);
    } catch (err) {
      setTimeout(poll, 2000); // a network hiccup: try again, a bit later
    }
  }

  if (ACTIVE.has(box.dataset.status)) poll();
})();
