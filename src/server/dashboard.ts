/**
 * The live dashboard: one self-contained page (no build step, no external assets, no
 * dependencies) that reads the cluster /api/v1/status once and then follows the cluster
 * /api/v1/events. Credentials are the session cookie (docs/API.md "Access"); the page never sees
 * the token.
 *
 * Built for 10,000 endpoints: the table is virtualised (a fixed pool of row elements placed over
 * the visible window), events only update a row's data and mark it dirty, and one animation
 * frame repaints the dirty rows that are visible; re-sorting after updates happens at most once a
 * second. `window.__watcher` exposes render timings for bench/dashboard.
 */
const STYLE = `
  :root { --bg:#0f1419; --panel:#182028; --fg:#e6e6e6; --mute:#8a96a3; --up:#3fb950; --down:#f85149; --unk:#d29922; --line:#2a3540; --row:24px; }
  * { box-sizing: border-box; }
  body { margin:0; font: 13px/1.4 system-ui, -apple-system, Segoe UI, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:14px; align-items:baseline; padding:12px 18px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  .pill { padding:2px 8px; border-radius:10px; background:var(--panel); color:var(--mute); font-size:12px; }
  .pill b { color:var(--fg); }
  .pill.warn { background:#3d2a00; color:var(--unk); }
  main { padding:14px 18px; display:grid; gap:14px; grid-template-columns: minmax(0,3fr) minmax(280px,1fr); }
  section { background:var(--panel); border-radius:8px; padding:10px 12px; min-width:0; }
  .wide { grid-column: 1 / -1; }
  h2 { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--mute); margin:0 0 8px; display:flex; gap:10px; align-items:center; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--mute); font-weight:500; font-size:12px; }
  .UP { color:var(--up); } .DOWN { color:var(--down); } .UNKNOWN, .NONE { color:var(--unk); }
  .problems li { color:var(--down); font-family: ui-monospace, monospace; font-size:12px; }
  #conn.ok { color:var(--up); } #conn.bad { color:var(--down); }
  .tools { display:flex; gap:8px; margin-bottom:8px; }
  .tools input, .tools select { font:inherit; background:var(--bg); color:var(--fg); border:1px solid var(--line); border-radius:4px; padding:3px 6px; }
  .tools input { flex:1; }
  .grid { display:grid; grid-template-columns: minmax(180px,3fr) 90px 90px 80px 70px minmax(120px,2fr) 130px 170px 60px; }
  .thead { color:var(--mute); font-size:12px; border-bottom:1px solid var(--line); }
  .thead span { padding:3px 6px; cursor:pointer; user-select:none; }
  .thead span.sorted::after { content:' ▾'; } .thead span.sorted.asc::after { content:' ▴'; }
  #viewport { height:60vh; overflow-y:auto; position:relative; contain:strict; }
  #spacer { position:relative; width:100%; }
  .row { position:absolute; left:0; right:0; height:var(--row); border-bottom:1px solid var(--line); align-items:center; }
  .row span { padding:0 6px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
  .row .state { font-weight:600; }
  .row .reason { color:var(--mute); }
  svg.spark { width:120px; height:18px; display:block; }
  svg.spark polyline { fill:none; stroke:#58a6ff; stroke-width:1.2; }
  svg.spark circle { fill:var(--down); }
  #feed { list-style:none; margin:0; padding:0; max-height:60vh; overflow-y:auto; font-size:12px; }
  #feed li { padding:2px 0; border-bottom:1px solid var(--line); }
  #feed time { color:var(--mute); margin-right:6px; }
  #graph svg { width:100%; }
  #graph text { fill:var(--fg); font-size:11px; }
  #graph line { stroke:var(--mute); stroke-width:1; }
  #graph rect { fill:var(--bg); stroke-width:1.5; }
  #graph rect.UP { stroke:var(--up); } #graph rect.DOWN { stroke:var(--down); } #graph rect.UNKNOWN, #graph rect.NONE { stroke:var(--unk); }
  .mute { color:var(--mute); }
  form.logout { margin-left:auto; } form.logout button { font:inherit; background:none; border:0; color:var(--mute); cursor:pointer; }
`;

