/**
 * The live dashboard: one self-contained page (no build step, no external assets) that reads
 * /api/v1/status once and then follows /api/v1/events. A `?token=` query is forwarded to the API.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>watcher</title>
<style>
  :root { --bg:#0f1419; --panel:#182028; --fg:#e6e6e6; --mute:#8a96a3; --up:#3fb950; --down:#f85149; --unk:#d29922; --line:#2a3540; }
  * { box-sizing: border-box; }
  body { margin:0; font: 14px/1.4 system-ui, -apple-system, Segoe UI, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:24px; align-items:baseline; padding:14px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  .pill { padding:2px 8px; border-radius:10px; background:var(--panel); color:var(--mute); font-size:12px; }
  .pill b { color:var(--fg); }
  main { padding:16px 20px; display:grid; gap:16px; }
  section { background:var(--panel); border-radius:8px; padding:12px 14px; overflow-x:auto; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--mute); margin:0 0 8px; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--mute); font-weight:500; font-size:12px; }
  td.err { white-space:normal; color:var(--mute); }
  .state { font-weight:600; }
  .UP { color:var(--up); } .DOWN { color:var(--down); } .UNKNOWN { color:var(--unk); }
  .problems li { color:var(--down); font-family: ui-monospace, monospace; font-size:12px; }
  #conn.ok { color:var(--up); } #conn.bad { color:var(--down); }
</style>
</head>
<body>
<header>
  <h1>watcher</h1>
  <span class="pill">worker <b id="worker">-</b></span>
  <span class="pill">mode <b id="mode">-</b></span>
  <span class="pill">admin <b id="admin">-</b></span>
  <span class="pill">endpoints <b id="count">0</b></span>
  <span class="pill">down <b id="down">0</b></span>
  <span class="pill">waiting <b id="waiting">0</b></span>
  <span class="pill">live <b id="conn">connecting</b></span>
</header>
<main>
  <section id="problems-section" hidden><h2>Config problems</h2><ul class="problems" id="problems"></ul></section>
  <section><h2>Endpoints</h2>
    <table><thead><tr><th>endpoint</th><th>state</th><th>last check</th><th>status</th><th>duration</th><th>phases</th><th>cert</th><th>lag</th><th>reason</th></tr></thead>
    <tbody id="endpoints"></tbody></table>
  </section>
  <section><h2>Workers</h2>
    <table><thead><tr><th>id</th><th>address</th><th>jobs</th><th>jobsets</th><th>capacity</th><th>lag p99</th></tr></thead>
    <tbody id="workers"></tbody></table>
  </section>
</main>
<script>
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const q = token ? '?token=' + encodeURIComponent(token) : '';
  const rows = new Map();
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const ago = (t) => t ? Math.max(0, Math.round((Date.now() - t) / 1000)) + 's ago' : '-';
  const PHASES = [['dns', 'dns'], ['connect', 'conn'], ['tls', 'tls'], ['firstByte', 'ttfb']];
  const phases = (t) => t ? PHASES.filter(([k]) => t[k] != null).map(([k, n]) => n + ' ' + t[k].toFixed(1)).join(' · ') || '-' : '-';
  const cert = (v) => v && v.cert_expiry_days != null ? esc(v.cert_expiry_days) + ' d' : '-';
  function render() {
    const list = [...rows.values()].sort((a, b) => (a.state === 'DOWN' ? 0 : 1) - (b.state === 'DOWN' ? 0 : 1) || a.name.localeCompare(b.name));
    $('endpoints').innerHTML = list.map((e) => {
      const r = e.last || {};
      return '<tr data-endpoint="' + esc(e.name) + '"><td>' + esc(e.name) + '</td><td class="state ' + esc(e.state) + '">' + esc(e.state) + (e.suppressed ? ' (suppressed)' : '') +
        '</td><td>' + ago(r.started_at) + '</td><td>' + esc(r.status_code ?? '-') + '</td><td>' + (r.duration_ms != null ? r.duration_ms.toFixed(1) + ' ms' : '-') +
        '</td><td class="phases">' + phases(r.timings) + '</td><td class="cert">' + cert(r.values) + '</td><td>' + (r.started_at ? (r.started_at - r.scheduled_at) + ' ms' : '-') + '</td><td class="err">' + esc(r.error || '') + '</td></tr>';
    }).join('');
    $('count').textContent = rows.size;
    $('down').textContent = list.filter((e) => e.state === 'DOWN').length;
  }
  function applyStatus(s) {
    $('worker').textContent = s.worker?.id ?? '-';
    $('mode').textContent = s.cluster?.mode ?? '-';
    $('admin').textContent = s.cluster?.admin ?? '-';
    $('waiting').textContent = s.cluster?.waiting ?? 0;
    rows.clear();
    for (const e of s.endpoints || []) rows.set(e.name, e);
    $('workers').innerHTML = (s.cluster?.workers || []).map((w) => '<tr><td>' + esc(w.id) + '</td><td>' + esc(w.address) + '</td><td>' + w.jobs + '</td><td>' + w.jobsets + '</td><td>' + (w.capacity ?? '∞') + '</td><td>' + (w.lagP99Ms ?? '-') + '</td></tr>').join('');
    const probs = s.config?.problems || [];
    $('problems-section').hidden = probs.length === 0;
    $('problems').innerHTML = probs.map((p) => '<li>' + esc(p.file + ':' + p.line + ':' + p.col + ': ' + p.message) + '</li>').join('');
    render();
  }
  async function refresh() {
    try { const r = await fetch('/api/v1/status' + q); if (r.ok) applyStatus(await r.json()); } catch {}
  }
  refresh();
  setInterval(refresh, 10000);
  const es = new EventSource('/api/v1/events' + q);
  es.onopen = () => { $('conn').textContent = 'yes'; $('conn').className = 'ok'; };
  es.onerror = () => { $('conn').textContent = 'no'; $('conn').className = 'bad'; };
  es.addEventListener('result', (ev) => {
    const r = JSON.parse(ev.data);
    const e = rows.get(r.endpoint) || { name: r.endpoint, state: 'UNKNOWN' };
    e.last = r; rows.set(r.endpoint, e); render();
  });
  es.addEventListener('state', (ev) => {
    const c = JSON.parse(ev.data);
    const e = rows.get(c.endpoint) || { name: c.endpoint };
    e.state = c.to; e.suppressed = c.suppressed; rows.set(c.endpoint, e); render();
  });
  for (const t of ['ownership', 'config', 'cluster']) es.addEventListener(t, () => refresh());
})();
</script>
</body>
</html>
`;
