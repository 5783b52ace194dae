// The demo page: sign in, verify the MPIN, then a transfer form whose typing and pointer movement stream through
// the SDK; shows the session's risk, the decisions, the enrollment of each field, a step-up dialog on challenge,
// a blocked screen on block and a summary when the session ends.

import { ApiError, BehaviorApi } from '/sdk/api.js';
import { BehaviorClient } from '/sdk/behavior.js';

const api = new BehaviorApi();
const $ = (id) => document.getElementById(id);

const MAX_DECISIONS = 200;
const PROFILE_POLL_MS = 3000;

/** Everything the page knows about the signed-in user and the live session. */
const state = {
  phone: '',
  userId: '',
  accessToken: '',
  refreshToken: '',
  expiresAt: 0, // when the access token expires (ms since the epoch)
  session: null, // {session_id, session_token, ws_url}
  client: null,
  decisions: 0,
  counts: {},
  ending: false,
  profileTimer: null,
  lastDecision: null,
};

// --------------------------------------------------------------------------------------------------------------
// Small UI helpers.

const STATUS_TEXT = {
  'signed-out': 'Signed out',
  busy: 'Working…',
  'signed-in': 'Signed in · confirm MPIN',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  challenged: 'Step-up required',
  blocked: 'Blocked',
  ended: 'Session ended',
};

function setStatus(s, extra = '') {
  const el = $('status');
  el.dataset.state = s;
  el.textContent = STATUS_TEXT[s] + (extra ? ` · ${extra}` : '');
}

function show(screenId) {
  for (const id of ['auth-screen', 'app-screen', 'blocked-screen', 'summary-screen']) $(id).hidden = id !== screenId;
}

function showError(el, err) {
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = describeError(err);
}

function describeError(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  const field = err.field ? ` (${err.field})` : '';
  const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : '';
  switch (err.code) {
    case 'network':
    case 'timeout':
      return `The server did not answer: ${err.message}`;
    case 'conflict':
      return 'This number is already registered: use Sign in.';
    case 'unauthorized':
      return 'Wrong credentials, or the sign-in has expired.';
    case 'locked':
      return `Too many attempts: the account is locked.${wait}`;
    case 'rate_limited':
      return `Too many requests.${wait}`;
    default:
      return `${err.message}${field}`;
  }
}

function setBusy(busy, ...buttons) {
  for (const b of buttons) b.disabled = busy;
}

const fmtRisk = (r) => (typeof r === 'number' && Number.isFinite(r) ? r.toFixed(2) : '—');
const riskLevel = (r) => (r >= 0.65 ? 'high' : r >= 0.35 ? 'medium' : 'low');

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

function fillKv(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v ?? '—') })]));
}

function deviceId() {
  try {
    let id = localStorage.getItem('demo.device_id');
    if (!id) {
      id = crypto.randomUUID();
      localStorage.setItem('demo.device_id', id);
    }
    return id;
  } catch {
    return undefined;
  }
}

// --------------------------------------------------------------------------------------------------------------
// Sign in, register, MPIN.

function readCredentials() {
  const phone = $('phone').value.trim();
  const password = $('password').value;
  if (!phone) throw new Error('Enter the mobile number, with the country code (+91…).');
  if (!password) throw new Error('Enter the password.');
  return { phone, password };
}

function keepTokens(res) {
  state.accessToken = res.access_token;
  state.refreshToken = res.refresh_token;
  state.expiresAt = Date.now() + (Number(res.expires_in) || 0) * 1000;
}

async function signIn(phone, password) {
  const res = await api.login({ phone, password, deviceId: deviceId() });
  state.phone = phone;
  state.userId = res.user_id;
  keepTokens(res);
  $('mpin-form').dataset.step = 'ready';
  $('verify').disabled = false;
  $('mpin-hint').textContent = `Signed in as ${phone}. Confirm your MPIN to start a monitored session.`;
  setStatus('signed-in');
  $('mpin').focus();
}

/**
 * Calls fn with a fresh access token: refreshed first when it expires within 30 s. (Not on a 401 after the fact:
 * a 401 from MPIN verify may mean a wrong MPIN, and retrying it would count a second attempt.)
 */
