/** The dashboard's style sheet (dark, fixed row height for the virtualised table). */
export const DASHBOARD_STYLE = `
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
