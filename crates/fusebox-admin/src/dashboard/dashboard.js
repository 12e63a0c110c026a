"use strict";
// The fusebox dashboard. State lives in `window.fusebox` so that tests (and
// curious operators, from the console) can look at it: `loadId` is set once
// per page load, `events` counts the SSE events received.
(function () {
  const HISTORY = 120; // seconds of sparkline
  const fb = (window.fusebox = {
    loadId: Math.random().toString(36).slice(2) + Date.now().toString(36),
    events: 0,
    refreshes: 0,
  });
  // Relative to the page, so that the router works nested under a prefix.
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const $ = (id) => document.getElementById(id);
  $("url").textContent = location.origin + location.pathname;

  // Durations come as "250ms", "10s", "1500us", "2m": to seconds.
  const UNIT = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  function secs(d) {
    const m = /^([\d.]+)(ms|us|ns|h|m|s)$/.exec(d || "");
    return m ? parseFloat(m[1]) * UNIT[m[2]] : null;
  }
  function fmtSecs(s) {
    if (s == null) return "–";
    if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 1 : 0) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    return Math.round(s / 60) + " min";
  }
  const fmtRate = (r) => (r == null ? "–" : r < 10 ? r.toFixed(1) : Math.round(r).toString());
  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // Per fuse: samples {at, ok, blown} at least ~1 s apart (Fusebox clock),
  // and the rates between consecutive samples.
  const hist = new Map();
  function record(f, at) {
    let h = hist.get(f.name);
    if (!h) hist.set(f.name, (h = { samples: [], rates: [] }));
    const c = f.counters;
    const last = h.samples[h.samples.length - 1];
    if (last && at - last.at < 0.9) return h;
    if (last && c.asks_ok >= last.ok && c.asks_blown >= last.blown) {
      const dt = at - last.at;
      h.rates.push({ at, ok: (c.asks_ok - last.ok) / dt, blown: (c.asks_blown - last.blown) / dt });
    }
    h.samples.push({ at, ok: c.asks_ok, blown: c.asks_blown });
    while (h.samples.length > 2 && h.samples[0].at < at - HISTORY - 5) h.samples.shift();
    while (h.rates.length && h.rates[0].at < at - HISTORY) h.rates.shift();
    return h;
  }

  function spark(rates, now) {
    const W = 240, H = 40;
    const max = Math.max(1, ...rates.map((r) => Math.max(r.ok, r.blown)));
    const line = (k) =>
      rates
        .map((r) => (((r.at - now + HISTORY) / HISTORY) * W).toFixed(1) + "," + (H - 2 - (r[k] / max) * (H - 4)).toFixed(1))
        .join(" ");
    return (
      `<svg class="spark" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="ask rates, last 2 minutes">` +
      `<polyline class="ok" points="${line("ok")}"/><polyline class="blown" points="${line("blown")}"/></svg>` +
      `<div class="legend">last 2 min, peak ${fmtRate(max)}/s</div>`
    );
  }

  // Finds or makes the tile `[data-<kind>="name"]`, in order, and drops the rest.
  function tiles(container, kind, items, render) {
    const old = new Map();
    for (const el of container.querySelectorAll(`[data-${kind}]`)) old.set(el.dataset[kind], el);
    const frag = document.createDocumentFragment();
    for (const it of items) {
      let el = old.get(it.name);
      old.delete(it.name);
      if (!el) {
        el = document.createElement("article");
        el.className = "tile";
        el.dataset[kind] = it.name;
      }
      render(el, it);
      frag.appendChild(el);
    }
    container.replaceChildren(frag);
    if (!items.length) container.innerHTML = `<p class="dim">no ${kind}s</p>`;
  }

  function renderFuse(el, f, at) {
    const h = record(f, at);
    const r = h.rates[h.rates.length - 1];
    const heal = secs(f.next_heal);
    let healText = "–";
    if (heal != null) healText = `<span class="heal">heals in ${fmtSecs(Math.max(0, heal - at))}</span>`;
    else if (f.state === "blown") healText = `<span class="heal">waits (no timed heal)</span>`;
    else if (f.state === "disabled") healText = `<span class="heal">until enabled</span>`;
    const st = f.config.strategy || {};
    const lim = st.max_melts ?? st.failures;
    el.dataset.state = f.state;
    el.innerHTML =
      `<div class="top"><span class="name">${esc(f.name)}</span>` +
      `<span class="state ${esc(f.state)}">${esc(f.state.toUpperCase())}</span></div>` +
      `<dl><dt>asks ok</dt><dd>${fmtRate(r && r.ok)} /s</dd>` +
      `<dt>asks blown</dt><dd>${fmtRate(r && r.blown)} /s</dd>` +
      `<dt>melts</dt><dd>${f.melts_in_window} in window (tolerates ${esc(lim ?? "–")}), ${f.counters.melts} total</dd>` +
      `<dt>heal</dt><dd>${healText}</dd>` +
      `<dt>heal step</dt><dd>${f.heal_step == null ? "–" : `step ${f.heal_step + 1}, blow ${f.attempt} in a row`}</dd>` +
      `<dt>blows</dt><dd>${f.counters.blows}</dd>` +
      throttleText(f) + `</dl>` +
      spark(h.rates, at);
  }

  // A throttling fuse: the chance the next ask is refused, what it is
  // computed from, and the asks it refused.
  function throttleText(f) {
    const t = f.throttle;
    if (!t) return "";
    return `<dt>throttle</dt><dd>rejects ${Math.round(t.reject_probability * 100)}% ` +
      `(${t.accepts} accepted of ${t.requests}), ${f.counters.throttled} refused</dd>`;
  }

  // A fixed limit, or the adaptive controller: its bounds, its no-load
  // latency, and whether it is measuring it now.
  function limitText(v) {
    const l = v.limit;
    if (!l) return "fixed";
    let t = `${esc(l.kind)} ${l.min}..${l.max}`;
    if (l.min_rtt != null) t += `, min rtt ${fmtSecs(secs(l.min_rtt))}`;
    if (l.probing) t += ", probing";
    return t;
  }

  function renderValve(el, v) {
    const reasons = Object.entries(v.refused)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${esc(k.replace("_", " "))} ${n}`);
    el.dataset.state = "ok";
    el.innerHTML =
      `<div class="top"><span class="name">${esc(v.name)}</span></div>` +
      `<dl><dt>in flight</dt><dd>${v.in_flight} / ${v.concurrency}</dd>` +
      `<dt>limit</dt><dd>${limitText(v)}</dd>` +
      `<dt>queued</dt><dd>${v.queued} / ${v.queue}</dd>` +
      `<dt>admitted</dt><dd>${v.admitted}</dd>` +
      `<dt>refused</dt><dd>${reasons.length ? reasons.join(", ") : "none"}</dd>` +
      `<dt>sojourn p99</dt><dd>${fmtSecs(secs(v.sojourn_p99))}</dd></dl>`;
  }

  function render(snap) {
    const at = secs(snap.at);
    tiles($("fuses"), "fuse", snap.fuses, (el, f) => renderFuse(el, f, at));
    for (const name of hist.keys()) if (!snap.fuses.some((f) => f.name === name)) hist.delete(name);
    tiles($("valves"), "valve", snap.valves, renderValve);
    if (fb.renderKeyed) fb.renderKeyed(snap); // keyed.js
    $("alarms").innerHTML = snap.alarms.length
      ? snap.alarms
          .map((a) => `<li class="alarm" data-alarm="${esc(a.name)}">${esc(a.name)}: ${esc(a.kind.replace("_", " "))} for ${fmtSecs(Math.max(0, at - secs(a.since)))}</li>`)
          .join("")
      : `<li class="dim">none</li>`;
    $("updated").textContent = new Date().toLocaleTimeString();
    document.title = (snap.fuses.some((f) => f.state !== "ok") ? "⚠ " : "") + "fusebox";
  }

  // One fetch at a time; an event during a fetch asks for one more after it.
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const res = await fetch(base + "api/snapshot", { cache: "no-store" });
        if (!res.ok) throw new Error("HTTP " + res.status);
        render(await res.json());
        fb.refreshes++;
      } while (again);
    } catch (e) {
      $("updated").textContent += " (stale: " + e.message + ")";
    } finally {
      busy = false;
    }
  }

  // The browser reconnects an EventSource by itself after an error; only if
  // it gives up (CLOSED) do we make a new one.
  function setConn(c) {
    document.body.dataset.conn = c;
    $("conn").textContent = c;
  }
  function connect() {
    const es = new EventSource(base + "events");
    const onEvent = () => { fb.events++; refresh(); };
    es.onopen = () => setConn("live");
    es.addEventListener("ready", () => { setConn("live"); refresh(); });
    es.addEventListener("lagged", onEvent);
    es.onmessage = onEvent;
    es.onerror = () => {
      setConn("reconnecting");
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }
  connect();
  refresh();
  setInterval(refresh, 1000);
})();
