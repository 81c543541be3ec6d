// Assign labels: select images (click, shift-click, keyboard), label many at once, and swap in the
// refreshed grid and counts that the server renders (the same view's htmx partial).
(function () {
  "use strict";
  const ws = document.getElementById("workspace");
  if (!ws) return;
  let focus = 0;
  let anchor = null;

  const cards = () => Array.from(ws.querySelectorAll(".card"));
  const box = (card) => card.querySelector("[data-select]");
  const selectedIds = () => cards().filter((c) => box(c) && box(c).checked).map((c) => c.dataset.id);
  const token = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
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

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": token() },
    });
    ws.innerHTML = await response.text();
    anchor = null;
    setFocus(focus);
  }

  function act(action, label) {
    const bulk = ws.querySelector("#bulk-form");
    if (!bulk) return;
    const data = new FormData();
    data.set("csrfmiddlewaretoken", token());
    data.set("q", bulk.querySelector("input[name=q]").value);
    data.set("action", action);
    if (label) data.append("label", label);
    const all = bulk.querySelector("[data-all-matching]");
    let ids = selectedIds();
    if (all && all.checked) data.set("all_matching", "on");
    else if (!ids.length && cards()[focus]) ids = [cards()[focus].dataset.id];
    ids.forEach((id) => data.append("image", id));
    post(bulk.getAttribute("action"), data);
  }

  ws.addEventListener("click", (e) => {
    if (e.target.closest("[data-reveal]")) {
      const card = e.target.closest(".card");
      card.querySelector("img").classList.remove("blurred");
      e.target.closest("[data-reveal]").remove();
      return;
    }
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
  ws.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    if (e.submitter && e.submitter.name) data.set(e.submitter.name, e.submitter.value);
    post(e.target.getAttribute("action"), data);
  });

  function columns() {
    const all = cards();
    if (all.length < 2) return 1;
    const top = all[0].offsetTop;
    const n = all.findIndex((c) => c.offsetTop !== top);
    return n === -1 ? all.length : n;
  }

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t.matches("input[type=text], input[type=file], textarea, select")) return;
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
