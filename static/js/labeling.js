// Assign labels: select images (click, shift-click, keyboard) and label many at once. The
// workspace's forms post with htmx (hx-post) and the same view's partial, refreshed grid and
// counts, comes back into #workspace; the label keys send the same request with htmx.ajax.
(function () {
  "use strict";
  const ws = document.getElementById("workspace");
  if (!ws) return;
  let focus = 0;
  let anchor = null;

  const cards = () => Array.from(ws.querySelectorAll(".card"));
  const box = (card) => card.querySelector("[data-select]");
  const selectedIds = () => cards().filter((c) => box(c) && box(c).checked).map((c) => c.dataset.id);
  const mostUsed = () => JSON.parse((ws.querySelector("#most-used-labels") || {}).textContent || "[]");

  function refresh() {
    const n = selectedIds().length;
    const label = ws.querySelector("[data-selected-count]");
    if (label) label.textContent = `${n} selected`;
    cards().forEach((c, i) => {
      c.classList.toggle("selected", !!(box(c) && box(c).checked));
      c.classList.toggle("focused", i === focus);
    });
  }
  function setFocus(i) {
    const all = cards();
    if (!all.length) return;
    focus = Math.max(0, Math.min(all.length - 1, i));
    refresh();
    all[focus].scrollIntoView({ block: "nearest" });
  }
  function select(card, on) {
    if (box(card)) box(card).checked = on;
  }

  // A label key: the toolbar's action on the selection, or on the focused image if none is selected.
  function act(action, label) {
    const bulk = ws.querySelector("#bulk-form");
    if (!bulk) return;
    const values = { q: bulk.querySelector("input[name=q]").value, action: action };
    if (label) values.label = label;
    const all = bulk.querySelector("[data-all-matching]");
    let ids = selectedIds();
    if (all && all.checked) values.all_matching = "on";
    else if (!ids.length && cards()[focus]) ids = [cards()[focus].dataset.id];
    values.image = ids;
    htmx.ajax("POST", bulk.getAttribute("hx-post"), { target: "#workspace", swap: "innerHTML", values: values });
  }

  // A refused action (400) comes back as the workspace with its error: show it like any other.
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.target === ws && e.detail.xhr.status === 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target !== ws) return;
    anchor = null;
    setFocus(focus);
  });

  ws.addEventListener("click", (e) => {
    // Reveal and re-hide are static/js/protection.js's: a click that reveals selects nothing.
    const img = e.target.closest("img[data-protect]");
    const hidden = img && img.classList.contains(img.dataset.protect.split(" ")[0]);
    if (e.target.closest("[data-reveal]") || hidden) return;
    if (e.target.closest("[data-select-page]")) {
      cards().forEach((c) => select(c, true));
      refresh();
      return;
    }
    const card = e.target.closest(".card");
    if (!card || e.target.closest("input, button, a, details, label")) return;
    const all = cards();
    const index = all.indexOf(card);
    if (e.shiftKey && anchor !== null) {
      const [from, to] = [Math.min(anchor, index), Math.max(anchor, index)];
      all.slice(from, to + 1).forEach((c) => select(c, true));
    } else {
      select(card, !(box(card) && box(card).checked));
      anchor = index;
    }
    setFocus(index);
  });
  ws.addEventListener("change", (e) => {
    if (e.target.matches("[data-select]")) {
      anchor = cards().indexOf(e.target.closest(".card"));
      refresh();
    }
  });

  function columns() {
    const all = cards();
    if (all.length < 2) return 1;
    const top = all[0].offsetTop;
    const n = all.findIndex((c) => c.offsetTop !== top);
    return n === -1 ? all.length : n;
  }

  // Single-key shortcuts can be turned off (WCAG 2.1.4), remembered in this browser.
  const shortcutsOn = () => localStorage.getItem("console.shortcuts") !== "off";
  const toggle = document.getElementById("shortcuts-toggle");
  if (toggle) {
    toggle.checked = shortcutsOn();
    toggle.addEventListener("change", () => localStorage.setItem("console.shortcuts", toggle.checked ? "on" : "off"));
  }

  document.addEventListener("keydown", (e) => {
    if (!shortcutsOn()) return;
    const t = e.target;
    if (t.matches("input[type=text], input[type=number], input[type=file], textarea, select")) return;
    // Enter and Space press the focused button or link (the Reveal button among them).
    if ((e.key === "Enter" || e.key === " ") && t.matches("button, a, summary")) return;
    const openPicker = ws.querySelector("details.picker[open]");
    if (e.key === "Escape") {
      if (openPicker) openPicker.open = false;
      else { cards().forEach((c) => select(c, false)); refresh(); }
      return;
    }
    if (openPicker || e.ctrlKey || e.metaKey || e.altKey) return;
    const all = cards();
    if (!all.length) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, j: 1, k: -1, ArrowDown: columns(), ArrowUp: -columns() };
    if (e.key in moves || (e.shiftKey && e.key.startsWith("Arrow"))) {
      e.preventDefault();
      const step = moves[e.key] || 0;
      if (e.shiftKey) select(all[focus], true);
      setFocus(focus + step);
      if (e.shiftKey) { select(cards()[focus], true); refresh(); }
      return;
    }
    if (e.key === " " || e.key === "x") {
      e.preventDefault();
      select(all[focus], !(box(all[focus]) && box(all[focus]).checked));
      anchor = focus;
      refresh();
    } else if (e.key === "a") {
      all.forEach((c) => select(c, true));
      refresh();
    } else if (e.key === "Enter" || e.key === "l") {
      const picker = all[focus].querySelector("details.picker");
      if (picker) {
        e.preventDefault();
        picker.open = true;
        const first = picker.querySelector("input[type=checkbox]");
        if (first) first.focus();
      }
    } else if (/^Digit[1-9]$/.test(e.code)) {
      const label = mostUsed()[Number(e.code.slice(5)) - 1];
      if (label) { e.preventDefault(); act(e.shiftKey ? "remove" : "add", label); }
    } else if (e.key === "0" || e.key === "s") {
      e.preventDefault();
      act("safe");
    }
  });
  setFocus(0);
})();
