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

import { GRAPH_SCRIPT } from './dashboard/depends-graph.js';
import { DASHBOARD_BODY } from './dashboard/layout.js';
import { LIVE_SCRIPT } from './dashboard/live-events.js';
import { STATUS_SCRIPT } from './dashboard/status-panels.js';
import { DASHBOARD_STYLE } from './dashboard/style.js';
import { TABLE_SCRIPT } from './dashboard/table.js';

/**
 * The page script's shared state; the parts below run inside the same closure, in this order. The
 * parts are template literals taken as written: a backslash in the script is written `\\`.
 */
const STATE_SCRIPT = `
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
`;

const SCRIPT =
  '\n(() => {' +
  STATE_SCRIPT +
  TABLE_SCRIPT +
  STATUS_SCRIPT +
  LIVE_SCRIPT +
  GRAPH_SCRIPT +
  `
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
<style>${DASHBOARD_STYLE}</style>
</head>
<body>${DASHBOARD_BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
