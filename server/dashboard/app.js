// The agentreg dashboard: one page, no build step. It lists the fleet once
// (GET /v1/agents, which says the revision it reflects), then follows the
// change stream (GET /v1/watch as Server-Sent Events) from that revision,
// and polls the few aggregates the stream does not carry (/v1/stats,
// /v1/performance, /metrics). The token is asked once and kept in
// sessionStorage; it travels in the Authorization header only, never in a
// URL (which is why the stream is read with fetch, not EventSource: an
// EventSource cannot send a header).
'use strict';
(function () {
  const TOKEN_KEY = 'agentreg.token';
  const STEP_S = 5;             // seconds per chart point
  const WINDOW_S = 15 * 60;     // what the charts show
  const MAX_ROWS = 500;         // agent rows drawn at once (the rest are counted)
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY);
  let generation = 0;           // bumped on logout: stale loops stop
  const agents = new Map();     // agent_id -> agent (as GET /v1/agents answers)
  let revision = 0;             // last revision applied
  let relistWanted = false;     // an agent was registered or updated: its spec is re-read
  const buckets = new Map();    // chart step -> {n, ok, durations[], cost}
  let costBy = 'model';

  // ---- token and requests ---------------------------------------------------

  function askToken(message) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    generation++;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    if (!$('login').open) $('login').showModal();
  }

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    $('login').close();
    start();
  });
  $('logout').addEventListener('click', () => askToken(''));

  class Unauthorized extends Error {}

  async function api(path, init) {
    const headers = Object.assign({ Authorization: 'Bearer ' + token }, (init && init.headers) || {});
    const res = await fetch(path, Object.assign({}, init, { headers }));
    if (res.status === 401 || res.status === 403) {
      askToken('The server refused this token.');
      throw new Unauthorized();
    }
    return res;
  }

  async function json(path) {
    const res = await api(path);
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }

  // Runs `f` now and every `ms` until the token changes; errors are shown,
  // not thrown (a transient failure must not stop the loop).
  function every(ms, f) {
    const mine = generation;
    const tick = async () => {
      if (mine !== generation) return;
      try { await f(); } catch (e) { if (!(e instanceof Unauthorized)) note(e); }
      if (mine === generation) setTimeout(tick, ms);
    };
    tick();
  }

  function note(e) { $('live').title = String(e && e.message || e); }

  // ---- fleet ------------------------------------------------------------------

  // Lists every agent, page by page; answers the revision of the first page
  // (the stream is followed from there, so nothing is missed; a change seen
  // twice is harmless, each event carries the agent's latest state).
  async function listAll() {
    let cursor = null, first = null;
    const fresh = new Map();
    do {
      const res = await api('/v1/agents?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      if (!res.ok) throw new Error('GET /v1/agents: HTTP ' + res.status);
      if (first === null) first = Number(res.headers.get('X-Agentreg-Revision') || 0);
      const page = await res.json();
      for (const a of page.agents) fresh.set(a.agent_id, a);
      cursor = page.next_cursor;
    } while (cursor);
    agents.clear();
    for (const [k, v] of fresh) agents.set(k, v);
    return first;
  }

  function apply(c) {
    switch (c.kind) {
      case 'agent_unregistered':
        agents.delete(c.agent_id);
        break;
      case 'agent_registered':
      case 'agent_updated':
        relistWanted = true;
        // fall through: the event's state now, the spec from the re-list
      case 'status_changed':
      case 'load_changed':
      case 'lease_granted':
      case 'lease_released': {
        const a = agents.get(c.agent_id) || { agent_id: c.agent_id, model_name: '', skills: [] };
        a.agent_type = c.agent_type;
        a.status = c.status;
        a.current_load = c.current_load;
        a.max_capacity = c.max_capacity;
        if (c.kind === 'agent_registered') a.last_heartbeat = c.at;
        agents.set(c.agent_id, a);
        break;
      }
      case 'execution_completed':
        observe(c);
        break;
      default:  // leases_expired, sweep_degraded: the next stats poll shows them
        break;
    }
    dirty();
  }

  let drawPending = false;
  function dirty() {
    if (drawPending) return;
    drawPending = true;
    setTimeout(() => { drawPending = false; drawFleet(); }, 200);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function bar(load, cap) {
    const b = el('div', 'bar' + (cap > 0 && load >= cap ? ' full' : ''));
    const f = el('div');
    f.style.width = (cap > 0 ? Math.min(100, 100 * load / cap) : 0) + '%';
    b.appendChild(f);
    return b;
  }

  function drawFleet() {
    const type = $('f-type').value, status = $('f-status').value;
    const skill = $('f-skill').value.trim(), search = $('f-search').value.trim().toLowerCase();
    const byType = new Map(), skills = new Set();
    for (const a of agents.values()) {
      let t = byType.get(a.agent_type);
      if (!t) byType.set(a.agent_type, t = { online: 0, busy: 0, paused: 0, offline: 0, load: 0, cap: 0 });
      t[a.status] = (t[a.status] || 0) + 1;
      if (a.status === 'online' || a.status === 'busy') { t.load += a.current_load; t.cap += a.max_capacity; }
      for (const s of a.skills || []) skills.add(s);
    }
    // Type cards, and the type filter's options.
    const names = [...byType.keys()].sort();
    const sel = $('f-type');
    if (sel.options.length - 1 !== names.length || names.some((n, i) => sel.options[i + 1].value !== n)) {
      sel.length = 1;
      for (const n of names) sel.add(new Option(n, n));
      sel.value = names.includes(type) ? type : '';
    }
    const cards = $('types');
    cards.replaceChildren(...names.map((n) => {
      const t = byType.get(n);
      const card = el('div', 'type' + (n === type ? ' on' : ''));
      card.dataset.type = n;
      card.appendChild(el('div', 'name', n));
      const counts = el('div', 'counts');
      for (const s of ['online', 'busy', 'paused', 'offline'])
        if (t[s]) counts.appendChild(el('span', 'c-' + s, t[s] + ' ' + s));
      card.appendChild(counts);
      card.appendChild(bar(t.load, t.cap));
      card.appendChild(el('div', 'muted', t.load + ' / ' + t.cap + ' slots in use'));
      return card;
    }));
    const dl = $('skills');
    if (dl.childElementCount !== skills.size)
      dl.replaceChildren(...[...skills].sort().map((s) => { const o = el('option'); o.value = s; return o; }));
    // Rows.
    const rows = [];
    for (const a of agents.values()) {
      if (type && a.agent_type !== type) continue;
      if (status && a.status !== status) continue;
      if (skill && !(a.skills || []).includes(skill)) continue;
      if (search && !a.agent_id.toLowerCase().includes(search)) continue;
      rows.push(a);
    }
    rows.sort((x, y) => (x.agent_id < y.agent_id ? -1 : x.agent_id > y.agent_id ? 1 : 0));
    const body = $('agents').tBodies[0];
    body.replaceChildren(...rows.slice(0, MAX_ROWS).map((a) => {
      const tr = el('tr', a.status);
      tr.dataset.agent = a.agent_id;
      tr.appendChild(el('td', '', a.agent_id));
      tr.appendChild(el('td', '', a.agent_type));
      tr.appendChild(el('td', '', a.model_name || ''));
      const st = el('td');
      st.appendChild(el('span', 'status ' + a.status, a.status));
      tr.appendChild(st);
      const ld = el('td');
      ld.appendChild(bar(a.current_load, a.max_capacity));
      ld.appendChild(el('span', 'muted', a.current_load + ' / ' + a.max_capacity));
      tr.appendChild(ld);
      tr.appendChild(el('td', 'muted', a.last_heartbeat ? ago(a.last_heartbeat) : ''));
      return tr;
    }));
    $('fleet-count').textContent = agents.size + ' agents, ' + names.length + ' types';
    $('fleet-more').textContent = rows.length > MAX_ROWS ? 'showing ' + MAX_ROWS + ' of ' + rows.length + ' matching agents' : '';
  }

  function ago(t) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
    return s < 90 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
  }

  $('types').addEventListener('click', (ev) => {
    const card = ev.target.closest('.type');
    if (!card) return;
    $('f-type').value = $('f-type').value === card.dataset.type ? '' : card.dataset.type;
    drawFleet();
  });
  for (const id of ['f-type', 'f-status', 'f-skill', 'f-search'])
    $(id).addEventListener('input', drawFleet);

  // ---- the change stream ------------------------------------------------------

  function setLive(on, text) {
    const l = $('live');
    l.className = 'live ' + (on ? 'on' : 'off');
    l.textContent = text;
  }

  // Follows /v1/watch from `revision` until the token changes: one SSE
  // response read as a stream; on a drop it resumes from the last revision
  // applied; on "compacted" (it fell behind the ring) it re-lists first.
  async function follow() {
    const mine = generation;
    let backoff = 500;
    while (mine === generation) {
      try {
        const res = await api('/v1/watch?since=' + revision, { headers: { Accept: 'text/event-stream' } });
        if (!res.ok) throw new Error('GET /v1/watch: HTTP ' + res.status);
        setLive(true, 'live');
        backoff = 500;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '', reopen = false;
        while (!reopen) {
          const { value, done } = await reader.read();
          if (done || mine !== generation) break;
          buf += decoder.decode(value, { stream: true });
          let end;
          while (!reopen && (end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            reopen = await event(block);
          }
        }
        reader.cancel().catch(() => {});
      } catch (e) {
        if (e instanceof Unauthorized) return;
        note(e);
      }
      if (mine !== generation) return;
      setLive(false, 'reconnecting');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  // One SSE event; true when the stream must be reopened (compacted).
  async function event(block) {
    let id = null, name = 'message', data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;  // a keep-alive comment
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') name = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
    }
    if (name === 'compacted') {
      revision = await listAll();
      dirty();
      return true;
    }
    if (!data) return false;
    apply(JSON.parse(data));
    if (id !== null) revision = Number(id);
    $('revision').textContent = 'revision ' + revision;
    return false;
  }

  // ---- charts -------------------------------------------------------------------

  function observe(c) {
    const step = Math.floor(Date.now() / 1000 / STEP_S);
    let b = buckets.get(step);
    if (!b) buckets.set(step, b = { n: 0, ok: 0, durations: [], cost: 0 });
    b.n++;
    if (c.outcome === 'success') b.ok++;
    b.durations.push(c.duration_ms);
    b.cost += c.cost_micro_usd / 1e6;
  }

  function p95(xs) {
    if (!xs.length) return null;
    const s = xs.slice().sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
  }

  const charts = {};
  function makeCharts() {
    if (typeof uPlot === 'undefined') { $('charts-missing').hidden = false; return; }
    const axis = { stroke: '#7d8b99', grid: { stroke: '#26313d', width: 1 }, ticks: { stroke: '#26313d' } };
    const defs = { rate: ['c-rate', '#58a6ff'], success: ['c-success', '#3fb950'], p95: ['c-p95', '#d29922'], cost: ['c-cost', '#bc8cff'] };
    for (const [k, [id, color]] of Object.entries(defs)) {
      const box = $(id);
      charts[k] = new uPlot({
        width: Math.max(300, box.clientWidth - 16), height: 160,
        legend: { show: false }, cursor: { show: true },
        scales: { x: { time: true }, y: k === 'success' ? { range: [0, 1] } : { auto: true } },
        axes: [axis, Object.assign({ size: 55 }, axis)],
        series: [{}, { stroke: color, width: 1.5, fill: color + '22', spanGaps: false, points: { show: false } }],
      }, [[], []], box);
    }
    window.addEventListener('resize', () => {
      for (const [k, u] of Object.entries(charts)) u.setSize({ width: Math.max(300, $(defs[k][0]).clientWidth - 16), height: 160 });
    });
  }

  function drawCharts() {
    const now = Math.floor(Date.now() / 1000 / STEP_S);
    const first = now - WINDOW_S / STEP_S;
    for (const k of buckets.keys()) if (k < first) buckets.delete(k);
    const xs = [], rate = [], ok = [], p = [], cost = [];
    for (let s = first; s <= now; s++) {
      const b = buckets.get(s);
      xs.push(s * STEP_S);
      rate.push(b ? b.n / STEP_S : 0);
      ok.push(b && b.n ? b.ok / b.n : null);
      p.push(b ? p95(b.durations) : null);
      cost.push(b ? b.cost * 60 / STEP_S : 0);
    }
    if (charts.rate) {
      charts.rate.setData([xs, rate]);
      charts.success.setData([xs, ok]);
      charts.p95.setData([xs, p]);
      charts.cost.setData([xs, cost]);
    }
  }

  // ---- health, cost, tools --------------------------------------------------------

  function card(id, value, bad) {
    $(id).textContent = value;
    $(id).parentElement.classList.toggle('bad', !!bad);
  }

  async function pollStats() {
    const s = await json('/v1/stats');
    $('degraded').hidden = !s.degraded;
    card('h-agents', s.agents);
    $('h-agents-sub').textContent = s.online + ' online, ' + s.busy + ' busy, ' + s.paused + ' paused, ' + s.offline + ' offline';
    const stale = s.last_sweep ? s.last_sweep.stale : 0;
    card('h-stale', stale, stale > 0);
    $('h-stale-sub').textContent = (s.evictions_total || 0) + ' evicted in all' + (s.in_grace_period ? ', grace period' : '');
    card('h-leases', s.leases_held);
    $('h-running').textContent = s.running_executions + ' executions running';
    const p = s.persistence || {};
    card('h-backlog', p.enabled ? p.backlog : 'memory only', p.enabled && p.backlog > 1000);
    $('h-persist-sub').textContent = p.enabled ? (p.rows || 0) + ' rows written, ' + (p.retries || 0) + ' retries' : '';
    card('h-dead', p.enabled ? (p.dead_letters || 0) : '-', (p.dead_letters || 0) > 0);
    $('h-lost').textContent = p.lost ? p.lost + ' records lost' : '';
  }

  async function pollPerformance() {
    const [byAgent, byType, cost] = await Promise.all([
      json('/v1/performance?by=agent'), json('/v1/performance?by=agent_type'), json('/v1/performance?by=' + costBy)]);
    const low = [...byType.summaries.map((x) => ['type', x]), ...byAgent.summaries.map((x) => ['agent', x])]
      .filter(([, x]) => x.total_executions > 10 && x.success_rate < 0.8)
      .sort((a, b) => a[1].success_rate - b[1].success_rate);
    const box = $('h-low');
    box.parentElement.classList.toggle('bad', low.length > 0);
    box.textContent = low.length
      ? low.slice(0, 8).map(([d, x]) => d + ' ' + x.key + ': ' + x.success_rate.toFixed(2) + ' of ' + x.total_executions).join(' · ') +
        (low.length > 8 ? ' · and ' + (low.length - 8) + ' more' : '')
      : 'none';
    const rows = cost.summaries.slice().sort((a, b) => b.total_cost_usd - a.total_cost_usd).slice(0, 12);
    $('cost').tBodies[0].replaceChildren(...rows.map((x) => {
      const tr = el('tr');
      tr.appendChild(el('td', '', x.key || '(none)'));
      tr.appendChild(el('td', 'num', x.total_executions));
      tr.appendChild(el('td', 'num', x.success_rate.toFixed(2)));
      tr.appendChild(el('td', 'num', '$' + x.total_cost_usd.toFixed(4)));
      tr.appendChild(el('td', 'num', '$' + x.avg_cost_per_execution.toFixed(5)));
      tr.appendChild(el('td', 'num', Math.round(x.p95_duration_ms)));
      return tr;
    }));
  }

  for (const b of $('cost-tabs').querySelectorAll('button'))
    b.addEventListener('click', () => {
      costBy = b.dataset.by;
      for (const o of $('cost-tabs').querySelectorAll('button')) o.classList.toggle('on', o === b);
      pollPerformance().catch(note);
    });

  // The Prometheus text of /metrics, as {name: [{labels, value}]}.
  function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (x, c) => (c === 'n' ? '\n' : c));
      (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[4]) });
    }
    return out;
  }

  // The p95 of a Prometheus histogram's cumulative buckets (linear within
  // the bucket, as histogram_quantile does).
  function histogramP95(bs) {
    bs.sort((a, b) => a.le - b.le);
    const total = bs.length ? bs[bs.length - 1].n : 0;
    if (!total) return null;
    const rank = 0.95 * total;
    let prevLe = 0, prevN = 0;
    for (const b of bs) {
      if (b.n >= rank) {
        if (!isFinite(b.le)) return prevLe;
        return prevLe + (b.le - prevLe) * (b.n > prevN ? (rank - prevN) / (b.n - prevN) : 0);
      }
      prevLe = b.le; prevN = b.n;
    }
    return prevLe;
  }

  async function pollTools() {
    const res = await api('/metrics');
    if (!res.ok) throw new Error('GET /metrics: HTTP ' + res.status);
    const m = parseMetrics(await res.text());
    const tools = new Map();
    const get = (n) => { let t = tools.get(n); if (!t) tools.set(n, t = { ok: 0, fail: 0, buckets: [] }); return t; };
    for (const s of m.agentreg_tool_calls_total || []) {
      const t = get(s.labels.gen_ai_tool_name);
      if (s.labels.outcome === 'success') t.ok += s.value; else t.fail += s.value;
    }
    for (const s of m.agentreg_tool_call_duration_seconds_bucket || [])
      get(s.labels.gen_ai_tool_name).buckets.push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), n: s.value });
    const rows = [...tools.entries()].sort((a, b) => (b[1].ok + b[1].fail) - (a[1].ok + a[1].fail)).slice(0, 12);
    $('tools').tBodies[0].replaceChildren(...rows.map(([name, t]) => {
      const tr = el('tr');
      const calls = t.ok + t.fail;
      const q = histogramP95(t.buckets);
      tr.appendChild(el('td', '', name));
      tr.appendChild(el('td', 'num', calls));
      tr.appendChild(el('td', 'num', calls ? (t.ok / calls).toFixed(2) : '-'));
      tr.appendChild(el('td', 'num', q === null ? '-' : Math.round(q * 1000)));
      return tr;
    }));
  }

  // ---- start ------------------------------------------------------------------------

  async function start() {
    const mine = generation;
    setLive(false, 'connecting');
    try {
      revision = await listAll();
    } catch (e) {
      if (!(e instanceof Unauthorized)) { note(e); setLive(false, 'offline'); setTimeout(() => mine === generation && start(), 2000); }
      return;
    }
    if (mine !== generation) return;
    drawFleet();
    follow();
    every(5000, pollStats);
    every(10000, pollPerformance);
    every(10000, pollTools);
    every(5000, async () => {
      if (!relistWanted) return;
      relistWanted = false;
      await listAll();  // the specs of agents registered or updated meanwhile
      dirty();
    });
  }

  makeCharts();
  setInterval(drawCharts, 1000);
  drawCharts();

  // For the browser test and for curious operators: what the page holds.
  window.agentregDashboard = {
    agents: () => agents.size,
    revision: () => revision,
    chartPoints: () => [...buckets.values()].reduce((n, b) => n + b.n, 0),
  };

  if (token) start();
  else askToken('');
})();
