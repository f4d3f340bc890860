// Observing-run form helpers (progressive enhancement: the server validates everything).
// - the instrument list shows only the instruments of the chosen telescope;
// - the moon presets (ESO d / g / n) fill the max FLI field, and typing an FLI picks the preset;
// - service mode asks for hours, visitor mode for nights and dates.
(function () {
  "use strict";
  const form = document.getElementById("run-form");
  if (!form) return;
  const telescope = form.querySelector("[name=telescope]");
  const instrument = form.querySelector("[name=instrument]");
  const moon = form.querySelector("[name=moon]");
  const fli = form.querySelector("[name=max_fli]");
  const mode = form.querySelector("[name=mode]");
  const presetsNode = document.getElementById("moon-presets");
  const presets = presetsNode ? JSON.parse(presetsNode.textContent) : {};

  function filterInstruments() {
    const tel = telescope.value;
    for (const option of instrument.options) {
      if (!option.value) continue;
      const match = !tel || option.dataset.telescope === tel;
      option.hidden = !match;
      option.disabled = !match;
    }
    const selected = instrument.selectedOptions[0];
    if (selected && selected.disabled) instrument.value = "";
  }

  function presetToFli() {
    if (moon.value && presets[moon.value] !== undefined) fli.value = presets[moon.value];
  }

  function fliToPreset() {
    const value = parseFloat(fli.value);
    const key = Object.keys(presets).find((k) => presets[k] === value);
    moon.value = key || "";
  }

  function toggleMode() {
    const vm = mode.value === "VM";
    const show = (name, visible) => {
      const field = form.querySelector(`[data-field=${name}]`);
      if (field) field.hidden = !visible;
    };
    show("hours", !vm);
    show("nights", vm);
    for (const node of form.querySelectorAll(".vm-only")) node.hidden = !vm;
  }

  telescope.addEventListener("change", filterInstruments);
  moon.addEventListener("change", presetToFli);
  fli.addEventListener("input", fliToPreset);
  mode.addEventListener("change", toggleMode);
  filterInstruments();
  if (fli.value === "") presetToFli();
  else fliToPreset();
  toggleMode();
})();
