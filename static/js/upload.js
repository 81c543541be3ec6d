// Create project / Add images: show the fields of the chosen source, accept dropped files, and send
// the form first (without the images), then the images in batches of 30 with a progress bar and
// each file's outcome. Without JavaScript the form posts everything at once.
(function () {
  "use strict";
  const form = document.querySelector("[data-upload-form]");
  if (!form) return;
  const input = form.querySelector("input[name=files]");
  const zone = form.querySelector("[data-dropzone]");
  const errorsBox = form.querySelector("[data-form-errors]");
  const panel = form.querySelector("[data-upload-progress]");
  const checked = (name) => (form.querySelector(`input[name=${name}]:checked`) || {}).value;

  function sync() {
    form.querySelectorAll("[data-source]").forEach((el) => (el.hidden = el.dataset.source !== checked("source")));
    form.querySelectorAll("[data-mode]").forEach((el) => (el.hidden = el.dataset.mode !== checked("project_mode")));
    const test = form.querySelector("[data-test-manifest]");
    if (test) test.hidden = checked("test_data") !== "manifest";
    const count = form.querySelector("[data-dropzone-count]");
    if (count && input.files.length) count.textContent = `${input.files.length} file(s) chosen`;
  }
  form.addEventListener("change", sync);
  sync();

  if (zone) {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      input.files = e.dataTransfer.files;
      sync();
    });
  }

  function showErrors(lines) {
    errorsBox.textContent = lines.join("\n");
    errorsBox.hidden = false;
    errorsBox.scrollIntoView({ block: "nearest" });
  }

  const outcomes = panel.querySelector("[data-outcomes]");
  const counts = { added: 0, skipped: 0, failed: 0 };
  function outcome(kind, name, reason) {
    counts[kind] += 1;
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = `${name}: ${kind}${reason ? " (" + reason + ")" : ""}`;
    outcomes.appendChild(li);
  }
  function report(r) {
    (r.added || []).forEach((f) => outcome("added", f.name));
    (r.skipped || []).forEach((f) => outcome("skipped", f.name, f.reason));
    (r.failed || []).forEach((f) => outcome("failed", f.name, f.reason));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const files = checked("source") === "upload" ? Array.from(input.files) : [];
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const data = new FormData(form);
    data.delete("files");
    button.disabled = true;
    errorsBox.hidden = true;
    let body;
    try {
      const response = await fetch(form.getAttribute("action") || window.location.href, {
        method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      body = await response.json();
      if (!response.ok) {
        showErrors(body.errors || [body.error || "The request was refused."]);
        button.disabled = false;
        return;
      }
    } catch (err) {
      showErrors([`The console did not answer (${err}); nothing was sent.`]);
      button.disabled = false;
      return;
    }
    report(body.report);
    const bar = panel.querySelector("[data-progress-bar]");
    const text = panel.querySelector("[data-progress-text]");
    panel.hidden = false;
    const batch = body.batch || 30;
    for (let i = 0; i < files.length; i += batch) {
      const chunk = files.slice(i, i + batch);
      const fd = new FormData();
      chunk.forEach((f) => fd.append("files", f, f.name));
      text.textContent = `Sending images ${i + 1}–${i + chunk.length} of ${files.length}…`;
      try {
        const r = await fetch(body.upload_url, {
          method: "POST", body: fd, credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": token },
        });
        const result = await r.json();
        if (r.ok) report(result);
        else chunk.forEach((f) => outcome("failed", f.name, result.error || `HTTP ${r.status}`));
      } catch (err) {
        chunk.forEach((f) => outcome("failed", f.name, `not sent: ${err}`));
      }
      bar.style.width = `${Math.round(((i + chunk.length) / files.length) * 100)}%`;
    }
    bar.style.width = "100%";
    text.textContent = `Done: ${counts.added} added, ${counts.skipped} skipped, ${counts.failed} refused.`;
    const done = panel.querySelector("[data-upload-done]");
    done.querySelector("[data-next]").href = body.next_url;
    done.hidden = false;
    if (!counts.skipped && !counts.failed) window.location.assign(body.next_url);
  });
})();
