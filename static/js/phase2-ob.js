// Phase 2 OB editor (progressive enhancement; every form works without it):
// - buttons marked data-confirm ask first (removing a template or a finding chart);
// - the visibility date picker redraws the night plot without reloading the page.
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });

  const picker = document.getElementById("visibility-date");
  const plot = document.getElementById("visibility-night");
  const visForm = document.getElementById("visibility-form");
  if (picker && plot && visForm) {
    visForm.addEventListener("submit", (event) => {
      if (!picker.value) return;
      event.preventDefault();
      const url = new URL(plot.src, window.location.href);
      url.searchParams.set("date", picker.value);
      plot.src = url.toString();
      const caption = plot.closest("figure").querySelector("figcaption");
      if (caption) caption.textContent = caption.textContent.replace(/\d{4}-\d{2}-\d{2}/, picker.value);
      const page = new URL(window.location.href);
      page.searchParams.set("date", picker.value);
      window.history.replaceState(null, "", page.toString());
    });
  }
})();