async function withAccess(fn) {
  if (state.refreshToken && state.expiresAt && Date.now() > state.expiresAt - 30000) {
    keepTokens(await api.refresh(state.refreshToken));
  }
  return fn(state.accessToken);
}

async function onLogin() {
  showError($('auth-error'), null);
  setBusy(true, $('login'), $('register'));
  setStatus('busy');
  try {
    const { phone, password } = readCredentials();
    await signIn(phone, password);
  } catch (err) {
    setStatus(state.accessToken ? 'signed-in' : 'signed-out');
    showError($('auth-error'), err);
  } finally {
    setBusy(false, $('login'), $('register'));
  }
}

async function onRegister() {
  showError($('auth-error'), null);
  setBusy(true, $('login'), $('register'));
  setStatus('busy');
  try {
    const { phone, password } = readCredentials();
    const mpin = $('mpin').value.trim();
    if (!/^(\d{4}|\d{6})$/.test(mpin)) throw new Error('Choose a 4 or 6 digit MPIN in the MPIN field to register.');
    try {
      await api.register({ phone, password, mpin, name: $('name').value.trim() || undefined });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'conflict')) throw err;
      // Already registered (a demo run again): sign in with the same credentials instead.
    }
    await signIn(phone, password);
  } catch (err) {
    setStatus(state.accessToken ? 'signed-in' : 'signed-out');
    showError($('auth-error'), err);
  } finally {
    setBusy(false, $('login'), $('register'));
  }
}

async function onVerify(event) {
  event.preventDefault();
  if (!state.accessToken) return;
  showError($('auth-error'), null);
  const mpin = $('mpin').value.trim();
  setBusy(true, $('verify'));
  setStatus('busy');
  try {
    const session = await withAccess((token) => api.verifyMpin(token, mpin));
    $('mpin').value = '';
    startSession(session);
  } catch (err) {
    setStatus('signed-in');
    showError($('auth-error'), err);
  } finally {
    setBusy(false, $('verify'));
  }
}

// --------------------------------------------------------------------------------------------------------------
// The live session.

function startSession(session) {
  state.session = session;
  state.decisions = 0;
  state.counts = {};
  state.ending = false;
  state.lastDecision = null;
  $('decisions').replaceChildren();
  $('decision-count').textContent = '';
  $('session-id').textContent = session.session_id;
  $('session-node').textContent = '—';
  $('session-note').textContent = '';
  $('transfer-result').textContent = '';
  $('enrollment').replaceChildren(el('p', { class: 'muted', text: 'No samples yet.' }));
  updateRisk(null);
  $('last-action').textContent = '—';
  $('last-mode').textContent = '—';

  const client = new BehaviorClient({
    sessionId: session.session_id,
    sessionToken: session.session_token,
    wsUrl: session.ws_url || '/v1/ws',
    hashSalt: state.userId, // the same in every session of the user: the profile keeps each field's key sequence
  });
  state.client = client;
  wireClient(client);
  client.watch($('transfer-form'));
  client.watchPointer(document);
  if (typeof DeviceMotionEvent !== 'undefined') {
    // iOS asks for sensor access from a tap; desktops expose the API but have no sensors to ask for.
    if (typeof DeviceMotionEvent.requestPermission !== 'function') client.watchMotion();
    else if (navigator.maxTouchPoints > 0) $('enable-motion').hidden = false;
  }
  show('app-screen');
  setStatus('connecting');
  client.connect();
  client.nav('transfer');
  $('payee').focus();
  refreshSessionInfo();
  scheduleProfile(0);
}

