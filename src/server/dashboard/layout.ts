/** The dashboard's markup: header pills, workers, problems, commands, endpoint table, feed, graph. */
export const DASHBOARD_BODY = `
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
