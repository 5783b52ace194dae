// Browser SDK for continuous behavioral authentication, wire contract v1 (shared PROTOCOL.md).
//
// A dependency-free ES module: pages import it as is, no build step. It records key, pointer, touch, motion and
// navigation events, batches them into `events` messages over a WebSocket, keeps every message until the server
// acknowledges it, reconnects with backoff and resends what was not acknowledged, and reports the server's
// decisions as events.
//
//   import { BehaviorClient } from '/sdk/behavior.js';
//   const client = new BehaviorClient({ sessionId, sessionToken, hashSalt: userId });
//   client.on('decision', (d) => console.log(d.action, d.risk));
//   client.watch(document.querySelector('form'));
//   client.watchPointer();
//   client.connect();

/** The WebSocket subprotocol of the wire contract; the server answers with it. */
export const SUBPROTOCOL = 'behavior.v1';

/** Close codes the server uses (PROTOCOL.md), and what the client does on each. */
export const CloseCode = Object.freeze({
  NORMAL: 1000, // sent by close(); from the server: reconnect with backoff
  POLICY: 1008, // message rate over the limit: 'error', reconnect with backoff
  TOO_LARGE: 1009, // frame over 64 KiB: 'error', reconnect with backoff
  SERVICE_RESTART: 1012, // node draining: reconnect at once (the balancer picks another node)
  UNAUTHORIZED: 4001, // token expired or revoked: stop, 'unauthorized'
  BLOCKED: 4003, // session blocked: stop, 'blocked'
  ENDED: 4004, // session ended: stop, 'ended'
  KEEPALIVE: 4000, // client-side only: no frame from the server within two ping periods
});

/**
 * Defaults of every BehaviorClient option. Each can be overridden in the constructor.
 * @type {Readonly<Record<string, unknown>>}
 */
export const DEFAULTS = Object.freeze({
  baseUrl: '', // http(s) origin of the node; '' means the page's own location
  wsUrl: '/v1/ws', // the ws_url that MPIN verify returns, resolved against baseUrl
  batchMs: 100, // events are sent at most this long after they happen
  hashKeys: true, // hash key codes of every field (password fields are hashed regardless)
  hashSalt: 'behavior.v1', // salt of the key-code hash; pass something stable per user, such as the user id
  maxQueue: 5000, // unsent events kept while offline or held back; the oldest are dropped beyond it ('overflow')
  maxBatch: 256, // events per message at most
  maxFrameBytes: 60 * 1024, // one message's size at most; the server closes on frames over 64 KiB
  maxInFlight: 32, // sent but unacknowledged messages at most before the client holds new ones back
  backoffBaseMs: 500, // first reconnect delay (before jitter)
  backoffCapMs: 30000, // reconnect delays never exceed this
  stableMs: 5000, // a connection open this long resets the backoff
  restartJitterMs: 250, // after 1012, reconnect within this jitter, so that a draining node's clients spread out
  maxReconnectAttempts: Infinity, // consecutive failed attempts before the client stops with 'error'
  pingMs: 20000, // application ping period; 0 disables keepalive
  closeTimeoutMs: 2000, // close() resolves after this even if the socket never confirms
  commitWaitMs: 250, // a commit waits this long at most for the field's keys still held down to be released
  pointerIntervalMs: 16, // pointer moves closer together than this are skipped (downs and ups never are)
  motionIntervalMs: 20, // device motion readings closer together than this are skipped
  ignoreKeys: ['Enter', 'NumpadEnter', 'Tab'], // keys that submit or move focus are not part of a typed entry
  flushOnCommit: true, // send at once after a commit, since the server answers each commit with a decision
  eventTime: true, // use the DOM event's own timeStamp (the time it happened) when it is on the page's clock
});

// ---------------------------------------------------------------------------------------------------------------
// Small helpers.

/**
 * A tiny event emitter: on/off/once. Listener errors are rethrown asynchronously so that a faulty listener neither
 * breaks the client nor goes unnoticed.
 */
export class Emitter {
  #handlers = new Map();

