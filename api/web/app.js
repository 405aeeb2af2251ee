/* lmnet web view: a page per hash (#networks, #hosts, #vms, #migrations,
 * #migrations/ID, #events), each drawn from the agent's REST API and
 * redrawn every few seconds.
 *
 * The token is kept in sessionStorage (this tab only) and sent as
 * "Authorization: Bearer" on every call; no cookie is used.  Everything the
 * API returns is put into the page with textContent, never as HTML. */
'use strict';

const TOKEN_KEY = 'lmnet-token';
const REFRESH_MS = 3000;
const MIGRATION_REFRESH_MS = 1000;
let timer = null;
let generation = 0;
let members = {};

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class AuthError extends Error {}

async function api(path) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
  if (r.status === 401) throw new AuthError('the agent wants a valid token');
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && (body.detail || body.title)) || ('HTTP ' + r.status));
  return body;
}

/* Every item of a paged list, following "next" (at most PAGES pages). */
async function all(path, pages = 20) {
  let items = [];
  let next = null;
  for (let i = 0; i < pages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await api(next ? path + sep + 'after=' + encodeURIComponent(next) : path);
    items = items.concat(body.items || []);
    next = body.next;
    if (!next) break;
  }
  return items;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : text(c));
  return e;
}

function text(v) {
  if (v === null || v === undefined) return document.createTextNode('');
  if (typeof v === 'boolean') return document.createTextNode(v ? 'yes' : 'no');
  if (typeof v === 'object') return document.createTextNode(JSON.stringify(v));
  return document.createTextNode(String(v));
}

function state(s) {
  return el('span', { class: 'state state-' + String(s || '').toLowerCase() }, s || '');
}

function nodeName(id) {
  return (members[id] && members[id].name) || (id ? id.slice(0, 8) : '');
}

