// Bulk analysis pages: images sent 50 per request with a progress bar, and the threshold
// slider that recomputes flagged / unflagged and per-label counts in the browser.
(function () {
  "use strict";

  function csrf(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Send files in batches of `batch` to uploadUrl, updating the progress bar; resolves when done.
  async function uploadAll(files, uploadUrl, batch, token) {
    var box = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-bar");
    var count = document.getElementById("upload-count");
    var failures = document.getElementById("upload-failures");
    box.hidden = false;
    document.getElementById("upload-total").textContent = files.length;
    var sent = 0;
    for (var i = 0; i < files.length; i += batch) {
      var data = new FormData();
      files.slice(i, i + batch).forEach(function (f) { data.append("images", f, f.name); });
      var response = await fetch(uploadUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" },
      });
      var body = await response.json().catch(function () { return { errors: ["upload failed (" + response.status + ")"] }; });
      (body.failed || []).forEach(function (f) {
        var li = document.createElement("li"); li.textContent = f.name + ": " + f.reason; failures.appendChild(li);
      });
      (body.errors || []).forEach(function (e) {
        var li = document.createElement("li"); li.textContent = e; failures.appendChild(li);
      });
      sent = Math.min(files.length, i + batch);
      count.textContent = sent;
      bar.style.width = Math.round((100 * sent) / files.length) + "%";
    }
    return failures.children.length;
  }

  function showErrors(list) {
    var box = document.getElementById("form-errors");
    box.innerHTML = "";
    list.forEach(function (e) { var li = document.createElement("li"); li.textContent = e; box.appendChild(li); });
  }

  var startForm = document.getElementById("bulk-start-form");
  if (startForm) {
    var sourceInputs = startForm.querySelectorAll("input[name=source]");
    function showSource() {
      var chosen = startForm.querySelector("input[name=source]:checked");
      startForm.querySelectorAll("[data-source]").forEach(function (el) {
        el.hidden = chosen && el.dataset.source !== chosen.value;
      });
    }
    sourceInputs.forEach(function (el) { el.addEventListener("change", showSource); });
    showSource();
    startForm.addEventListener("submit", async function (event) {
      var chosen = startForm.querySelector("input[name=source]:checked");
      var fileInput = startForm.querySelector("input[name=images]");
      if (!chosen || chosen.value !== "computer" || !fileInput.files.length) return; // a plain POST
      event.preventDefault();
      var files = Array.prototype.slice.call(fileInput.files);
      var data = new FormData(startForm);
      data.delete("images");
      var response = await fetch(startForm.action || window.location.href, {
        method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" },
      });
      var body = await response.json();
      if (!response.ok) { showErrors(body.errors || ["The job could not be created."]); return; }
      var failed = await uploadAll(files, body.upload_url, body.batch || Number(startForm.dataset.batch), csrf(startForm));
      if (!failed) window.location.href = body.detail_url;
      else {
        var link = document.createElement("a"); link.href = body.detail_url; link.textContent = "Continue to the job";
        document.getElementById("upload-progress").appendChild(link);
      }
    });
  }

  var uploadForm = document.getElementById("bulk-upload-form");
  if (uploadForm) {
    uploadForm.addEventListener("submit", async function (event) {
      var input = uploadForm.querySelector("input[name=images]");
      if (!input.files.length) return;
      event.preventDefault();
      await uploadAll(Array.prototype.slice.call(input.files), uploadForm.action,
        Number(uploadForm.dataset.batch), csrf(uploadForm));
      window.location.reload();
    });
  }

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
  }

  document.addEventListener("click", function (event) {
    var img = event.target.closest("img[data-reveal].blurred");
    if (img) { event.preventDefault(); img.classList.remove("blurred"); }
  });
})();
