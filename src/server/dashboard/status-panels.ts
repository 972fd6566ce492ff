/**
 * A status document applied to the page: header pills, workers table, operator commands, config
 * problems, and the endpoint rows (then the table and graph are redrawn).
 * A part of the dashboard's one page script (a single closure, assembled in ../dashboard.ts); it
 * uses the shared state, `rebuildView` (table.ts) and `drawGraph` (depends-graph.ts).
 */
export const STATUS_SCRIPT = `
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
`;