const BODY = `
<header>
  <h1>watcher</h1>
  <span class="pill">worker <b id="worker">-</b></span>
  <span class="pill">mode <b id="mode">-</b></span>
  <span class="pill">admin <b id="admin">-</b></span>
  <span class="pill">workers <b id="nworkers">0</b></span>
  <span class="pill">endpoints <b id="count">0</b></span>
  <span class="pill">down <b id="down">0</b></span>
  <span class="pill">waiting <b id="waiting">0</b></span>
  <span class="pill">overloaded <b id="overloaded">0</b></span>
  <span class="pill warn" id="partial" hidden>partial: <b id="unanswered"></b> did not answer</span>
  <span class="pill">live <b id="conn">connecting</b></span>
  <form class="logout" method="post" action="/logout"><button type="submit">sign out</button></form>
</header>
<main>
  <section class="wide"><h2>Workers</h2>
    <table><thead><tr><th>id</th><th>address</th><th>admin</th><th>jobs</th><th>jobsets</th><th>capacity</th><th>lag p99</th><th>coverage</th><th>overloaded</th><th>lease</th><th>answered</th></tr></thead>
    <tbody id="workers"></tbody></table>
  </section>
  <section class="wide" id="problems-section" hidden><h2>Config problems</h2><ul class="problems" id="problems"></ul></section>
  <section class="wide" id="commands-section" hidden><h2>Operator commands in force</h2><ul class="problems" id="commands"></ul></section>
  <section><h2>Endpoints <span class="mute" id="shown"></span></h2>
    <div class="tools">
      <input id="filter" placeholder="filter: name, owner or reason" autocomplete="off">
      <select id="state-filter"><option value="">any state</option><option>DOWN</option><option>UP</option><option>UNKNOWN</option><option value="NONE">not reported</option></select>
    </div>
    <div class="grid thead" id="thead">
      <span data-key="name">endpoint</span><span data-key="state">state</span><span data-key="owner">owner</span><span data-key="latency">latency</span><span data-key="age">checked</span><span data-key="reason">reason</span><span>last 30</span><span>phases (ms)</span><span>cert</span>
    </div>
    <div id="viewport"><div id="spacer"></div></div>
  </section>
  <section><h2>Live events</h2><ul id="feed"></ul></section>
  <section class="wide" id="graph-section" hidden><h2>depends_on</h2><div id="graph"></div></section>
</main>`;

