// The adapter page: the threshold slider recomputes counts in the browser from the stored
// evaluation (embedded with json_script), and the Use adapter tab's copy buttons.
(function () {
  "use strict";

  function summary(c) {
    var a = c.adapter, b = c.base;
    return {
      flagged: a.tp + a.fp, unflagged: a.fn + a.tn, fp: a.fp, fn: a.fn, tp: a.tp,
      base_fp: b.fp, base_fn: b.fn, base_tp: b.tp, base_flagged: b.tp + b.fp
    };
  }

  function initSlider(root) {
    var script = root.querySelector("#threshold-data");
    var slider = root.querySelector("#threshold-slider");
    if (!script || !slider || slider.dataset.ready) return;
    slider.dataset.ready = "1";
    var data = JSON.parse(script.textContent);
    var filter = root.querySelector("#label-filter");
    var output = root.querySelector("#threshold-value");

    function update() {
      var t = data.thresholds[Number(slider.value)];
      var rows = data.counts[String(t)];
      var label = filter ? filter.value : "All";
      output.textContent = String(t);
      root.querySelectorAll("[data-metric]").forEach(function (el) {
        var counts = rows[el.dataset.label || label];
        if (counts) el.textContent = summary(counts)[el.dataset.metric];
      });
      root.querySelectorAll("[data-row-label]").forEach(function (row) {
        row.hidden = label !== "All" && row.dataset.rowLabel !== label;
      });
      root.querySelectorAll("[data-chart-label]").forEach(function (fig) {
        fig.hidden = label !== "All" && fig.dataset.chartLabel !== label;
      });
      root.querySelectorAll(".tabs a").forEach(function (a) {
        var url = new URL(a.href, location.href);
        url.searchParams.set("threshold", t);
        a.href = url.pathname + url.search;
      });
    }

    slider.addEventListener("input", update);
    if (filter) filter.addEventListener("change", update);
    update();
  }

  function initCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.addEventListener("click", function () {
        var text = document.getElementById(button.dataset.copy).textContent;
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var area = document.createElement("textarea");
          area.value = text;
          document.body.appendChild(area);
          area.select();
          document.execCommand("copy");
          area.remove();
          done();
        }
      });
    });
  }

  function init() {
    initSlider(document);
    initCopy(document);
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