function wireClient(client) {
  client.on('open', () => {
    if (client !== state.client) return;
    setStatus(state.lastDecision?.action === 'challenge' && $('challenge-dialog').open ? 'challenged' : 'live');
    $('conn-state').textContent = 'open';
  });
  client.on('close', ({ code, willReconnect, delay }) => {
    if (client !== state.client) return;
    $('conn-state').textContent = willReconnect ? `closed (${code}), retrying in ${delay} ms` : `closed (${code})`;
    if (willReconnect) setStatus('reconnecting');
  });
  client.on('record', (ev) => {
    state.counts[ev.kind] = (state.counts[ev.kind] ?? 0) + 1;
    renderCounters(client);
  });
  client.on('ack', () => renderCounters(client));
  client.on('decision', (d) => onDecision(d));
  client.on('challenge', (d) => openChallenge(d));
  client.on('blocked', ({ decision }) => onBlocked(decision));
  client.on('unauthorized', () => onUnauthorized());
  client.on('ended', () => {
    if (!state.ending) onEnded(null, 'The server ended the session.');
  });
  client.on('error', (e) => {
    $('session-note').textContent = `Stream: ${e.code}${e.message ? ` — ${e.message}` : ''}`;
  });
  client.on('overflow', ({ totalDropped }) => {
    $('session-note').textContent = `Offline: ${totalDropped} old events dropped.`;
  });
}

let countersQueued = false;
function renderCounters(client) {
  // Pointer moves come at 60 Hz: redraw once a frame at most.
  if (countersQueued) return;
  countersQueued = true;
  requestAnimationFrame(() => {
    countersQueued = false;
    const c = state.counts;
    $('counters').textContent = ['key', 'commit', 'pointer', 'motion', 'nav']
      .map((k) => `${k} ${c[k] ?? 0}`)
      .join(' · ');
    const s = client.stats;
    $('messages').textContent = `sent ${s.seq} · unacked ${s.unacked} · queued ${s.pending} · reconnects ${s.reconnects}`;
  });
}

function updateRisk(risk) {
  const r = typeof risk === 'number' && Number.isFinite(risk) ? Math.min(1, Math.max(0, risk)) : 0;
  const level = riskLevel(r);
  const node = $('risk');
  node.textContent = fmtRisk(r);
  node.dataset.risk = String(r);
  node.dataset.level = level;
  const arc = $('risk-arc');
  arc.setAttribute('stroke-dasharray', `${(r * 100).toFixed(1)} 100`);
  arc.dataset.level = level;
  $('risk-label').textContent = risk === null ? 'no decision yet' : `${level} risk`;
}

function onDecision(d) {
  state.lastDecision = d;
  state.decisions += 1;
  updateRisk(d.risk);
  $('last-action').textContent = d.action;
  $('last-action').dataset.action = d.action;
  $('last-mode').textContent = d.mode ?? '—';
  $('decision-count').textContent = `(${state.decisions})`;

  const s = d.sample ?? {};
  const item = el(
    'li',
    {
      class: `decision action-${d.action}`,
      dataset: {
        action: d.action ?? '',
        mode: d.mode ?? '',
        status: s.status ?? 'none',
        field: s.field ?? '',
        modality: s.modality ?? '',
        seq: String(d.seq ?? ''),
      },
    },
    el('span', { class: `badge badge-${d.action}`, text: d.action }),
    el('span', { class: 'decision-main' },
      el('span', { class: 'decision-sample', text: [s.field || s.modality || 'window', s.modality && s.field ? `(${s.modality})` : '', s.status].filter(Boolean).join(' ') }),
      el('span', { class: 'decision-meta mono', text: `risk ${fmtRisk(d.risk)}${s.risk !== undefined ? ` · sample ${fmtRisk(s.risk)}` : ''} · ${d.mode ?? ''} · ${d.latency_us ?? '?'} µs` }),
      d.reasons?.length ? el('span', { class: 'decision-reasons', text: d.reasons.join('; ') }) : null,
    ),
  );
  const list = $('decisions');
  list.prepend(item);
  while (list.children.length > MAX_DECISIONS) list.lastElementChild.remove();
  if (s.status === 'enrolled' || s.status === 'scored') scheduleProfile(300);
}

// Enrollment: the profile of the user, polled while the session lives and soon after each sample.
function scheduleProfile(delay) {
  clearTimeout(state.profileTimer);
  state.profileTimer = setTimeout(loadProfile, delay);
}

async function loadProfile() {
  if (!state.session || state.client?.state === 'stopped') return;
  try {
    const p = await withAccess((token) => api.profile(token, state.userId));
    renderProfile(p);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) {
      $('enrollment').replaceChildren(el('p', { class: 'muted', text: `Profile unavailable: ${describeError(err)}` }));
    }
  } finally {
    if (state.session && state.client?.state !== 'stopped') scheduleProfile(PROFILE_POLL_MS);
  }
}