function bytes(n) {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function ms(n) {
  return typeof n === 'number' ? n + ' ms' : '';
}

/* A table: COLUMNS are [header, function(row) -> cell content]. */
function table(id, columns, rows, empty) {
  if (!rows.length) return el('p', { class: 'muted', id: id + '-empty' }, empty || 'none');
  const head = el('tr', {}, ...columns.map(([h]) => el('th', {}, h)));
  const body = rows.map((r) => el('tr', { class: 'row' },
    ...columns.map(([, f]) => {
      const v = f(r);
      return el('td', {}, v instanceof Node ? v : text(v));
    })));
  return el('table', { id }, el('thead', {}, head), el('tbody', {}, ...body));
}

function vlanText(v) {
  if (!v) return '';
  if (v.mode === 'access') return 'access ' + v.id;
  return 'trunk ' + (v.allowed || []).join(',') + (v.native ? ' native ' + v.native : '');
}

function progressOf(m) {
  const p = m.progress || {};
  if (m.phase === 'completed') return el('progress', { max: '100', value: '100' });
  if (typeof p.bytes_total === 'number' && p.bytes_total > 0) {
    const done = Math.min(p.bytes_total, p.bytes_total - (p.bytes_remaining || 0));
    const pct = Math.round((100 * done) / p.bytes_total);
    return el('span', {}, el('progress', { max: '100', value: String(pct) }), ' ' + pct + '%');
  }
  return el('progress', {});
}

const views = {
  networks: {
    title: 'Cluster networks',
    async draw() {
      const nets = await all('/v1/cluster/networks');
      const ifaces = [];
      for (const n of nets)
        for (const i of n.interfaces || []) ifaces.push(Object.assign({ network: n.name }, i));
      return [
        table('networks', [
          ['Name', (n) => n.name], ['State', (n) => state(n.state)], ['Metric', (n) => n.metric],
          ['Role', (n) => n.role], ['Address', (n) => n.address], ['AddressMask', (n) => n.address_mask],
          ['AutoMetric', (n) => n.auto_metric], ['Members', (n) => n.members],
          ['Speed', (n) => (n.speed_mbps ? n.speed_mbps + ' Mb/s' : '')],
        ], nets, 'No cluster network yet: the hosts report their NICs within seconds.'),
        el('h3', {}, 'Interfaces'),
        table('interfaces', [
          ['Network', (i) => i.network], ['Node', (i) => i.node_name || nodeName(i.node)],
          ['NIC', (i) => i.nic], ['Address', (i) => i.address + '/' + i.prefix],
          ['State', (i) => state(i.state)], ['Switch', (i) => i.switch],
        ], ifaces),
      ];
    },
  },
  hosts: {
    title: 'Hosts and NICs',
    async draw() {
      const [nics, nets] = await Promise.all([all('/v1/host/nics'), all('/v1/cluster/networks')]);
      const byNode = [];
      for (const n of nets)
        for (const i of n.interfaces || []) byNode.push(Object.assign({ network: n.name, role: n.role }, i));
      byNode.sort((a, b) => (a.node_name || '').localeCompare(b.node_name || '') || a.nic.localeCompare(b.nic));
      return [
        table('members', [
          ['Name', (m) => m.name], ['Id', (m) => m.id], ['Url', (m) => m.url],
          ['Registry', (m) => m.registry], ['LastSeen', (m) => m.last_seen],
        ], Object.values(members)),
        el('h3', {}, 'NICs on the cluster networks, by host'),
        table('host-nics', [
          ['Host', (i) => i.node_name || nodeName(i.node)], ['NIC', (i) => i.nic],
          ['Network', (i) => i.network], ['Role', (i) => i.role],
          ['Address', (i) => i.address + '/' + i.prefix], ['State', (i) => state(i.state)],
          ['Speed', (i) => (i.speed_mbps ? i.speed_mbps + ' Mb/s' : '')],
        ], byNode),
        el('h3', {}, 'NICs of this host'),
        table('nics', [
          ['Name', (n) => n.name], ['State', (n) => state(n.state)], ['Mac', (n) => n.mac],
          ['Mtu', (n) => n.mtu], ['Speed', (n) => (n.speed_mbps ? n.speed_mbps + ' Mb/s' : '')],
          ['Addresses', (n) => (n.addresses || []).map((a) => a.address + '/' + a.prefix).join(' ')],
          ['Offloads', (n) => Object.entries(n.offloads || {}).filter(([, v]) => v).map(([k]) => k).join(' ')],
        ], nics),
      ];
    },
  },
  vms: {
    title: 'VMs and ports',
    async draw() {
      const [vms, ports] = await Promise.all([all('/v1/vms'), all('/v1/ports')]);
      return [
        table('vms', [
          ['Name', (v) => v.name], ['State', (v) => state(v.state)], ['Host', (v) => nodeName(v.host)],
          ['Memory', (v) => v.memory_mib + ' MiB'], ['vCPUs', (v) => v.vcpus],
          ['Ports', (v) => (v.adapters || []).map((a) => a.port).join(' ')],
        ], vms, 'No VM on this host.'),
        el('h3', {}, 'Ports'),
        table('ports', [
          ['Name', (p) => p.name], ['Switch', (p) => p.switch], ['Vm', (p) => p.vm], ['Mac', (p) => p.mac],
          ['Vlan', (p) => vlanText(p.vlan)], ['Active', (p) => p.active],
          ['Guards', (p) => [p.spoofing_allowed ? '' : 'mac', p.dhcp_guard ? 'dhcp' : '', p.router_guard ? 'router' : '']
            .filter(Boolean).join(' ')],
        ], ports, 'No port on this host.'),
      ];
    },
  },
  migrations: {
    title: 'Migrations',
    refresh: MIGRATION_REFRESH_MS,
    async draw(id) {
      if (id) return drawMigration(id);
      const list = (await all('/v1/migrations')).reverse();
      return [table('migrations', [
        ['Id', (m) => el('a', { href: '#migrations/' + m.id }, m.id.slice(0, 8))],
        ['Vm', (m) => m.vm], ['Role', (m) => m.role], ['Mode', (m) => m.mode],
        ['Phase', (m) => state(m.phase)], ['Progress', progressOf],
        ['From', (m) => nodeName(m.source)], ['To', (m) => nodeName(m.destination)],
        ['Downtime', (m) => ms(m.downtime_ms)], ['Gap', (m) => ms(m.switchover_gap_ms)],
        ['Error', (m) => m.error],
      ], list, 'No migration yet.')];
    },
  },
  events: {
    title: 'Audit log',
    async draw() {
      const events = (await all('/v1/events?limit=1000', 50)).slice(-300).reverse();
      return [table('events', [
        ['Id', (e) => e.id], ['Time', (e) => e.time], ['Node', (e) => nodeName(e.node)],
        ['Actor', (e) => e.actor], ['Kind', (e) => e.kind], ['Subject', (e) => e.subject],
        ['Detail', (e) => (e.detail ? JSON.stringify(e.detail) : '')],
      ], events, 'The audit log is empty.')];
    },
  },
};

async function drawMigration(id) {
  const m = await api('/v1/migrations/' + encodeURIComponent(id));
  const p = m.progress || {};
  const facts = [
    ['Id', m.id], ['VM', m.vm], ['Role', m.role], ['Mode', m.mode], ['Phase', state(m.phase)],
    ['Progress', progressOf(m)], ['From', nodeName(m.source)], ['To', nodeName(m.destination)],
    ['Network', m.network && m.network.id],
    ['Addresses', m.network && m.network.source_address ? m.network.source_address + ' \u2192 ' + m.network.destination_address : ''],
    ['Sent', bytes(p.bytes_sent)], ['Remaining', bytes(p.bytes_remaining)], ['Total', bytes(p.bytes_total)],
    ['Rate', p.mbps ? p.mbps.toFixed(0) + ' Mbit/s' : ''], ['Rounds', p.rounds],
    ['Expected downtime', ms(p.expected_downtime_ms)], ['Downtime', ms(m.downtime_ms)],
    ['Switchover gap', ms(m.switchover_gap_ms)], ['Error', m.error],
  ];
  const dl = el('dl', { id: 'migration' });
  for (const [k, v] of facts) {
    if (v === '' || v === undefined || v === null) continue;
    dl.append(el('dt', {}, k), el('dd', {}, v instanceof Node ? v : text(v)));
  }
  const timings = Object.entries(m.timings_ms || {});
  return [
    el('p', {}, el('a', { href: '#migrations' }, '\u2190 all migrations')),
    dl,
    el('h3', {}, 'Phase timings'),
    table('timings', [['Phase', ([k]) => k.replace(/_ms$/, '')], ['Time', ([, v]) => ms(v)]], timings),
    el('h3', {}, 'Journal'),
    table('journal', [
      ['Seq', (s) => s.seq], ['Time', (s) => new Date(s.time_ms).toISOString()],
      ['Step', (s) => s.step], ['Status', (s) => state(s.status)],
    ], m.journal || []),
  ];
}

function showLogin(message) {
  clearTimeout(timer);
  document.getElementById('view').hidden = true;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('token').focus();
}

async function route() {
  clearTimeout(timer);
  const mine = ++generation;
  const [name, id] = (location.hash.replace(/^#/, '') || 'networks').split('/');
  const view = views[name] || views.networks;
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.view === name);
  document.getElementById('title').textContent = view.title;
  const status = document.getElementById('status');
  try {
    const list = await all('/v1/cluster/members');
    members = {};
    for (const m of list) members[m.id] = m;
    const parts = await view.draw(id);
    if (mine !== generation) return;
    document.getElementById('login').hidden = true;
    document.getElementById('view').hidden = false;
    document.getElementById('nav').hidden = false;
    document.getElementById('logout').hidden = !token();
    document.getElementById('content').replaceChildren(...parts);
    status.textContent = 'updated ' + new Date().toLocaleTimeString();
    status.classList.remove('error');
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof AuthError) return showLogin(token() ? 'That token was refused.' : '');
    status.textContent = 'could not update: ' + e.message;
    status.classList.add('error');
    document.getElementById('view').hidden = false;
  }
  timer = setTimeout(route, view.refresh || REFRESH_MS);
}

async function showHost() {
  try {
    const h = await api('/v1/host');
    document.getElementById('host').textContent = h.hostname + ' \u00b7 lmnet ' + h.version;
  } catch (e) {
    /* shown again after sign-in */
  }
}

document.getElementById('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = document.getElementById('token');
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = '';
  showHost();
  route();
});
document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('');
});
window.addEventListener('hashchange', route);
showHost();
route();
