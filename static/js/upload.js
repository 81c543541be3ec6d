// The upload forms (Create project, Add images, Start bulk analysis, a bulk job's images): show
// the fields of the chosen source, accept dropped files, and send the chosen images in batches
// with a progress bar and each file's outcome. Without JavaScript the form posts everything at once.
//
// The form says how, with data- attributes:
//   data-upload-form   this script handles the form; its images are its input[type=file][multiple]
//   data-batch         images per request, unless the server's answer gives its own batch
//   data-upload-url    send the images there, then reload the page. Without it the form is first
//                      posted without its images, asking for JSON; the answer gives upload_url,
//                      batch, the next page (next_url or detail_url) and a report of what the
//                      form itself added.
//   data-report        post the form that way even when no image is chosen (the answer's report is
//                      shown); without it, a form without images is posted as it is
// and fills what it holds:
//   [data-when="name=value"]  shown only while the radio button name has that value
//   [data-dropzone], [data-dropzone-count]  drop files on the input, and how many were chosen
//   [data-form-errors]        the form's errors, one a line
//   [data-upload-progress]    shown while sending, with [data-progress-bar], [data-total] and
//                             [data-sent] (numbers), [data-progress-text] (its data-sending and
//                             data-done say what to write before each batch and at the end),
//                             [data-outcomes] (each file "name: outcome (reason)"; with
//                             data-outcomes="failed", only the refused ones, "name: reason")
//   [data-upload-done]        shown, with its [data-next] link, when some image did not go in;
//                             if all did, the browser goes to the next page.
(function () {
  "use strict";
  const form = document.querySelector("[data-upload-form]");
  if (!form) return;
  const input = form.querySelector("input[type=file][multiple]");
  const zone = form.querySelector("[data-dropzone]");
  const errorsBox = form.querySelector("[data-form-errors]");
  const panel = form.querySelector("[data-upload-progress]");
  const part = (selector) => panel.querySelector(selector);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => values[key]);

  function sync() {
    form.querySelectorAll("[data-when]").forEach((el) => {
      const [name, value] = el.dataset.when.split("=");
      const chosen = form.querySelector(`input[name=${name}]:checked`);
      el.hidden = !!chosen && chosen.value !== value;
    });
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

  const outcomes = part("[data-outcomes]");
  const counts = { added: 0, skipped: 0, failed: 0 };
  function outcome(kind, name, reason) {
    counts[kind] += 1;
    if (outcomes.dataset.outcomes === "failed") {
      if (kind !== "failed") return;
      line(kind, `${name}: ${reason}`);
    } else line(kind, `${name}: ${kind}${reason ? " (" + reason + ")" : ""}`);
  }
  function line(kind, text) {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = text;
    outcomes.appendChild(li);
  }
  // A batch's answer: lists of {name, reason} per outcome (a bulk job's gives the added as a number).
  function report(r) {
    if (typeof r.added === "number") counts.added += r.added;
    else (r.added || []).forEach((f) => outcome("added", f.name));
    (r.skipped || []).forEach((f) => outcome("skipped", f.name, f.reason));
    (r.failed || []).forEach((f) => outcome("failed", f.name, f.reason));
  }
  function set(selector, value) {
    const el = part(selector);
    if (el) el.textContent = value;
  }

  form.addEventListener("submit", async (event) => {
    const files = input && !input.closest("[hidden]") ? Array.from(input.files) : [];
    if (!files.length && !form.hasAttribute("data-report")) return; // a plain POST
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    let uploadUrl = form.dataset.uploadUrl;
    let batch = Number(form.dataset.batch);
    let next = null;
    button.disabled = true;
    if (errorsBox) errorsBox.hidden = true;
    if (!uploadUrl) {
      const data = new FormData(form);
      data.delete(input.name);
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
      if (body.report) report(body.report);
      uploadUrl = body.upload_url;
      batch = body.batch || batch;
      next = body.next_url || body.detail_url;
    }
    const bar = part("[data-progress-bar]");
    const text = part("[data-progress-text]");
    panel.hidden = false;
    set("[data-total]", files.length);
    for (let i = 0; i < files.length; i += batch) {
      const chunk = files.slice(i, i + batch);
      const fd = new FormData();
      chunk.forEach((f) => fd.append(input.name, f, f.name));
      if (text) text.textContent = fill(text.dataset.sending, { first: i + 1, last: i + chunk.length, total: files.length });
      try {
        const r = await fetch(uploadUrl, {
          method: "POST", body: fd, credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": token },
        });
        const result = await r.json().catch(() => ({}));
        const refused = (result.errors || []).join(" ") || result.error || `HTTP ${r.status}`;
        if (r.ok) report(result);
        else chunk.forEach((f) => outcome("failed", f.name, refused));
      } catch (err) {
        chunk.forEach((f) => outcome("failed", f.name, `not sent: ${err}`));
      }
      set("[data-sent]", i + chunk.length);
      bar.style.width = `${Math.round(((i + chunk.length) / files.length) * 100)}%`;
    }
    bar.style.width = "100%";
    if (text) text.textContent = fill(text.dataset.done, counts);
    if (!next) window.location.reload();
    else if (!counts.skipped && !counts.failed) window.location.assign(next);
    else {
      const done = part("[data-upload-done]");
      done.querySelector("[data-next]").href = next;
      done.hidden = false;
    }
  });
})();
