/**
 * The depends_on graph: parents left, children to the right, one column per depth; node colours
 * follow state changes.
 * A part of the dashboard's one page script (a single closure, assembled in ../dashboard.ts); it
 * uses the shared state and `stateOf` (table.ts).
 */
export const GRAPH_SCRIPT = `
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
`;
