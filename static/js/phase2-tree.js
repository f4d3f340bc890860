// Phase 2 tree page (progressive enhancement: without it, tick items and press an action).
// - "select all" ticks every item; ticking a container ticks the items below it;
// - the toolbar says how many items are ticked;
// - actions marked data-confirm ask first.
(function () {
  "use strict";
  const form = document.getElementById("tree-actions");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll("input[name=item]"));
  const status = document.getElementById("tree-selection");
  const all = document.getElementById("tree-select-all");

  function count() {
    const n = boxes().filter((b) => b.checked).length;
    if (status) status.textContent = n ? n + " ticked:" : "Tick items, then:";
  }

  // The rows below a container row are those that follow it with a greater depth.
  function below(row) {
    const depth = Number(row.dataset.depth);
    const rows = [];
    for (let next = row.nextElementSibling; next; next = next.nextElementSibling) {
      if (Number(next.dataset.depth) <= depth) break;
      rows.push(next);
    }
    return rows;
  }

  form.addEventListener("change", (event) => {
    const box = event.target;
    if (box === all) {
      boxes().forEach((b) => { b.checked = all.checked; });
    } else if (box.name === "item" && box.value.startsWith("container:") && event.isTrusted) {
      below(box.closest("tr")).forEach((row) => {
        const inner = row.querySelector("input[name=item]");
        if (inner) inner.checked = box.checked;
      });
    }
    count();
  });

  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });

  if (all) all.hidden = false;
  count();
})();