function renderProfile(p) {
  const fields = Array.isArray(p?.fields) ? p.fields : [];
  if (fields.length === 0) {
    $('enrollment').replaceChildren(el('p', { class: 'muted', text: 'No samples yet.' }));
    return;
  }
  const rows = fields.map((f) =>
    el('tr', { dataset: { field: f.field, enrolled: String(Boolean(f.enrolled)) } },
      el('td', { class: 'mono', text: f.field }),
      el('td', { class: 'num', text: String(f.samples ?? 0) }),
      el('td', {}, el('span', { class: `badge ${f.enrolled ? 'badge-allow' : 'badge-pending'}`, text: f.enrolled ? 'enrolled' : 'enrolling' })),
      el('td', { class: 'num mono', text: typeof f.threshold === 'number' ? f.threshold.toFixed(3) : '—' }),
    ),
  );
  const table = el('table', { class: 'table' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Field' }), el('th', { class: 'num', text: 'Samples' }), el('th', { text: 'State' }), el('th', { class: 'num', text: 'Threshold' }))),
    el('tbody', {}, ...rows),
  );
  $('enrollment').replaceChildren(table, el('p', { class: 'fineprint', text: `Profile version ${p.version ?? '—'}` }));
}

async function refreshSessionInfo() {
  if (!state.session) return;
  try {
    const s = await api.sessionStatus(state.session.session_token, state.session.session_id);
    $('session-node').textContent = s.node ?? '—';
  } catch {
    // The node shows up on the next refresh; nothing else depends on it.
  }
}

function onTransferSubmit(event) {
  event.preventDefault();
  const client = state.client;
  const payee = $('payee').value.trim();
  const amount = $('amount').value.trim();
  // Close the typed entries: each becomes one keystroke sample that the server scores.
  client?.commit('payee');
  client?.commit('amount');
  client?.commit('note');
  for (const id of ['payee', 'amount', 'note']) $(id).value = '';
  $('transfer-result').textContent = payee
    ? `Checked: ${amount ? `INR ${amount} to ` : ''}${payee}. Nothing is sent in the demo.`
    : '';
  $('payee').focus();
}

// --------------------------------------------------------------------------------------------------------------
// Step-up, block, end.

function openChallenge(d) {
  const dialog = $('challenge-dialog');
  $('challenge-reasons').textContent = d.reasons?.length ? `Why: ${d.reasons.join('; ')}` : '';
  showError($('challenge-error'), null);
  setStatus('challenged');
  if (!dialog.open) {
    $('challenge-mpin').value = '';
    dialog.showModal();
    $('challenge-mpin').focus();
  }
}

async function onChallengeSubmit(event) {
  event.preventDefault(); // keep the dialog open until the server answers
  const mpin = $('challenge-mpin').value.trim();
  if (!state.session) return;
  setBusy(true, $('challenge-submit'));
  try {
    const res = await api.answerChallenge(state.session.session_token, state.session.session_id, mpin);
    $('challenge-dialog').close();
    setStatus(res?.state === 'active' || !res?.state ? 'live' : res.state);
    $('session-note').textContent = 'Step-up passed.';
  } catch (err) {
    const wrong = err instanceof ApiError && (err.status === 401 || err.status === 403 || err.code === 'invalid_request');
    showError($('challenge-error'), wrong ? new Error('Wrong MPIN. Try again.') : err);
    $('challenge-mpin').value = '';
    $('challenge-mpin').focus();
  } finally {
    setBusy(false, $('challenge-submit'));
  }
}

function stopSession() {
  clearTimeout(state.profileTimer);
  state.profileTimer = null;
  const dialog = $('challenge-dialog');
  if (dialog.open) dialog.close();
}

function onBlocked(decision) {
  stopSession();
  const d = decision ?? state.lastDecision;
  fillKv($('blocked-detail'), [
    ['Session', state.session?.session_id],
    ['Risk', fmtRisk(d?.risk)],
    ['Reasons', d?.reasons?.join('; ') || '—'],
  ]);
  // Every token of the session and login stops working: the user signs in again from the start.
  state.accessToken = '';
  state.refreshToken = '';
  state.expiresAt = 0;
  state.session = null;
  setStatus('blocked');
  show('blocked-screen');
}

function onUnauthorized() {
  stopSession();
  state.session = null;
  signedOutScreen('The session token expired or was revoked. Sign in again.');
}

function onEnded(summary, title) {
  stopSession();
  $('summary-title').textContent = title;
  const pairs = [['Session', summary?.session_id ?? state.session?.session_id]];
  if (summary) {
    pairs.push(
      ['Events', summary.events],
      ['Samples', summary.samples],
      ['Decisions', Array.isArray(summary.decisions) ? summary.decisions.length : summary.decisions],
      ['Final risk', fmtRisk(summary.final_risk)],
      ['Ended at', summary.ended_at ? new Date(summary.ended_at).toLocaleString() : '—'],
    );
  }
  fillKv($('summary'), pairs);
  state.session = null;
  setStatus('ended');
  show('summary-screen');
}

async function onEnd() {
  const { client, session } = state;
  if (!session) return;
  state.ending = true;
  setBusy(true, $('end'));
  try {
    await client?.drain({ timeoutMs: 2000 }); // let the last entries be scored before the summary
    const summary = await withAccess((token) => api.endSession(token, session.session_id));
    await client?.close();
    onEnded(summary, 'Session ended');
  } catch (err) {
    state.ending = false;
    $('session-note').textContent = `Could not end the session: ${describeError(err)}`;
  } finally {
    setBusy(false, $('end'));
  }
}

async function onFeedback(label) {
  if (!state.session) return;
  try {
    await withAccess((token) => api.feedback(token, { sessionId: state.session.session_id, label }));
    $('session-note').textContent = `Feedback recorded: ${label}.`;
  } catch (err) {
    $('session-note').textContent = `Feedback failed: ${describeError(err)}`;
  }
}

function signedOutScreen(message) {
  state.client?.close();
  state.client = null;
  state.accessToken = '';
  state.refreshToken = '';
  state.expiresAt = 0;
  $('verify').disabled = true;
  $('mpin-form').dataset.step = 'locked';
  $('mpin-hint').textContent = 'Choose a 4 or 6 digit MPIN when you register. After signing in, confirm it to start a monitored session.';
  $('phone').value = state.phone;
  showError($('auth-error'), message ? new Error(message) : null);
  setStatus('signed-out');
  show('auth-screen');
}

function onNewSession() {
  state.client = null;
  if (!state.accessToken) return signedOutScreen('');
  showError($('auth-error'), null);
  setStatus('signed-in');
  show('auth-screen');
  $('mpin').focus();
}

async function onLogout() {
  const token = state.accessToken;
  signedOutScreen('');
  if (token) {
    try {
      await api.logout(token);
    } catch {
      // The tokens expire on their own; the page has forgotten them already.
    }
  }
}

// --------------------------------------------------------------------------------------------------------------

function init() {
  $('login').addEventListener('click', onLogin);
  $('register').addEventListener('click', onRegister);
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    onLogin();
  });
  $('mpin-form').addEventListener('submit', onVerify);
  $('transfer-form').addEventListener('submit', onTransferSubmit);
  $('challenge-form').addEventListener('submit', onChallengeSubmit);
  $('challenge-dialog').addEventListener('cancel', (e) => e.preventDefault()); // Esc does not skip the step-up
  $('end').addEventListener('click', onEnd);
  $('feedback-genuine').addEventListener('click', () => onFeedback('genuine'));
  $('feedback-fraud').addEventListener('click', () => onFeedback('fraud'));
  $('enable-motion').addEventListener('click', async () => {
    const res = await BehaviorClient.requestMotionPermission();
    if (res === 'granted') {
      state.client?.watchMotion();
      $('enable-motion').hidden = true;
    } else {
      $('session-note').textContent = 'Motion sensors: permission denied.';
    }
  });
  $('blocked-restart').addEventListener('click', () => signedOutScreen(''));
  $('new-session').addEventListener('click', onNewSession);
  $('logout').addEventListener('click', onLogout);
  setInterval(() => {
    if (state.session && state.client?.state === 'open') refreshSessionInfo();
  }, 10000);
  setStatus('signed-out');
}

init();