const SCRIPT = String.raw`
(() => {
  'use strict';
  const ROW_H = 24, OVERSCAN = 10, HIST = 30, FEED_MAX = 200, GRAPH_MAX = 300, RESORT_MS = 1000;
  const $ = (id) => document.getElementById(id);
  const stats = { firstRenderMs: null, statusLoads: 0, events: 0, flushes: 0, flushMsTotal: 0, flushMsMax: 0, rowsPainted: 0 };
  window.__watcher = stats;
  const rows = new Map();       // name -> endpoint record
  let view = [];                // names in display order (filtered, sorted)
  let sortKey = 'state', sortAsc = true, filterText = '', stateFilter = '';
  const dirty = new Set();
  let frame = 0, resortAt = 0, viewStale = false, downCount = 0, selfId = null;
  const viewport = $('viewport'), spacer = $('spacer');
  const pool = [];

  const stateOf = (e) => e.state || 'NONE';
  const RANK = { DOWN: 0, NONE: 1, UNKNOWN: 2, UP: 3 };
  const latency = (e) => (e.last ? e.last.duration_ms : Infinity);
  const cmp = {
    name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    state: (a, b) => RANK[stateOf(a)] - RANK[stateOf(b)] || cmp.name(a, b),
    owner: (a, b) => String(a.owner).localeCompare(String(b.owner)) || cmp.name(a, b),
    latency: (a, b) => latency(b) - latency(a) || cmp.name(a, b),
    age: (a, b) => (a.last ? a.last.started_at : 0) - (b.last ? b.last.started_at : 0) || cmp.name(a, b),
    reason: (a, b) => String((a.last && a.last.error) || '').localeCompare(String((b.last && b.last.error) || '')) || cmp.name(a, b),
  };

  function matches(e) {
    if (stateFilter && stateOf(e) !== stateFilter) return false;
    if (!filterText) return true;
    return e.name.toLowerCase().includes(filterText) || String(e.owner || '').toLowerCase().includes(filterText) ||
      String((e.last && e.last.error) || '').toLowerCase().includes(filterText);
  }

  function rebuildView() {
    const list = [];
    for (const e of rows.values()) if (matches(e)) list.push(e);
    const c = cmp[sortKey];
    list.sort(sortAsc ? c : (a, b) => c(b, a));
    view = list.map((e) => e.name);
    spacer.style.height = view.length * ROW_H + 'px';
    $('shown').textContent = view.length === rows.size ? '' : view.length + ' shown';
    viewStale = false;
    resortAt = performance.now();
    paintAll();
  }

  function rowEl(i) {
    let el = pool[i];
    if (!el) {
      el = document.createElement('div');
      el.className = 'row grid';
      for (let k = 0; k < 6; k++) el.appendChild(document.createElement('span'));
      const cell = document.createElement('span');
      cell.innerHTML = '<svg class="spark" viewBox="0 0 120 18" preserveAspectRatio="none"><polyline></polyline></svg>';
      el.appendChild(cell);
      for (let k = 0; k < 2; k++) el.appendChild(document.createElement('span'));
      el.children[7].className = 'phases';
      el.children[8].className = 'cert';
      el.children[1].className = 'state';
      el.children[5].className = 'reason';
      spacer.appendChild(el);
      pool[i] = el;
    }
    return el;
  }

  const PHASES = [['dns_ms', 'dns'], ['connect_ms', 'conn'], ['tls_ms', 'tls'], ['first_byte_ms', 'ttfb']];
  function phases(t) {
    if (!t) return '-';
    return PHASES.filter(([k]) => t[k] != null).map(([k, n]) => n + ' ' + t[k].toFixed(1)).join(' · ') || '-';
  }

  function ago(t) {
    return t ? Math.max(0, Math.round((Date.now() - t) / 1000)) + 's ago' : '-';
  }

  function spark(svg, hist) {
    const line = svg.firstChild;
    while (svg.childNodes.length > 1) svg.removeChild(svg.lastChild);
    let max = 0;
    for (const v of hist) if (v !== null && v > max) max = v;
    const pts = [];
    const step = 120 / (HIST - 1);
    const x0 = (HIST - hist.length) * step;
    hist.forEach((v, i) => {
      const x = (x0 + i * step).toFixed(1);
      if (v === null) {
        const c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
        c.setAttribute('cx', x); c.setAttribute('cy', '15'); c.setAttribute('r', '1.8');
        svg.appendChild(c);
      } else pts.push(x + ',' + (16 - (max ? (v / max) * 14 : 0)).toFixed(1));
    });
    line.setAttribute('points', pts.join(' '));
  }

  function paint(el, e) {
    const c = el.children;
    el.dataset.endpoint = e.name;
    c[0].textContent = e.name; c[0].title = e.url || e.name;
    const st = stateOf(e);
    c[1].textContent = (e.state || 'not reported') + (e.suppressed ? ' (suppressed)' : '') +
      (e.maintenance ? ' (maintenance)' : '') + (e.silenced ? ' (silenced)' : '') + (e.paused ? ' (paused)' : '');
    c[1].className = 'state ' + st;
    c[2].textContent = e.owner || 'waiting';
    c[3].textContent = e.last ? e.last.duration_ms.toFixed(1) + ' ms' : '-';
    c[4].textContent = ago(e.last && e.last.started_at);
    c[5].textContent = (e.last && e.last.error) || '';
    c[5].title = c[5].textContent;
    spark(c[6].firstChild, e.history_ms || []);
    c[7].textContent = phases(e.last && e.last.timings);
    const days = e.last && e.last.cert_expiry_days;
    c[8].textContent = days === undefined || days === null ? '-' : days.toFixed(1) + ' d';
    stats.rowsPainted++;
  }

  function visibleRange() {
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(view.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_H) + OVERSCAN);
    return [first, last];
  }

  function paintAll() {
    const [first, last] = visibleRange();
    let k = 0;
    for (let i = first; i < last; i++, k++) {
      const el = rowEl(k);
      el.style.transform = 'translateY(' + i * ROW_H + 'px)';
      el.hidden = false;
      paint(el, rows.get(view[i]));
    }
    for (; k < pool.length; k++) pool[k].hidden = true;
    dirty.clear();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    const t0 = performance.now();
    if (viewStale && t0 - resortAt >= RESORT_MS) rebuildView();
    else {
      for (const el of pool) {
        if (el.hidden) continue;
        const name = el.dataset.endpoint;
        if (dirty.has(name)) paint(el, rows.get(name));
      }
      dirty.clear();
      if (viewStale) setTimeout(schedule, RESORT_MS - (t0 - resortAt));
    }
    $('down').textContent = downCount;
    const ms = performance.now() - t0;
    stats.flushes++; stats.flushMsTotal += ms; if (ms > stats.flushMsMax) stats.flushMsMax = ms;
  }

  viewport.addEventListener('scroll', () => paintAll(), { passive: true });
  $('filter').addEventListener('input', (ev) => { filterText = ev.target.value.trim().toLowerCase(); rebuildView(); });
  $('state-filter').addEventListener('change', (ev) => { stateFilter = ev.target.value; rebuildView(); });
  $('thead').addEventListener('click', (ev) => {
    const k = ev.target.dataset && ev.target.dataset.key;
    if (!k) return;
    if (k === sortKey) sortAsc = !sortAsc; else { sortKey = k; sortAsc = true; }
    for (const s of $('thead').children) s.className = s.dataset.key === sortKey ? 'sorted' + (sortAsc ? ' asc' : '') : '';
    rebuildView();
  });

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function applyStatus(s) {
    selfId = s.worker.id;
    $('worker').textContent = s.worker.id;
    $('mode').textContent = s.cluster.mode;
    $('admin').textContent = s.cluster.admin || '-';
    $('waiting').textContent = s.cluster.waiting;
    $('nworkers').textContent = s.cluster.workers.length;
    $('overloaded').textContent = s.cluster.workers.filter((w) => w.overloaded).length;
    $('partial').hidden = !s.partial;
    $('unanswered').textContent = s.unanswered.map((u) => u.id + ' (' + u.code + ')').join(', ');
    const wt = $('workers');
    wt.textContent = '';
    for (const w of s.cluster.workers) {
      const tr = document.createElement('tr');
      tr.dataset.worker = w.id;
      cell(tr, w.id); cell(tr, w.address); cell(tr, w.admin ? 'admin' : '');
      cell(tr, w.jobs); cell(tr, w.jobsets); cell(tr, w.capacity == null ? '∞' : w.capacity);
      cell(tr, w.lag_p99_ms == null ? '-' : w.lag_p99_ms + ' ms');
      cell(tr, w.coverage == null ? '-' : Math.round(w.coverage * 100) + '%');
      cell(tr, w.overloaded ? 'yes' : 'no', w.overloaded ? 'DOWN' : '');
      cell(tr, w.lease_ok == null ? '-' : w.lease_ok ? 'ok' : 'lost', w.lease_ok === false ? 'DOWN' : '');
      cell(tr, w.answered === false ? 'no' : 'yes', w.answered === false ? 'DOWN' : '');
      wt.appendChild(tr);
    }
    const cmds = s.cluster.commands || [];
    $('commands-section').hidden = cmds.length === 0;
    const cl = $('commands');
    cl.textContent = '';
    for (const c of cmds) {
      const li = document.createElement('li');
      li.dataset.command = c.id;
      li.textContent = c.kind + ' ' + (c.endpoint || ('tag ' + c.tag)) + ' by ' + c.author + ': ' + c.reason +
        (c.expires_at ? '  (until ' + new Date(c.expires_at).toISOString().slice(0, 19) + 'Z)' : '  (until resumed)');
      cl.appendChild(li);
    }
    const probs = (s.config && s.config.problems) || [];
    $('problems-section').hidden = probs.length === 0;
    const pl = $('problems');
    pl.textContent = '';
    for (const p of probs) {
      const li = document.createElement('li');
      li.textContent = p.file + ':' + p.line + ':' + p.col + ': ' + p.message + (p.seen_by ? '  [' + p.seen_by.join(', ') + ']' : '');
      pl.appendChild(li);
    }
    rows.clear();
    downCount = 0;
    for (const e of s.endpoints) {
      rows.set(e.name, e);
      if (e.state === 'DOWN') downCount++;
    }
    $('count').textContent = rows.size;
    $('down').textContent = downCount;
    rebuildView();
    drawGraph();
    stats.statusLoads++;
    if (stats.firstRenderMs === null) stats.firstRenderMs = performance.now();
  }

  let loading = null, reloadTimer = 0;
  async function refresh() {
    if (loading) return loading;
    loading = (async () => {
      try {
        const r = await fetch('/api/v1/status', { credentials: 'same-origin', cache: 'no-store' });
        if (r.status === 401) { location.href = '/login'; return; }
        if (r.ok) applyStatus(await r.json());
      } catch {}
    })().finally(() => { loading = null; });
    return loading;
  }
  function reloadSoon() {
    if (!reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = 0; refresh(); }, 1000);
  }

  function feed(text, cls) {
    const ul = $('feed');
    const li = document.createElement('li');
    const t = document.createElement('time');
    t.textContent = new Date().toLocaleTimeString();
    li.appendChild(t);
    const span = document.createElement('span');
    span.textContent = text;
    if (cls) span.className = cls;
    li.appendChild(span);
    ul.insertBefore(li, ul.firstChild);
    while (ul.childNodes.length > FEED_MAX) ul.removeChild(ul.lastChild);
  }

  function placeholder(name) {
    return { name, file: '', url: '', owner: null, state: null, suppressed: false, maintenance: false, silenced: false, paused: false, since: 0, next_due: null, skipped_slots: 0, depends_on: [], last: null, history_ms: [] };
  }

  const es = new EventSource('/api/v1/events');
  es.onopen = () => { $('conn').textContent = 'yes'; $('conn').className = 'ok'; };
  es.onerror = () => { $('conn').textContent = 'no'; $('conn').className = 'bad'; };
  es.addEventListener('result', (ev) => {
    stats.events++;
    const r = JSON.parse(ev.data);
    let e = rows.get(r.endpoint);
    if (!e) { e = placeholder(r.endpoint); rows.set(r.endpoint, e); viewStale = true; $('count').textContent = rows.size; }
    e.last = r;
    e.owner = r.worker;
    const h = e.history_ms || (e.history_ms = []);
    h.push(r.ok ? Math.round(r.duration_ms * 10) / 10 : null);
    if (h.length > HIST) h.shift();
    if (sortKey === 'latency' || sortKey === 'age' || sortKey === 'reason' || filterText) viewStale = true;
    dirty.add(r.endpoint);
    schedule();
  });
  es.addEventListener('state', (ev) => {
    stats.events++;
    const c = JSON.parse(ev.data);
    let e = rows.get(c.endpoint);
    if (!e) { e = placeholder(c.endpoint); rows.set(c.endpoint, e); }
    if (e.state === 'DOWN') downCount--;
    if (c.to === 'DOWN') downCount++;
    e.state = c.to; e.suppressed = c.suppressed; e.since = c.at;
    if (sortKey === 'state' || stateFilter) viewStale = true;
    dirty.add(c.endpoint);
    schedule();
    feed(c.endpoint + ': ' + c.from + ' → ' + c.to + (c.suppressed ? ' (suppressed)' : '') + (c.maintenance ? ' (maintenance: held)' : '') + (c.silenced ? ' (silenced: held)' : '') + (c.reason ? ' — ' + c.reason : '') + '  [' + c.origin + ']', c.to);
    updateGraphNode(c.endpoint, c.to);
  });
  es.addEventListener('ownership', (ev) => { const d = JSON.parse(ev.data); feed('ownership ' + d.origin + ': ' + (d.reason ? d.reason + ' ' : '') + (d.jobs != null ? d.jobs + ' jobs' : '')); reloadSoon(); });
  es.addEventListener('worker', (ev) => { const d = JSON.parse(ev.data); feed('worker ' + d.id + ' ' + d.change, d.change === 'left' ? 'DOWN' : 'UP'); reloadSoon(); });
  es.addEventListener('config', (ev) => { const d = JSON.parse(ev.data); feed('config on ' + d.origin + ': ' + d.endpoints + ' endpoints, ' + d.problems.length + ' problems', d.problems.length ? 'DOWN' : ''); reloadSoon(); });
  es.addEventListener('overload', (ev) => { const d = JSON.parse(ev.data); feed((d.worker || d.origin) + (d.overloaded ? ' is overloaded' : ' keeps up again'), d.overloaded ? 'DOWN' : 'UP'); reloadSoon(); });
  es.addEventListener('cluster', (ev) => {
    const d = JSON.parse(ev.data);
    if (d.admin !== undefined) feed('admin: ' + (d.admin || 'none') + '  [' + d.origin + ']');
    if (d.partition) feed('etcd ' + d.partition + ' on ' + d.origin, 'DOWN');
    if (d.scaling) feed(d.scaling.active ? 'scaling limit hit' : 'scaling limit resolved', d.scaling.active ? 'DOWN' : 'UP');
    if (d.commands !== undefined) feed('operator commands in force: ' + d.commands + '  [' + d.origin + ']');
    reloadSoon();
  });
  es.addEventListener('reset', () => { feed('missed events: reloading'); reloadSoon(); });

  // depends_on: parents left, children to the right, one column per depth
  let graphNodes = new Map();
  function drawGraph() {
    const box = $('graph');
    const involved = new Set();
    for (const e of rows.values()) if (e.depends_on && e.depends_on.length) { involved.add(e.name); for (const p of e.depends_on) involved.add(p); }
    $('graph-section').hidden = involved.size === 0;
    box.textContent = '';
    graphNodes = new Map();
    if (involved.size === 0) return;
    if (involved.size > GRAPH_MAX) { box.textContent = involved.size + ' endpoints in depends_on relations: too many to draw; filter the table by name instead.'; return; }
    const depth = new Map();
    const depthOf = (n, seen) => {
      if (depth.has(n)) return depth.get(n);
      if (seen.has(n)) return 0;
      seen.add(n);
      const e = rows.get(n);
      let d = 0;
      for (const p of (e && e.depends_on) || []) d = Math.max(d, depthOf(p, seen) + 1);
      depth.set(n, d);
      return d;
    };
    const cols = [];
    for (const n of [...involved].sort()) { const d = depthOf(n, new Set()); (cols[d] = cols[d] || []).push(n); }
    const W = 260, H = 26, NS = 'http://www.w3.org/2000/svg';
    const pos = new Map();
    cols.forEach((col, d) => col.forEach((n, i) => pos.set(n, [10 + d * W, 10 + i * H])));
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('height', String(20 + Math.max(...cols.map((c) => c.length)) * H));
    svg.setAttribute('viewBox', '0 0 ' + (20 + cols.length * W) + ' ' + (20 + Math.max(...cols.map((c) => c.length)) * H));
    for (const n of involved) {
      const e = rows.get(n);
      for (const p of (e && e.depends_on) || []) {
        const a = pos.get(p), b = pos.get(n);
        const l = document.createElementNS(NS, 'line');
        l.setAttribute('x1', a[0] + 220); l.setAttribute('y1', a[1] + 10); l.setAttribute('x2', b[0]); l.setAttribute('y2', b[1] + 10);
        svg.appendChild(l);
      }
    }
    for (const [n, [x, y]] of pos) {
      const g = document.createElementNS(NS, 'g');
      g.dataset.node = n;
      const r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', x); r.setAttribute('y', y); r.setAttribute('width', 220); r.setAttribute('height', 20); r.setAttribute('rx', 4);
      r.setAttribute('class', stateOf(rows.get(n) || {}));
      const t = document.createElementNS(NS, 'text');
      t.setAttribute('x', x + 6); t.setAttribute('y', y + 14);
      t.textContent = n.length > 34 ? '…' + n.slice(-33) : n;
      const title = document.createElementNS(NS, 'title');
      title.textContent = n;
      g.appendChild(r); g.appendChild(t); g.appendChild(title);
      svg.appendChild(g);
      graphNodes.set(n, r);
    }
    box.appendChild(svg);
  }
  function updateGraphNode(name, state) {
    const r = graphNodes.get(name);
    if (r) r.setAttribute('class', state);
  }

  setInterval(() => { if (!document.hidden) refresh(); }, 30000);
  refresh();
})();
`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>watcher</title>
<style>${STYLE}</style>
</head>
<body>${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
