// Reviewer protection on every grid: an image shown blurred or in greyscale (its data-protect holds
// the classes, see console.lib.protection) is revealed by a click on it, on its card's Reveal
// button, or by Enter on it or its link (the first press reveals, the next opens the link), and
// hidden again when the pointer or the focus leaves its card or table row. Pages add their own
// keys through window.protection (verify.js: R).
(function () {
  "use strict";
  function classes(img) { return img.dataset.protect.split(" ").filter(Boolean); }
  function isHidden(img) { return classes(img).some(function (c) { return img.classList.contains(c); }); }
  function reveal(img) { classes(img).forEach(function (c) { img.classList.remove(c); }); }
  function hide(within) {
    within.querySelectorAll("img[data-protect]").forEach(function (img) {
      classes(img).forEach(function (c) { img.classList.add(c); });
    });
  }
  function holder(el) { return el.closest(".card, tr"); }
  // Reveals the first hidden image in `within`; false if there is none.
  function revealIn(within) {
    var img = Array.prototype.find.call(within.querySelectorAll("img[data-protect]"), isHidden);
    if (img) reveal(img);
    return !!img;
  }
  window.protection = { reveal: reveal, hide: hide, revealIn: revealIn };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-reveal]");
    if (button && holder(button)) { event.preventDefault(); revealIn(holder(button)); return; }
    var link = event.target.closest("a");
    var img = link ? link.querySelector("img[data-protect]") : event.target.closest("img[data-protect]");
    if (img && isHidden(img)) { event.preventDefault(); reveal(img); }
  });
  document.addEventListener("keydown", function (event) {
    var img = event.target.matches && event.target.matches("img[data-protect]") ? event.target : null;
    if (img && (event.key === "Enter" || event.key === " ") && isHidden(img)) { event.preventDefault(); reveal(img); }
  });
  function rehide(event) {
    var within = event.target.closest && holder(event.target);
    if (!within || (event.relatedTarget && within.contains(event.relatedTarget))) return;
    hide(within);
  }
  document.addEventListener("mouseout", rehide);
  document.addEventListener("focusout", rehide);
})();
