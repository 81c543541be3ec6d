// A bulk job's results: the threshold slider recomputes flagged / unflagged and per-label counts
// in the browser, and a click reveals a blurred image. (Its images are sent by upload.js.)
(function () {
  "use strict";

  // The threshold slider: data is the job's confidences binned at 0.1 (bulk_analysis/histograms.py):
  // {min, done: analysed images, max: [n per bin] of the images' highest confidence (> 0),
  //  labels: [...], conf: [[n per bin] or null per label]}, 1,001 bins, bin = floor(10 * confidence).
  // Suffix sums make each recount a few array reads, whatever the number of images.
  var BINS = 1001;
  function suffix(bins) {
    var out = new Float64Array(BINS + 1);
    for (var b = (bins ? bins.length : 0) - 1; b >= 0; b--) out[b] = bins[b] + out[b + 1];
    return out;
  }
  function firstBin(t) { return Math.min(BINS, Math.max(0, Math.ceil(t * 10 - 1e-6))); }
  function makeCounter(raw) {
    var maxima = suffix(raw.max);
    var perLabel = raw.conf.map(suffix);
    return function countsAt(t) {
      var b = firstBin(t);
      var flagged = maxima[b];
      var labels = perLabel.map(function (s) { return s[b]; });
      return { flagged: flagged, unflagged: raw.done - flagged, labels: labels };
    };
  }
  window.bulkMakeCounter = makeCounter;

  var dataNode = document.getElementById("threshold-data");
  var slider = document.getElementById("threshold-slider");
  if (dataNode && slider) {
    var raw = JSON.parse(dataNode.textContent);
    var countsAt = makeCounter(raw);

    function render() {
      var started = performance.now();
      var t = Math.max(raw.min, Number(slider.value));
      var counts = countsAt(t);
      document.getElementById("threshold-value").textContent = t;
      document.querySelector("[data-metric=flagged]").textContent = counts.flagged;
      document.querySelector("[data-metric=unflagged]").textContent = counts.unflagged;
      var peak = Math.max.apply(null, counts.labels.concat([1]));
      counts.labels.forEach(function (c, l) {
        var count = document.querySelector("[data-label-count='" + l + "']");
        if (count) count.textContent = c;
        var bar = document.querySelector("[data-bar='" + l + "']");
        if (bar) bar.style.width = Math.round((100 * c) / peak) + "%";
        var barCount = document.querySelector("[data-bar-count='" + l + "']");
        if (barCount) barCount.textContent = c;
      });
      document.querySelectorAll(".card").forEach(function (card) {
        var any = false;
        card.querySelectorAll("[data-conf]").forEach(function (chip) {
          var show = Number(chip.dataset.conf) >= t;
          chip.hidden = !show;
          any = any || show;
        });
        var safe = card.querySelector("[data-safe]");
        if (safe) safe.hidden = any;
      });
      document.querySelectorAll("a[data-keep-threshold]").forEach(function (a) {
        var url = new URL(a.href);
        url.searchParams.set("threshold", t);
        a.href = url.toString();
      });
      document.getElementById("results").dataset.recomputeMs = (performance.now() - started).toFixed(2);
    }
    slider.addEventListener("input", render);
    // A filtered grid (Flagged / Unflagged / one label) depends on the threshold: on release of
    // the slider the page reloads at the new threshold, so the tab shows what it says.
    slider.addEventListener("change", function () {
      var url = new URL(window.location.href);
      if (!url.searchParams.get("flag") && !url.searchParams.get("label")) return;
      url.searchParams.set("threshold", Math.max(raw.min, Number(slider.value)));
      url.searchParams.delete("page");
      window.location.assign(url.toString());
    });
  }
})();