  /**
   * Subscribes fn to events of the given type.
   * @param {string} type
   * @param {(detail: any) => void} fn
   * @returns {() => void} a function that unsubscribes
   */
  on(type, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    let set = this.#handlers.get(type);
    if (!set) this.#handlers.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  /** Unsubscribes fn. */
  off(type, fn) {
    this.#handlers.get(type)?.delete(fn);
  }

  /** Subscribes fn for the next event of the type only. */
  once(type, fn) {
    const off = this.on(type, (detail) => {
      off();
      fn(detail);
    });
    return off;
  }

  /** Calls every listener of the type with detail. */
  emit(type, detail) {
    const set = this.#handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(detail);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/**
 * Hashes a key code with a salt: 32-bit FNV-1a, as 'h' and 8 hex digits.
 *
 * This is NOT a security boundary: it is an encoding that keeps raw codes out of frames, proxy and server logs and
 * memory dumps. The key alphabet is about a hundred codes, so whoever knows the salt reverses the hash by trying
 * them all, and even without it the mapping keeps which keys repeat. The salt cannot be a per-session secret either:
 * the engine fingerprints the key sequence of a fixed field and keeps that fingerprint in the user's profile, so a
 * field must hash the same way in every session of the user (hence a salt stable per user, such as the user id).
 * Confidentiality on the wire is TLS's job; the server never stores codes (PROTOCOL.md).
 * @param {string} salt
 * @param {string} code
 * @returns {string}
 */
export function hashCode(salt, code) {
  const s = `${salt}\u0000${code}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `h${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The reconnect delay before attempt number `attempt` (1-based): exponential growth from baseMs, capped at capMs,
 * with "equal jitter" (a uniform draw in the upper half) so that clients dropped together do not return together.
 * @param {number} attempt
 * @param {{baseMs: number, capMs: number, random?: () => number}} o
 * @returns {number} milliseconds, in [min(cap, base*2^(attempt-1))/2, min(cap, base*2^(attempt-1))]
 */
export function backoffDelay(attempt, { baseMs, capMs, random = Math.random }) {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp / 2 + (r * exp) / 2);
}

/**
 * The WebSocket URL of a session: wsUrl resolved against baseUrl (or the page's location), http(s) turned into
 * ws(s), with the session_id query parameter.
 * @param {string} baseUrl
 * @param {string} wsUrl
 * @param {string} sessionId
 * @returns {string}
 */
export function wsEndpoint(baseUrl, wsUrl, sessionId) {
  const base = baseUrl || globalThis.location?.href;
  const u = base ? new URL(wsUrl || '/v1/ws', base) : new URL(wsUrl);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.searchParams.set('session_id', sessionId);
  return u.toString();
}

/** Whether an input's keys must always be hashed: password fields and fields marked sensitive. */
export function isSensitiveTarget(target) {
  if (!target || typeof target !== 'object') return false;
  if (String(target.type || '').toLowerCase() === 'password') return true;
  const ac = String(target.autocomplete || '').toLowerCase();
  if (ac.includes('password') || ac.includes('one-time-code')) return true;
  if (typeof target.getAttribute === 'function' && target.getAttribute('data-behavior-sensitive') != null) return true;
  return false;
}

/** The UTF-8 length of a string, without allocating. */
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function round(x, digits) {
  const n = Number(x);
  if (!Number.isFinite(n)) return 0;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const DEG_TO_RAD = Math.PI / 180;

// Per-session state that must outlive a page reload within the same tab: the clock origin (t keeps growing, as the
// contract asks of one session) and the last seq (the server skips seqs it has applied, so a reloaded page must not
// start again at 1).
class SessionScope {
  #storage;
  #key;
  #data;

  constructor(storage, sessionId) {
    this.#storage = storage;
    this.#key = `behavior.v1.${sessionId}`;
    let data = null;
    try {
      data = JSON.parse(storage?.getItem(this.#key) || 'null');
    } catch {
      data = null;
    }
    this.#data = data && typeof data === 'object' ? data : {};
  }

  get(name) {
    return this.#data[name];
  }

  set(values) {
    Object.assign(this.#data, values);
    if (!this.#storage) return;
    try {
      this.#storage.setItem(this.#key, JSON.stringify(this.#data));
    } catch {
      // Storage full or disabled (private mode): the state lives for this page only.
    }
  }
}

function defaultStorage() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null; // access throws in sandboxed frames
  }
}

const POINTER_PHASE = {
  pointerdown: 'down',
  pointermove: 'move',
  pointerup: 'up',
  pointercancel: 'up',
  touchstart: 'down',
  touchmove: 'move',
  touchend: 'up',
  touchcancel: 'up',
};

const WATCHED_INPUT_TYPES = new Set(['text', 'password', 'email', 'tel', 'number', 'search', 'url', '']);

// ---------------------------------------------------------------------------------------------------------------

/**
 * @typedef {object} BehaviorClientOptions
 * @property {string} sessionId the session_id from MPIN verify
 * @property {string} sessionToken the session_token from MPIN verify
 * @property {string} [baseUrl] origin of the node (default: the page's location)
 * @property {string} [wsUrl] the ws_url from MPIN verify (default '/v1/ws')
 * @property {new (url: string, protocols: string[]) => WebSocket} [WebSocket] constructor (default globalThis.WebSocket)
 * @property {() => number} [now] monotonic clock in ms (default performance.now, continued across reloads)
 * @property {() => number} [random] uniform [0, 1) (default Math.random), for jitter
 * @property {{setTimeout: Function, clearTimeout: Function}} [timers] timer functions (default the global ones)
 * @property {Storage|null} [storage] where per-session state lives (default sessionStorage; null: none)
 * For the other options and their defaults, see DEFAULTS.
 */

/**
 * A live behavioral session: records events, streams them, reports decisions.
 *
 * Events (subscribe with on): 'open' {protocol}, 'close' {code, reason, willReconnect, delay}, 'reconnecting'
 * {attempt, delay}, 'ack' {seq}, 'decision' (the server's message), 'challenge' (a decision whose action is
 * challenge), 'blocked' {code, reason, decision}, 'unauthorized' {code, reason}, 'ended' {code, reason},
 * 'error' {code, message, ...}, 'overflow' {dropped, totalDropped}, 'stopped' {reason}, and 'record' (each event as
 * it is queued, with its code already hashed: for live counters and debugging), 'resync' {from, to, expected} (the
 * server expected an earlier seq: unacknowledged messages were renumbered from it and sent again).
 */
export class BehaviorClient extends Emitter {
  #o;
  #WS;
  #url;
  #protocols;
  #now;
  #random;
  #timers;
  #scope;
  #salt;
  #timeOffset = 0; // added to performance.now() and event stamps: this page's clock origin minus the session's

  #state = 'idle'; // idle | connecting | open | reconnecting | stopped
  #stopReason = null;
  #ws = null;
  #openedAt = null;
  #lastRx = 0;
  #attempt = 0;
  #reconnects = 0;
  #blockDecision = null;
  #resyncedTo = 0;

  #seq = 0;
  #pending = []; // events not yet in a message
  #unacked = new Map(); // seq -> serialized message, in seq order (Map keeps insertion order)
  #dropped = 0;

  #flushTimer = null;
  #reconnectTimer = null;
  #pingTimer = null;
  #drainWaiters = [];

  #fields = new Map(); // field -> {dirty, sensitive, commitPending, commitTimer}
  #keysDown = new Map(); // raw code -> field it went down in
  #lastT = -Infinity;
  #lastMoveT = -Infinity;
  #lastMotionT = -Infinity;
  #detachers = new Set();
  #docKeyupAttached = false;

  /** @param {BehaviorClientOptions} options */
  constructor(options) {
    super();
    const o = { ...DEFAULTS };
    // An option given as undefined keeps its default.
    for (const [k, v] of Object.entries(options || {})) if (v !== undefined) o[k] = v;
    if (typeof o.sessionId !== 'string' || o.sessionId === '') throw new TypeError('sessionId is required');
    if (typeof o.sessionToken !== 'string' || o.sessionToken === '') throw new TypeError('sessionToken is required');
    this.#WS = o.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WS !== 'function') throw new TypeError('no WebSocket constructor: pass options.WebSocket');
    this.#o = o;
    this.#url = wsEndpoint(o.baseUrl, o.wsUrl, o.sessionId);
    this.#protocols = [SUBPROTOCOL, `bearer.${o.sessionToken}`];
    this.#random = o.random ?? Math.random;
    const g = globalThis;
    this.#timers = o.timers ?? {
      setTimeout: (fn, ms) => g.setTimeout(fn, ms),
      clearTimeout: (id) => g.clearTimeout(id),
    };
    this.#scope = new SessionScope(o.storage === undefined ? defaultStorage() : o.storage, o.sessionId);

    if (typeof o.now === 'function') {
      this.#now = o.now;
    } else {
      // performance.now() restarts at 0 on every page; shift it by how much later this page's time origin is than
      // the first page's of the session, so that t keeps growing across reloads.
      const perf = g.performance;
      let offset = 0;
      if (perf && typeof perf.timeOrigin === 'number') {
        const origin = this.#scope.get('origin');
        if (typeof origin === 'number' && origin <= perf.timeOrigin) offset = perf.timeOrigin - origin;
        else this.#scope.set({ origin: perf.timeOrigin });
      }
      this.#timeOffset = offset;
      this.#now = perf ? () => perf.now() + offset : () => Date.now();
    }

    if (typeof o.hashSalt !== 'string' || o.hashSalt === '') throw new TypeError('hashSalt must be a non-empty string');
    this.#salt = o.hashSalt;
    const lastSeq = this.#scope.get('seq');
    if (Number.isSafeInteger(lastSeq) && lastSeq > 0) this.#seq = lastSeq;
  }

  /** The connection state: idle, connecting, open, reconnecting or stopped. */
  get state() {
    return this.#state;
  }

  /** Why the client stopped: closed, unauthorized, blocked, ended, error; null while it runs. */
  get stopReason() {
    return this.#stopReason;
  }

  /** Counters for display and tests. */
  get stats() {
    return {
      state: this.#state,
      seq: this.#seq,
      unacked: this.#unacked.size,
      pending: this.#pending.length,
      dropped: this.#dropped,
      reconnects: this.#reconnects,
    };
  }

  /** The URL the client connects to. */
  get url() {
    return this.#url;
  }

  /** The current time on the client's event clock (ms). */
  now() {
    return this.#now();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Recording.

  #t(e) {
    if (this.#o.eventTime && e && typeof e.timeStamp === 'number' && e.timeStamp > 0) {
      const t = e.timeStamp + this.#timeOffset;
      const now = this.#now();
      // Old engines stamped events with epoch time; only a stamp on the page's clock is used.
      if (t <= now + 1000) return round(t, 3);
    }
    return round(this.#now(), 3);
  }

  #field(name) {
    let st = this.#fields.get(name);
    if (!st) {
      st = { dirty: false, sensitive: false, commitPending: false, commitTimer: null };
      this.#fields.set(name, st);
    }
    return st;
  }

  #code(raw, st) {
    if (st.sensitive || this.#o.hashKeys) return hashCode(this.#salt, raw);
    return raw;
  }

  #push(ev) {
    if (this.#state === 'stopped') return;
    // Event stamps are when the browser took the input, commits and navs are when the page handled them, so the
    // two can cross by a fraction of a millisecond; the contract wants t monotonic, and the engine refuses events
    // out of order.
    if (ev.t < this.#lastT) ev.t = this.#lastT;
    else this.#lastT = ev.t;
    this.#pending.push(ev);
    this.emit('record', ev);
    const over = this.#pending.length - this.#o.maxQueue;
    if (over > 0) {
      this.#pending.splice(0, over);
      this.#dropped += over;
      this.emit('overflow', { dropped: over, totalDropped: this.#dropped });
    }
    if (this.#flushTimer === null && this.#isOpen()) {
      this.#flushTimer = this.#timers.setTimeout(() => {
        this.#flushTimer = null;
        this.flush();
      }, this.#o.batchMs);
    }
  }

  /**
   * Records a keyboard event of a field. Listeners call it; it takes any object with KeyboardEvent's type
   * ('keydown'|'keyup'), code, repeat, timeStamp and target.
   * @param {{type: string, code?: string, repeat?: boolean, timeStamp?: number, target?: any}} e
   * @param {string} field
   * @param {{sensitive?: boolean}} [opts] sensitive: always hash this field's codes
   * @returns {boolean} whether an event was recorded
   */
  handleKey(e, field, opts = {}) {
    if (this.#state === 'stopped' || !e) return false;
    const raw = typeof e.code === 'string' && e.code !== '' ? e.code : 'Unidentified';
    if (this.#o.ignoreKeys.includes(raw)) return false;
    if (e.type === 'keydown') {
      if (e.repeat || this.#keysDown.has(raw)) return false; // auto-repeat is not a new press
      const st = this.#field(field);
      if (opts.sensitive || isSensitiveTarget(e.target)) st.sensitive = true; // sticky: a "show password" toggle
      this.#keysDown.set(raw, field);
      st.dirty = true;
      this.#push({ kind: 'key', t: this.#t(e), phase: 'down', code: this.#code(raw, st), field });
      return true;
    }
    if (e.type === 'keyup') {
      // A release belongs to the field its key went down in (focus may have moved in between); a release whose
      // press was not recorded (or was already committed) would be an orphan in the next entry.
      const owner = this.#keysDown.get(raw);
      if (owner === undefined) return false;
      this.#keysDown.delete(raw);
      const st = this.#field(owner);
      this.#push({ kind: 'key', t: this.#t(e), phase: 'up', code: this.#code(raw, st), field: owner });
      if (st.commitPending && !this.#hasKeyDown(owner)) this.#emitCommit(owner);
      return true;
    }
    return false;
  }

  #hasKeyDown(field) {
    for (const f of this.#keysDown.values()) if (f === field) return true;
    return false;
  }

  /**
   * Closes the typed entry of a field (or of every field when none is given): the key events since its last commit
   * form one sample, which the server answers with a decision. A field with no key pressed since its last commit is
   * skipped. If keys of the field are still held, the commit waits for their release (at most commitWaitMs).
   * @param {string} [field]
   * @returns {boolean} whether a commit was recorded or scheduled
   */
  commit(field) {
    if (this.#state === 'stopped') return false;
    if (field === undefined) {
      let any = false;
      for (const name of this.#fields.keys()) any = this.commit(name) || any;
      return any;
    }
    const st = this.#fields.get(field);
    if (!st || !st.dirty) return false;
    if (st.commitPending) return true;
    if (this.#hasKeyDown(field)) {
      st.commitPending = true;
      st.commitTimer = this.#timers.setTimeout(() => {
        st.commitTimer = null;
        for (const [code, f] of this.#keysDown) if (f === field) this.#keysDown.delete(code);
        this.#emitCommit(field);
      }, this.#o.commitWaitMs);
      return true;
    }
    this.#emitCommit(field);
    return true;
  }

  #emitCommit(field) {
    const st = this.#field(field);
    if (st.commitTimer !== null) this.#timers.clearTimeout(st.commitTimer);
    st.commitTimer = null;
    st.commitPending = false;
    st.dirty = false;
    this.#push({ kind: 'commit', t: round(this.#now(), 3), field });
    if (this.#o.flushOnCommit) this.flush();
  }

  /**
   * Records a pointer event (PointerEvent's type, clientX, clientY, pressure, pointerType, timeStamp) or a touch
   * event (type, changedTouches[0].clientX/clientY/force) for browsers without pointer events.
   * @returns {boolean} whether an event was recorded
   */
  handlePointer(e) {
    if (this.#state === 'stopped' || !e) return false;
    const phase = POINTER_PHASE[e.type];
    if (!phase) return false;
    let x = e.clientX;
    let y = e.clientY;
    let pressure = e.pressure;
    let pointer = e.pointerType;
    if (e.type.startsWith('touch')) {
      const touch = e.changedTouches?.[0];
      if (!touch) return false;
      x = touch.clientX;
      y = touch.clientY;
      pressure = touch.force;
      pointer = 'touch';
    }
    const t = this.#t(e);
    if (phase === 'move') {
      if (t - this.#lastMoveT < this.#o.pointerIntervalMs) return false;
      this.#lastMoveT = t;
    }
    if (pointer !== 'touch' && pointer !== 'pen') pointer = 'mouse';
    this.#push({
      kind: 'pointer',
      t,
      phase,
      x: round(x, 1),
      y: round(y, 1),
      pressure: round(pressure ?? 0, 3),
      pointer,
    });
    return true;
  }

  /**
   * Records a DeviceMotionEvent: acceleration including gravity in m/s^2 (ax, ay, az) and rotation rate in rad/s
   * (gx, gy, gz about the device's x, y, z axes: the DOM's beta, gamma, alpha, which it gives in deg/s).
   * @returns {boolean} whether an event was recorded
   */
  handleMotion(e) {
    if (this.#state === 'stopped' || !e) return false;
    const a = e.accelerationIncludingGravity ?? e.acceleration;
    // Desktop browsers fire one devicemotion with nothing in it.
    if (!a || (a.x == null && a.y == null && a.z == null)) return false;
    const t = this.#t(e);
    if (t - this.#lastMotionT < this.#o.motionIntervalMs) return false;
    this.#lastMotionT = t;
    const r = e.rotationRate ?? {};
    this.#push({
      kind: 'motion',
      t,
      ax: round(a.x, 4),
      ay: round(a.y, 4),
      az: round(a.z, 4),
      gx: round((r.beta ?? 0) * DEG_TO_RAD, 5),
      gy: round((r.gamma ?? 0) * DEG_TO_RAD, 5),
      gz: round((r.alpha ?? 0) * DEG_TO_RAD, 5),
    });
    return true;
  }

  /**
   * Records that the user moved to another screen of the app.
   * @param {string} screen
   */
  nav(screen) {
    if (this.#state === 'stopped') return false;
    this.#push({ kind: 'nav', t: round(this.#now(), 3), screen: String(screen) });
    return true;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Attaching to the DOM.

  #listen(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    const off = () => {
      target.removeEventListener(type, fn, opts);
      this.#detachers.delete(off);
    };
    this.#detachers.add(off);
    return off;
  }

  /**
   * Records the keys typed in one input, and commits its entry on blur. Password fields (and fields with
   * autocomplete *password / one-time-code, data-behavior-sensitive, or opts.sensitive) always have their codes
   * hashed.
   * @param {EventTarget & {name?: string, id?: string}} input
   * @param {string} [fieldName] default: the input's name, then its id
   * @param {{sensitive?: boolean, commitOnBlur?: boolean}} [opts]
   * @returns {() => void} stops watching
   */
  watchField(input, fieldName, opts = {}) {
    const field = fieldName || input?.name || input?.id;
    if (!input || typeof input.addEventListener !== 'function') throw new TypeError('watchField needs an element');
    if (!field) throw new TypeError('watchField needs a field name (or an input with a name or id)');
    const st = this.#field(field);
    if (opts.sensitive || isSensitiveTarget(input)) st.sensitive = true;
    const onKey = (e) => this.handleKey(e, field, opts);
    const offs = [this.#listen(input, 'keydown', onKey), this.#listen(input, 'keyup', onKey)];
    if (opts.commitOnBlur !== false) offs.push(this.#listen(input, 'blur', () => this.commit(field)));
    // A key released after focus left the input (Tab, a click) still belongs to the field: listen on the document.
    const doc = input.ownerDocument ?? globalThis.document;
    if (!this.#docKeyupAttached && doc && typeof doc.addEventListener === 'function') {
      this.#docKeyupAttached = true;
      this.#listen(doc, 'keyup', (e) => this.handleKey(e, ''), { capture: true });
    }
    return () => offs.forEach((off) => off());
  }

  /**
   * Watches every text-like input of a form (by name, else id) and commits all of them when it is submitted.
   * Inputs added to the form later are not watched.
   * @param {HTMLFormElement} form
   * @returns {() => void} stops watching
   */
  watch(form) {
    if (!form || typeof form.addEventListener !== 'function') throw new TypeError('watch needs a form element');
    const names = [];
    const offs = [];
    for (const el of Array.from(form.elements ?? [])) {
      const tag = String(el.tagName || '').toLowerCase();
      const type = String(el.getAttribute?.('type') ?? el.type ?? '').toLowerCase();
      if (tag !== 'textarea' && !(tag === 'input' && WATCHED_INPUT_TYPES.has(type))) continue;
      const name = el.name || el.id;
      if (!name) continue;
      names.push(name);
      offs.push(this.watchField(el, name));
    }
    offs.push(this.#listen(form, 'submit', () => names.forEach((n) => this.commit(n))));
    return () => offs.forEach((off) => off());
  }

  /**
   * Records pointer (mouse, pen, touch) down/move/up on a target, by default the whole document; touch events where
   * the browser has no pointer events.
   * @param {EventTarget} [target]
   * @returns {() => void} stops watching
   */
  watchPointer(target = globalThis.document) {
    if (!target || typeof target.addEventListener !== 'function') throw new TypeError('watchPointer needs a target');
    const on = (e) => this.handlePointer(e);
    const opts = { capture: true, passive: true };
    const types =
      typeof globalThis.PointerEvent === 'function'
        ? ['pointerdown', 'pointermove', 'pointerup', 'pointercancel']
        : ['touchstart', 'touchmove', 'touchend', 'touchcancel'];
    const offs = types.map((type) => this.#listen(target, type, on, opts));
    return () => offs.forEach((off) => off());
  }

  /**
   * Records device motion where the browser has it. On iOS call BehaviorClient.requestMotionPermission() from a
   * user gesture first.
   * @param {EventTarget} [target] default: window
   * @returns {(() => void) | null} stops watching; null where the browser has no DeviceMotionEvent
   */
  watchMotion(target = globalThis.window ?? globalThis) {
    if (typeof globalThis.DeviceMotionEvent === 'undefined' || typeof target?.addEventListener !== 'function') {
      return null;
    }
    return this.#listen(target, 'devicemotion', (e) => this.handleMotion(e), { passive: true });
  }

  /**
   * Asks for motion sensor access where the browser requires it (iOS Safari, from a user gesture).
   * @returns {Promise<'granted'|'denied'|'unsupported'>}
   */
  static async requestMotionPermission() {
    const DME = globalThis.DeviceMotionEvent;
    if (typeof DME === 'undefined') return 'unsupported';
    if (typeof DME.requestPermission !== 'function') return 'granted';
    try {
      return (await DME.requestPermission()) === 'granted' ? 'granted' : 'denied';
    } catch {
      return 'denied';
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection.

  /**
   * Opens the WebSocket; events recorded before are queued and sent once it is open.
   * @returns {this}
   */
  connect() {
    if (this.#state === 'stopped') throw new Error(`client stopped (${this.#stopReason})`);
    if (this.#state === 'idle') this.#openSocket();
    return this;
  }

  #isOpen() {
    return this.#state === 'open' && this.#ws !== null && this.#ws.readyState === 1;
  }

  #openSocket() {
    this.#reconnectTimer = null;
    this.#state = 'connecting';
    let ws;
    try {
      ws = new this.#WS(this.#url, this.#protocols);
    } catch (err) {
      // The constructor throws on a URL or subprotocol it refuses (a token with characters outside the HTTP token
      // set, a ws: URL from an https page): retrying cannot help.
      this.emit('error', { code: 'connect_failed', message: String(err?.message ?? err) });
      this.#stop('error');
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      this.#onOpen(ws);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.#ws) return;
      this.#onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws !== this.#ws) return;
      this.#onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event follows with the code; the error event itself carries nothing useful.
    };
  }

  #onOpen(ws) {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#lastRx = this.#openedAt;
    this.emit('open', { protocol: ws.protocol, url: this.#url });
    // Resend, in seq order, everything not acknowledged: the server applies a seq once.
    for (const text of this.#unacked.values()) {
      if (!this.#send(text)) return;
    }
    this.flush();
    this.#schedulePing();
  }

  #send(text) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  #onMessage(data) {
    this.#lastRx = this.#now();
    let msg;
    try {
      msg = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      this.emit('error', { code: 'bad_frame', message: 'server frame is not JSON' });
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'ack':
        this.#onAck(msg.seq);
        break;
      case 'decision':
        this.emit('decision', msg);
        if (msg.action === 'challenge') this.emit('challenge', msg);
        else if (msg.action === 'block') this.#blockDecision = msg; // the 4003 close follows
        break;
      case 'error':
        if (msg.code === 'invalid_seq' && this.#resync(msg)) break;
        this.emit('error', { ...msg, source: 'server' });
        break;
      default:
        break; // pong, and types a later server may add
    }
  }

  #onAck(seq) {
    if (!Number.isSafeInteger(seq)) return;
    // Acks are cumulative in effect: one ordered stream applies messages in seq order, so an ack for seq proves
    // every earlier message was applied (a resend of an applied seq is acknowledged without being applied).
    for (const s of this.#unacked.keys()) {
      if (s > seq) break;
      this.#unacked.delete(s);
    }
    this.emit('ack', { seq });
    if (this.#pending.length > 0) this.flush();
    this.#checkDrain();
  }

  /**
   * The server applies seqs strictly one after another and refuses a gap with invalid_seq, naming the seq it
   * expects. A gap arises when messages were lost with a page (a reload keeps the last seq sent, not the messages
   * in flight). Every unacknowledged message at or after the expected seq was not applied: renumber them from it
   * and send them again; the ones before it were applied. The errors for the other messages already in flight name
   * the same expected seq and are ignored.
   * @returns {boolean} whether the error was handled
   */
  #resync(msg) {
    let expected = msg.expected_seq;
    if (!Number.isSafeInteger(expected)) {
      const m = /expected seq (\d+)/.exec(String(msg.message ?? ''));
      expected = m ? Number(m[1]) : NaN;
    }
    if (!Number.isSafeInteger(expected) || expected < 1) return false;
    if (expected === this.#resyncedTo) return true;
    this.#resyncedTo = expected;
    const old = [...this.#unacked];
    this.#unacked.clear();
    let seq = expected - 1;
    for (const [s, text] of old) {
      if (s < expected) continue;
      seq += 1;
      const m = JSON.parse(text);
      m.seq = seq;
      this.#unacked.set(seq, JSON.stringify(m));
    }
    const from = this.#seq;
    this.#seq = seq;
    this.#scope.set({ seq });
    this.emit('resync', { from, to: seq, expected });
    for (const text of this.#unacked.values()) if (!this.#send(text)) break;
    this.flush();
    this.#checkDrain();
    return true;
  }

  #onClose(code, reason) {
    this.#ws = null;
    this.#clearTimer('ping');
    if (this.#flushTimer !== null) {
      this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    const wasStable = this.#openedAt !== null && this.#now() - this.#openedAt >= this.#o.stableMs;
    this.#openedAt = null;
    if (this.#state === 'stopped') return;
    if (wasStable) this.#attempt = 0;

    const stopWith = (reasonName, event) => {
      this.emit('close', { code, reason, willReconnect: false });
      this.#stop(reasonName);
      this.emit(event, { code, reason, decision: this.#blockDecision });
    };
    if (code === CloseCode.UNAUTHORIZED) return stopWith('unauthorized', 'unauthorized');
    if (code === CloseCode.BLOCKED || this.#blockDecision) return stopWith('blocked', 'blocked');
    if (code === CloseCode.ENDED) return stopWith('ended', 'ended');

    let delay;
    if (code === CloseCode.SERVICE_RESTART) {
      this.#attempt = 0; // the next node is a fresh start; if it fails too, backoff begins at the base
      delay = Math.round(this.#random() * this.#o.restartJitterMs);
    } else {
      this.#attempt += 1;
      if (this.#attempt > this.#o.maxReconnectAttempts) {
        this.emit('close', { code, reason, willReconnect: false });
        this.emit('error', { code: 'reconnect_failed', message: `gave up after ${this.#attempt - 1} attempts` });
        this.#stop('error');
        return;
      }
      delay = backoffDelay(this.#attempt, {
        baseMs: this.#o.backoffBaseMs,
        capMs: this.#o.backoffCapMs,
        random: this.#random,
      });
    }
    this.#state = 'reconnecting';
    this.emit('close', { code, reason, willReconnect: true, delay });
    if (code === CloseCode.POLICY || code === CloseCode.TOO_LARGE) {
      this.emit('error', {
        code: code === CloseCode.POLICY ? 'policy' : 'too_large',
        message: reason || (code === CloseCode.POLICY ? 'message rate over the limit' : 'frame too large'),
        closeCode: code,
      });
    }
    if (this.#state === 'stopped') return; // a listener called close()
    this.#reconnects += 1;
    this.emit('reconnecting', { attempt: this.#attempt, delay });
    if (this.#state === 'stopped') return;
    this.#reconnectTimer = this.#timers.setTimeout(() => this.#openSocket(), delay);
  }

  #schedulePing() {
    if (!(this.#o.pingMs > 0)) return;
    this.#pingTimer = this.#timers.setTimeout(() => {
      this.#pingTimer = null;
      const ws = this.#ws;
      if (!this.#isOpen()) return;
      if (this.#now() - this.#lastRx > 2 * this.#o.pingMs) {
        // A dead network path may never deliver a close; give the socket up and reconnect now.
        this.#ws = null;
        try {
          ws.close(CloseCode.KEEPALIVE, 'keepalive timeout');
        } catch {
          // already closing
        }
        this.#onClose(CloseCode.KEEPALIVE, 'keepalive timeout');
        return;
      }
      this.#send('{"type":"ping"}');
      this.#schedulePing();
    }, this.#o.pingMs);
  }

  #clearTimer(name) {
    if (name === 'ping' && this.#pingTimer !== null) {
      this.#timers.clearTimeout(this.#pingTimer);
      this.#pingTimer = null;
    }
    if (name === 'reconnect' && this.#reconnectTimer !== null) {
      this.#timers.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
  }

  /**
   * Sends the recorded events now (in messages of at most maxBatch events and maxFrameBytes bytes) instead of at
   * the next batch tick. Does nothing while the socket is not open or maxInFlight messages await their ack.
   */
  flush() {
    if (this.#flushTimer !== null) {
      this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (!this.#isOpen()) return;
    let sent = false;
    while (this.#pending.length > 0 && this.#unacked.size < this.#o.maxInFlight) {
      const seq = this.#seq + 1;
      let n = Math.min(this.#o.maxBatch, this.#pending.length);
      let text;
      for (;;) {
        text = JSON.stringify({ type: 'events', seq, events: this.#pending.slice(0, n) });
        if (n === 1 || utf8Length(text) <= this.#o.maxFrameBytes) break;
        n = Math.ceil(n / 2);
      }
      if (n === 1 && utf8Length(text) > this.#o.maxFrameBytes) {
        this.#pending.shift();
        this.#dropped += 1;
        this.emit('error', { code: 'event_too_large', message: 'an event does not fit in one frame; dropped' });
        continue;
      }
      this.#pending.splice(0, n);
      this.#seq = seq;
      this.#unacked.set(seq, text);
      sent = true;
      if (!this.#send(text)) break; // stays unacknowledged: resent after the reconnect
    }
    if (sent) this.#scope.set({ seq: this.#seq });
  }

  /**
   * Sends everything recorded and waits until the server has acknowledged it all.
   * @param {{timeoutMs?: number}} [opts] timeoutMs default 3000
   * @returns {Promise<boolean>} true if everything was acknowledged in time
   */
  drain({ timeoutMs = 3000 } = {}) {
    this.flush();
    if (this.#drained()) return Promise.resolve(true);
    if (this.#state === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { resolve, timer: null };
      waiter.timer = this.#timers.setTimeout(() => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#drainWaiters.push(waiter);
    });
  }

  #drained() {
    return this.#pending.length === 0 && this.#unacked.size === 0;
  }

  #checkDrain(force = false) {
    if (this.#drainWaiters.length === 0 || (!force && !this.#drained())) return;
    const ok = this.#drained();
    for (const w of this.#drainWaiters) {
      this.#timers.clearTimeout(w.timer);
      w.resolve(ok);
    }
    this.#drainWaiters = [];
  }

  #stop(reason) {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stopReason = reason;
    this.#clearTimer('ping');
    this.#clearTimer('reconnect');
    if (this.#flushTimer !== null) {
      this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    for (const st of this.#fields.values()) {
      if (st.commitTimer !== null) this.#timers.clearTimeout(st.commitTimer);
      st.commitTimer = null;
      st.commitPending = false;
    }
    for (const off of [...this.#detachers]) off();
    this.#checkDrain(true);
    this.emit('stopped', { reason });
  }

  /**
   * Stops the client: sends what is recorded, closes the socket with 1000, detaches every listener it attached.
   * The client cannot be reused; create a new one for a new session.
   * @returns {Promise<void>} resolves once the socket is closed (or after closeTimeoutMs)
   */
  close() {
    if (this.#state === 'stopped') return Promise.resolve();
    this.flush();
    const ws = this.#ws;
    this.#ws = null;
    this.#stop('closed');
    this.emit('close', { code: CloseCode.NORMAL, reason: 'client closed', willReconnect: false });
    if (!ws || ws.readyState === 3) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#timers.setTimeout(resolve, this.#o.closeTimeoutMs);
      ws.onclose = () => {
        this.#timers.clearTimeout(timer);
        resolve();
      };
      try {
        ws.close(CloseCode.NORMAL, 'client closed');
      } catch {
        this.#timers.clearTimeout(timer);
        resolve();
      }
    });
  }
}
