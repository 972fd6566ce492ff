/**
 * The virtualised endpoint table: sort and filter, a fixed pool of row elements over the visible
 * window, sparklines, repaint of dirty rows once per animation frame, re-sort at most once a second.
 * A part of the dashboard's one page script (a single closure, assembled in ../dashboard.ts); it
 * uses the shared state declared there.
 */
export const TABLE_SCRIPT = `
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
`;
