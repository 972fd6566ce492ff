/**
 * Loading /api/v1/status (again, at most once a second after a cluster event) and following
 * /api/v1/events: results and state changes update rows, other events go to the feed.
 * A part of the dashboard's one page script (a single closure, assembled in ../dashboard.ts); it
 * uses the shared state, `schedule` (table.ts), `applyStatus` (status-panels.ts) and `updateGraphNode`
 * (depends-graph.ts).
 */
export const LIVE_SCRIPT = `
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
`;
