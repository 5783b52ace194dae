// Operator view: cluster statistics and the live sessions, polled every 2 s with the operator key (kept in
// sessionStorage, so it leaves with the tab).

import { ApiError, BehaviorApi } from '/sdk/api.js';

const api = new BehaviorApi();
const $ = (id) => document.getElementById(id);
const KEY = 'ops.operator_key';
const POLL_MS = 2000;

let timer = null;
let generation = 0; // a poll started before the key changed does not draw

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function getKey() {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: the key lives until the page closes.
  }
  memoryKey = key;
}
let memoryKey = '';

function setStatus(stateName, text) {
  const s = $('ops-status');
  s.dataset.state = stateName;
  s.textContent = text;
}

function showError(message) {
  const e = $('ops-error');
  e.hidden = !message;
  e.textContent = message || '';
}

const fmtNum = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString() : v.toFixed(v < 10 ? 2 : 1)) : String(v));
const riskLevel = (r) => (r >= 0.65 ? 'high' : r >= 0.35 ? 'medium' : 'low');
const humanKey = (k) => k.replace(/_/g, ' ');

// /v1/stats has no fixed shape in the contract: numbers at the top become tiles, objects become groups of tiles
// or tables (an array of objects, or an object of objects such as per-node figures).
function renderStats(stats) {
  const root = $('stats');
  if (!stats || typeof stats !== 'object') {
    root.replaceChildren(el('p', { class: 'muted', text: 'No statistics.' }));
    return;
  }
  const scalars = [];
  const groups = [];
  for (const [k, v] of Object.entries(stats)) {
    if (v === null || typeof v !== 'object') scalars.push([k, v]);
    else groups.push([k, v]);
  }
  const nodes = [];
  if (scalars.length) nodes.push(tiles(scalars));
  for (const [k, v] of groups) nodes.push(el('div', { class: 'stat-group', dataset: { key: k } }, el('h3', { text: humanKey(k) }), renderGroup(v)));
  root.replaceChildren(...nodes);
}

function tiles(pairs) {
  return el('div', { class: 'tiles' }, ...pairs.map(([k, v]) => el('div', { class: 'tile', dataset: { key: k } }, el('div', { class: 'k', text: humanKey(k) }), el('div', { class: 'v', text: fmtNum(v) }))));
}

function renderGroup(v) {
  const rows = Array.isArray(v) ? v.map((r, i) => [String(i), r]) : Object.entries(v);
  if (rows.length && rows.every(([, r]) => r && typeof r === 'object' && !Array.isArray(r))) {
    const cols = [...new Set(rows.flatMap(([, r]) => Object.keys(r)))];
    return el('table', { class: 'table' },
      el('thead', {}, el('tr', {}, Array.isArray(v) ? null : el('th', { text: '' }), ...cols.map((c) => el('th', { text: humanKey(c) })))),
      el('tbody', {}, ...rows.map(([name, r]) => el('tr', {}, Array.isArray(v) ? null : el('td', { class: 'mono', text: name }), ...cols.map((c) => el('td', { class: typeof r[c] === 'number' ? 'num' : '', text: r[c] === undefined ? '' : typeof r[c] === 'object' ? JSON.stringify(r[c]) : fmtNum(r[c]) }))))),
    );
  }
  return tiles(rows.map(([k, r]) => [k, r !== null && typeof r === 'object' ? JSON.stringify(r) : r]));
}

function renderSessions(list) {
  const sessions = Array.isArray(list) ? [...list] : [];
  sessions.sort((a, b) => (b.risk ?? 0) - (a.risk ?? 0));
  $('session-count').textContent = `(${sessions.length})`;
  const rows = sessions.map((s) => {
    const risk = typeof s.risk === 'number' ? s.risk : 0;
    const feedback = (label) => {
      const b = el('button', { type: 'button', class: 'small-btn', text: label, dataset: { label, sessionId: s.session_id } });
      b.addEventListener('click', () => sendFeedback(s.session_id, label, b));
      return b;
    };
    return el('tr', { dataset: { sessionId: s.session_id, state: s.state ?? '', action: s.last_action ?? '' } },
      el('td', { class: 'mono', text: short(s.session_id), title: s.session_id }),
      el('td', { class: 'mono', text: short(s.user_id), title: s.user_id }),
      el('td', { text: s.state ?? '' }),
      el('td', { class: 'mono' }, el('span', { class: 'riskbar' }, el('span', { style: `width:${Math.round(risk * 100)}%`, dataset: { level: riskLevel(risk) } })), risk.toFixed(2)),
      el('td', {}, s.last_action ? el('span', { class: `badge badge-${s.last_action}`, text: s.last_action }) : '—'),
      el('td', { class: 'num', text: fmtNum(s.events ?? 0) }),
      el('td', { class: 'num', text: fmtNum(s.samples ?? 0) }),
      el('td', { class: 'mono', text: s.node ?? '' }),
      el('td', { text: s.started_at ? new Date(s.started_at).toLocaleTimeString() : '' }),
      el('td', {}, feedback('genuine'), ' ', feedback('fraud')),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '10', class: 'muted', text: 'No live sessions.' })));
  $('sessions').replaceChildren(...rows);
}

const short = (id) => (typeof id === 'string' && id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id ?? '');

async function sendFeedback(sessionId, label, button) {
  button.disabled = true;
  try {
    await api.feedback(currentKey(), { sessionId, label });
    button.textContent = `${label} ✓`;
  } catch (err) {
    showError(`Feedback failed: ${err.message}`);
    button.disabled = false;
  }
}

const currentKey = () => getKey() || memoryKey;

async function poll() {
  timer = null;
  const key = currentKey();
  const gen = generation;
  if (!key) {
    setStatus('signed-out', 'No key');
    return;
  }
  const [stats, sessions] = await Promise.allSettled([api.stats(key), api.opsSessions(key)]);
  if (gen !== generation) return;
  const failure = [stats, sessions].find((r) => r.status === 'rejected')?.reason;
  if (stats.status === 'fulfilled') {
    renderStats(stats.value);
    $('stats-raw').textContent = JSON.stringify(stats.value, null, 2);
  }
  if (sessions.status === 'fulfilled') renderSessions(sessions.value?.sessions);
  if (failure) {
    const denied = failure instanceof ApiError && (failure.status === 401 || failure.status === 403);
    showError(denied ? 'The operator key was refused.' : `Refresh failed: ${failure.message}`);
    setStatus(denied ? 'blocked' : 'reconnecting', denied ? 'Key refused' : 'Degraded');
    if (denied) return; // no point polling with a refused key
  } else {
    showError('');
    setStatus('live', 'Live');
  }
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  timer = setTimeout(poll, POLL_MS);
}

function restart() {
  generation += 1;
  clearTimeout(timer);
  poll();
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('op-key').value.trim();
  $('op-key').value = '';
  setKey(key);
  restart();
});
$('op-forget').addEventListener('click', () => {
  setKey('');
  generation += 1;
  clearTimeout(timer);
  $('sessions').replaceChildren();
  $('stats').replaceChildren(el('p', { class: 'muted', text: 'Enter the operator key.' }));
  $('stats-raw').textContent = '';
  $('updated').textContent = '';
  setStatus('signed-out', 'No key');
});

restart();
