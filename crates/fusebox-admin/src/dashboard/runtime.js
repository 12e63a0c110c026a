// The process tile: the host process and its tokio runtime from
// `api/runtime`, once a second, one fetch at a time. The server computes
// the rates over at least half a second, so a slow answer is the server
// waiting out its window, not a fault. `window.fusebox.runtimeRefreshes`
// counts the tiles drawn; the tile keeps the raw figures in data-* too.
(function () {
  const fb = window.fusebox;
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const tile = document.getElementById("process");
  fb.runtimeRefreshes = 0;
  const dash = (v, f) => (v == null ? "–" : f(v));
  const mib = (b) => (b / 1048576).toFixed(1) + " MiB";
  const pct = (p) => p.toFixed(1) + " %";
  const int = (n) => String(n);

  function render(r) {
    const p = r.process, rt = r.runtime;
    tile.dataset.rssBytes = p.rss_bytes ?? "";
    tile.dataset.threads = p.threads ?? "";
    tile.dataset.aliveTasks = rt.alive_tasks;
    const row = (label, field, text) => `<dt>${label}</dt><dd data-field="${field}">${text}</dd>`;
    tile.innerHTML =
      `<div class="top"><span class="name">process</span>` +
      `<span class="dim">${dash(rt.flavor, (f) => f.replace("_", " "))} runtime</span></div><dl>` +
      row("RSS", "rss", dash(p.rss_bytes, mib)) +
      row("RSS peak", "rss-peak", dash(p.rss_peak_bytes, mib)) +
      row("CPU", "cpu", dash(p.cpu_percent, pct)) +
      row("threads", "threads", dash(p.threads, int)) +
      row("open fds", "fds", dash(p.open_fds, int)) +
      row("alive tasks", "tasks", dash(rt.alive_tasks, int)) +
      row("workers", "workers", dash(rt.workers, int) + dash(rt.busy_percent, (b) => `, busy ${pct(b)}`)) +
      `</dl>` +
      (p.note ? `<p class="dim" data-field="note"></p>` : "");
    if (p.note) tile.querySelector('[data-field="note"]').textContent = p.note;
  }

  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const res = await fetch(base + "api/runtime?top=0", { cache: "no-store" });
      if (res.status === 404) {
        // A router built without the `inspector` feature: no process tile.
        tile.closest("section").hidden = true;
        clearInterval(timer);
        return;
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      render(await res.json());
      fb.runtimeRefreshes++;
    } catch (e) {
      tile.dataset.stale = e.message;
    } finally {
      busy = false;
    }
  }
  const timer = setInterval(refresh, 1000);
  refresh();
})();
