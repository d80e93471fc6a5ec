// qcbroker console: follows the event stream and swaps in fresh parts of the page.
// Everything else is plain forms and links; the pages work without this script.
"use strict";

(function () {
  async function refresh(element, url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) {
      element.innerHTML = await response.text();
    }
  }

  // One refresh at a time; changes that arrive meanwhile make one more.
  function coalesced(element, url) {
    let running = null;
    let again = false;
    return async function update() {
      if (running) { again = true; return running; }
      running = (async () => {
        do { again = false; await refresh(element, url); } while (again);
      })();
      try { await running; } finally { running = null; }
    };
  }

  const SVG = "http://www.w3.org/2000/svg";
  function drawLive(figure, points) {
    const w = 640, h = 220, left = 72, right = 16, top = 16, bottom = 36;
    const ys = points.map((p) => p[1]);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    lo -= pad; hi += pad;
    const n = Math.max(points.length, 2);
    const x = (i) => left + (i - 1) * (w - left - right) / (n - 1);
    const y = (v) => h - bottom - (v - lo) * (h - top - bottom) / (hi - lo);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("class", "plot");
    svg.setAttribute("role", "img");
    const title = document.createElementNS(SVG, "title");
    const last = points[points.length - 1];
    title.textContent = `${figure.dataset.measure}: ${points.length} iterations so far, last ${last[1].toPrecision(6)}`;
    svg.appendChild(title);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", "series");
    line.setAttribute("fill", "none");
    line.setAttribute("points", points.map((p, i) => `${x(i + 1)},${y(p[1])}`).join(" "));
    svg.appendChild(line);
    points.forEach((p, i) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("class", "point");
      dot.setAttribute("cx", x(i + 1)); dot.setAttribute("cy", y(p[1])); dot.setAttribute("r", 3);
      svg.appendChild(dot);
    });
    for (const [text, yy] of [[hi.toPrecision(6), top + 10], [lo.toPrecision(6), h - bottom]]) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("class", "tick"); label.setAttribute("x", left - 6); label.setAttribute("y", yy);
      label.setAttribute("text-anchor", "end"); label.textContent = text;
      svg.appendChild(label);
    }
    const holder = figure.querySelector(".live-svg");
    holder.replaceChildren(svg);
    figure.hidden = false;
  }

  // A job's page: follow its stream until the job is final.
  const panel = document.getElementById("panel");
  if (panel && panel.dataset.final !== "true") {
    const update = coalesced(panel, panel.dataset.panel);
    const figure = document.getElementById("live-plot");
    const points = new Map();
    const stream = new EventSource(panel.dataset.events);
    stream.addEventListener("status", (event) => {
      const status = JSON.parse(event.data);
      const energy = status.progress && (status.progress.energy ?? status.progress.expectation);
      if (figure && typeof energy === "number" && status.progress.step) {
        points.set(status.progress.step, energy);
        drawLive(figure, [...points.entries()].sort((a, b) => a[0] - b[0]));
      }
      update();
    });
    stream.addEventListener("end", async () => {
      stream.close();
      await update();
      panel.dataset.final = "true";
      if (figure && panel.querySelector("figure svg")) { figure.hidden = true; }
    });
  }

  // The jobs list: follow the unfinished jobs on it.
  const rows = document.getElementById("job-rows");
  if (rows && rows.dataset.live) {
    const update = coalesced(rows, rows.dataset.rows);
    const stream = new EventSource(`${rows.dataset.events}?jobs=${encodeURIComponent(rows.dataset.live)}`);
    stream.addEventListener("status", () => { update(); });
    stream.addEventListener("end", () => { stream.close(); update(); });
  }

  // A chosen file is loaded into its text box (a job file, a policy).
  for (const file of document.querySelectorAll("input[type=file][data-into]")) {
    file.addEventListener("change", async () => {
      if (file.files.length) {
        document.getElementById(file.dataset.into).value = await file.files[0].text();
      }
    });
  }

  // Cancelling asks first.
  document.addEventListener("submit", (event) => {
    if (event.target.id === "cancel-form" && !window.confirm("Cancel this job? Its pending tasks will not run.")) {
      event.preventDefault();
    }
  });
})();
