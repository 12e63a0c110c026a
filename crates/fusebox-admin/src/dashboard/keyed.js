// The keyed families: a tile per family from the snapshot's `keyed` list,
// its keys by state, its totals, and its top keys (at most ten: the
// snapshot never lists a family's keys) in a table. Each tile carries
// `data-family`, `data-kind` and `data-state` (blown if a key is blown,
// disabled if one is disabled, else ok); each row of the table `data-key`
// and `data-state`. `window.fusebox.keyedRenders` counts the renders.
(function () {
  const fb = window.fusebox;
  const box = document.getElementById("keyed");
  fb.keyedRenders = 0;
  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const UNIT = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  function secs(d) {
    const m = /^([\d.]+)(ms|us|ns|h|m|s)$/.exec(d || "");
    return m ? parseFloat(m[1]) * UNIT[m[2]] : null;
  }
  const row = (label, text) => `<dt>${label}</dt><dd>${text}</dd>`;

  function fuseRows(k) {
    const s = k.states, t = k.totals;
    return (
      row("keys", `${s.ok} ok, <b class="state-blown">${s.blown} blown</b>, ${s.disabled} disabled`) +
      row("engines", `${k.stats.live} of ${k.stats.keys} keys`) +
      row("totals", `${t.refused} refused, ${t.melts} melts, ${t.blows} blows, ${t.heals} heals`)
    );
  }

  function valveRows(k) {
    const s = k.states, t = k.totals;
    const refused = Object.entries(t.refusals)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${esc(r.replace("_", " "))} ${n}`);
    return (
      row("keys", `${s.busy} busy, ${s.idle} idle`) +
      row("tasks", `${t.in_flight} in flight, ${t.queued} queued, ${t.admitted} admitted`) +
      row("refused", refused.length ? refused.join(", ") : "none")
    );
  }

  function topTable(k, at) {
    if (!k.top.length) return `<p class="dim">${k.kind === "fuses" ? "no key blown" : "no key refusing"}</p>`;
    const heal = (key) => {
      const h = secs(key.next_heal);
      return h == null ? (key.state === "disabled" ? "until enabled" : "–") : `in ${Math.max(0, h - at).toFixed(1)} s`;
    };
    const rows = k.top
      .map((key) =>
        `<tr data-key="${esc(key.key)}" data-state="${esc(key.state)}"><td class="key">${esc(key.key)}</td>` +
        `<td>${esc(key.state)}</td><td>${key.refused}</td>` +
        (k.kind === "fuses" ? `<td>${key.blows}</td><td>${heal(key)}</td>` : `<td>${key.in_flight}</td><td>${key.queued}</td>`) +
        `</tr>`)
      .join("");
    const head = k.kind === "fuses" ? "<th>blows</th><th>heal</th>" : "<th>in flight</th><th>queued</th>";
    return `<table class="keys"><thead><tr><th>top key</th><th>state</th><th>refused</th>${head}</tr></thead>` +
      `<tbody>${rows}</tbody></table>`;
  }

  fb.renderKeyed = function (snap) {
    const families = snap.keyed || [];
    const at = secs(snap.at) || 0;
    if (!families.length) {
      box.innerHTML = `<p class="dim">no keyed families</p>`;
    } else {
      box.innerHTML = families
        .map((k) => {
          const state = k.states.blown ? "blown" : k.states.disabled ? "disabled" : "ok";
          return (
            `<article class="tile" data-family="${esc(k.name)}" data-kind="${esc(k.kind)}" data-state="${state}">` +
            `<div class="top"><span class="name">${esc(k.name)}</span><span class="dim">keyed ${esc(k.kind)}</span></div>` +
            `<dl>${k.kind === "fuses" ? fuseRows(k) : valveRows(k)}` +
            row("turned away", `${k.stats.full} (max ${k.config.max_keys} keys)`) +
            `</dl>${topTable(k, at)}</article>`
          );
        })
        .join("");
    }
    fb.keyedRenders++;
  };
})();
