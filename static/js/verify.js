// Verify predictions: keyboard review (J/K next/previous, C correct, X incorrect, A assign a
// label, U undo, R reveal) on top of the htmx buttons of each card.
(function () {
  "use strict";
  var focusedId = null;
  var undoStack = [];

  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".verify-card")); }

  function focusCard(card) {
    cards().forEach(function (c) {
      c.classList.remove("focused");
      // leaving a card hides again what was revealed on it (static/js/protection.js)
      if (c !== card) window.protection.hide(c);
    });
    if (!card) return;
    card.classList.add("focused");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    focusedId = card.id;
  }

  function current() {
    var card = focusedId && document.getElementById(focusedId);
    return card || cards()[0] || null;
  }

  function move(step) {
    var list = cards(), card = current(), i = list.indexOf(card) + step;
    if (i >= list.length) { var next = document.getElementById("next-page"); if (next) window.location.href = next.href; return; }
    if (i < 0) { var prev = document.getElementById("prev-page"); if (prev) window.location.href = prev.href; return; }
    focusCard(list[i]);
  }

  // The first predicted label of the card without a verdict (else the first predicted label).
  function pendingRow(card) {
    var rows = Array.prototype.slice.call(card.querySelectorAll("li[data-predicted='1']"));
    return rows.find(function (r) { return !r.dataset.verdict; }) || null;
  }

  // Remember how to undo an action before htmx sends it.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var card = button.closest(".verify-card");
    if (!card) return;
    focusCard(card);
    var action = button.dataset.action, row = button.closest("li[data-label]");
    var entry = { url: card.dataset.undoUrl, card: card.id, threshold: card.dataset.threshold, unreview: card.dataset.reviewed === "1" ? "0" : "1" };
    if (action === "correct" || action === "incorrect") {
      entry.label = row.dataset.label; entry.expected = action; entry.restore = row.dataset.verdict || "";
      if (entry.restore === action) return;
    } else if (action === "add") {
      if (!card.querySelector("select[name=label]").value) return;
      entry.label = card.querySelector("select[name=label]").value; entry.expected = "added"; entry.restore = "";
    } else if (action === "review") {
      entry.label = ""; entry.expected = ""; entry.restore = "";
    } else { return; }
    undoStack.push(entry);
  }, true);

  // A click anywhere on a card makes it the keyboard's target.
  document.addEventListener("click", function (event) {
    var card = event.target.closest(".verify-card");
    if (card && card.id !== focusedId) {
      focusedId = card.id;
      cards().forEach(function (c) {
        c.classList.toggle("focused", c === card);
        if (c !== card) window.protection.hide(c);
      });
    }
  });

  // The threshold slider: shows its value while sliding, applies on release.
  var slider = document.getElementById("threshold");
  if (slider) {
    slider.addEventListener("input", function () { document.getElementById("threshold-value").textContent = slider.value; });
    slider.addEventListener("change", function () { slider.form.requestSubmit(); });
  }

  function undo() {
    var entry = undoStack.pop();
    if (!entry) return;
    focusedId = entry.card;
    htmx.ajax("POST", entry.url, {
      target: "#" + entry.card, swap: "outerHTML",
      values: { label: entry.label, expected: entry.expected, restore: entry.restore, unreview: entry.unreview, threshold: entry.threshold },
    });
  }

  function act(kind) {
    var card = current();
    if (!card) return;
    focusCard(card);
    var row = pendingRow(card);
    if (row) { row.querySelector("[data-action=" + kind + "]").click(); return; }
    if (kind === "correct") {
      var review = card.querySelector("[data-action=review]");
      if (review) review.click(); else move(1);
    }
  }

  // Single-key shortcuts can be turned off (WCAG 2.1.4), remembered in this browser.
  var toggle = document.getElementById("shortcuts-toggle");
  function shortcutsOn() { return localStorage.getItem("console.shortcuts") !== "off"; }
  if (toggle) {
    toggle.checked = shortcutsOn();
    toggle.addEventListener("change", function () { localStorage.setItem("console.shortcuts", toggle.checked ? "on" : "off"); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !shortcutsOn()) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "select" && event.key === "Enter" && event.target.closest("form.assign")) {
      event.preventDefault();
      if (event.target.value) event.target.closest("form.assign").querySelector("[data-action=add]").click();
      return;
    }
    if (tag === "input" || tag === "textarea" || (tag === "select" && event.key !== "Escape")) return;
    var key = event.key.toLowerCase();
    if (key === "j" || key === "arrowright" || key === "arrowdown") move(1);
    else if (key === "k" || key === "arrowleft" || key === "arrowup") move(-1);
    else if (key === "c" || key === "y") act("correct");
    else if (key === "x" || key === "n") act("incorrect");
    else if (key === "a") { var card = current(); if (card) { focusCard(card); card.querySelector("select[name=label]").focus(); } }
    else if (key === "u") undo();
    else if (key === "r") { var c = current(); if (c) window.protection.revealIn(c); }
    else return;
    event.preventDefault();
  });

  // Keep the focus on the card htmx just replaced.
  document.body.addEventListener("htmx:afterSwap", function () {
    var card = focusedId && document.getElementById(focusedId);
    if (card) focusCard(card);
  });

  document.addEventListener("DOMContentLoaded", function () { focusCard(cards()[0]); });
})();
