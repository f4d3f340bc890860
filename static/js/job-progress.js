// Live progress of a long-term schedule job (progressive enhancement: the page is complete
// without it). Polls GET /api/v1/schedule/jobs/<id>/ (same origin: the session authenticates)
// every second while the job is queued or running, and updates the status, the progress bar
// (elapsed / time limit), objective, bound, gap and an SVG plot of objective and bound.
(function () {
  "use strict";
  const box = document.getElementById("job-progress");
  if (!box) return;
  const api = box.dataset.api;
  const limit = Number(box.dataset.timeLimit) || 1;
  const $ = (id) => box.querySelector(`[data-testid="${id}"]`);
  const bar = $("job-bar");
  const svg = $("progress-plot");
  const W = 720, H = 240, PAD = 20;
  const ACTIVE = new Set(["queued", "running"]);

  function number(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  function elapsedOf(job) {
    if (job.status === "done") return limit;
    const rows = job.progress;
    const reported = rows.length ? rows[rows.length - 1].elapsed_s : 0;
    if (!job.started_at) return 0;
    const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
    const wall = (end - Date.parse(job.started_at)) / 1000;
    return Math.min(limit, Math.max(wall, reported));
  }

  function plot(rows) {
    const points = rows.filter((r) => r.objective !== null || r.bound !== null);
    if (!points.length) return;
    const values = [];
    for (const r of points) {
      if (r.objective !== null) values.push(r.objective);
      if (r.bound !== null) values.push(r.bound);
    }
    let lo = Math.min(...values), hi = Math.max(...values);
    if (hi === lo) { hi += 1; lo -= 1; }
    const tMax = Math.max(limit, points[points.length - 1].elapsed_s, 1e-3);
    const x = (t) => PAD + (W - 2 * PAD) * (t / tMax);
    const y = (v) => H - PAD - (H - 2 * PAD) * ((v - lo) / (hi - lo));
    const line = (key) => points
      .filter((r) => r[key] !== null)
      .map((r) => `${x(r.elapsed_s).toFixed(1)},${y(r[key]).toFixed(1)}`)
      .join(" ");
    svg.querySelector(".objective").setAttribute("points", line("objective"));
    svg.querySelector(".bound").setAttribute("points", line("bound"));
    svg.querySelector(".axis").textContent = hi.toFixed(0);
    svg.querySelector(".axis-min").textContent = `${lo.toFixed(0)} (0–${tMax.toFixed(0)} s)`;
  }

  function show(job) {
    const status = $("job-status");
    status.textContent = job.status;
    status.className = `badge job-${job.status}`;
    box.dataset.status = job.status;
    const elapsed = elapsedOf(job);
    bar.value = elapsed;
    $("job-elapsed").textContent = elapsed.toFixed(1);
    const last = job.progress.length ? job.progress[job.progress.length - 1] : null;
    $("job-objective").textContent = last ? number(last.objective, 0) : "—";
    $("job-bound").textContent = last ? number(last.bound, 0) : "—";
    $("job-gap").textContent = last && last.gap !== null ? `${(100 * last.gap).toFixed(2)} %` : "—";
    plot(job.progress);
    if (job.error) {
      $("job-error").textContent = job.error;
      $("job-error").hidden = false;
    }
    if (job.version !== null) {
      const link = $("job-version");
      const anchor = link.querySelector("a");
      if (anchor.getAttribute("href") === "#") anchor.href = `/schedule/versions/${job.version}/`;
      link.hidden = false;
    }
    if (!ACTIVE.has(job.status)) {
      const cancel = $("cancel-form");
      if (cancel) cancel.hidden = true;
    }
  }

  async function poll() {
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        if (response.status >= 500) setTimeout(poll, 2000);
        return;
      }
      const job = await response.json();
      show(job);
      if (ACTIVE.has(job.status)) setTimeout(poll, 1000);
    } catch (err) {
      setTimeout(poll, 2000); // a network hiccup: try again, a bit later
    }
  }

  poll();
})();
