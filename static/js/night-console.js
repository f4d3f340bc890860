// The night console's ranking, live (progressive enhancement: without this script the ranking
// form is a plain GET form and the page reloads). On every change of the ranking form, and on
// its Rank button, fetch the ranking fragment (the same query, at the URL in the #ranking
// section's data-fragment) and swap it in; keep the page's URL and every form's "back" field
// (the query the writes come back to) on the new query. Requests are debounced, and an answer
// that is not the latest one asked for is dropped.
(function () {
  "use strict";
  const form = document.getElementById("rank-form");
  const box = document.getElementById("ranking");
  if (!form || !box || !window.fetch) return;
  const fragment = box.dataset.fragment;
  const consoleUrl = box.dataset.console;
  const status = document.getElementById("rank-status");
  let timer = null;
  let latest = 0;

  function query() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value !== "") params.append(name, value);
    }
    return params.toString();
  }

  function remember(q) {
    for (const input of document.querySelectorAll("input[name=back]")) input.value = q;
    history.replaceState(null, "", consoleUrl + (q ? "?" + q : "") + "#ranking");
  }

  async function rank() {
    const q = query();
    const ticket = ++latest;
    status.textContent = "Ranking…";
    box.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(fragment + "?" + q, {
        headers: { Accept: "text/html", "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
      if (ticket !== latest) return;
      if (response.redirected || response.status === 403) {
        status.textContent = "Your session ended: reload the page.";
      } else if (response.ok || response.status === 400) {
        box.innerHTML = await response.text();
        remember(q);
        status.textContent = response.ok ? "" : "Not ranked: see why below.";
      } else {
        status.textContent = `Ranking failed (${response.status}): try again.`;
      }
    } catch (err) {
      if (ticket === latest) status.textContent = "The server did not answer: try again.";
    } finally {
      if (ticket === latest) box.removeAttribute("aria-busy");
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(rank, 350);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    rank();
  });
})();
