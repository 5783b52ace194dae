// Tests of the SDK's connection side against a real WebSocket server (ws), with ws's WebSocket as the client's
// constructor.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { BehaviorClient, backoffDelay, hashCode, wsEndpoint } from '../behavior.js';
import { nextEvent, startServer, waitFor } from './server.js';

/** A client of srv with fast timings; closed when the test ends. */
function makeClient(t, srv, opts = {}) {
  const client = new BehaviorClient({
    baseUrl: srv.url,
    sessionId: srv.sessionId,
    sessionToken: srv.token,
    WebSocket,
    storage: null,
    batchMs: 10,
    backoffBaseMs: 10,
    backoffCapMs: 40,
    restartJitterMs: 0,
    pingMs: 0,
    ...opts,
  });
  t.after(() => client.close());
  return client;
}

/** Events of all messages a connection received, flattened. */
const eventsOf = (conn) => conn.messages.filter((m) => m.type === 'events').flatMap((m) => m.events);
const seqsOf = (conn) => conn.messages.filter((m) => m.type === 'events').map((m) => m.seq);

describe('connection', () => {
  test('authenticates with the subprotocol list and session_id; the server selects behavior.v1', async (t) => {
    const srv = await startServer(t, { token: 'abc.DEF-123_x', sessionId: 'a1b2-c3' });
    const client = makeClient(t, srv);
    const opened = nextEvent(client, 'open');
    client.connect();
    const { protocol } = await opened;
    assert.equal(protocol, 'behavior.v1');
    assert.equal(client.state, 'open');
    assert.deepEqual(srv.upgrades[0], {
      path: '/v1/ws',
      sessionId: 'a1b2-c3',
      protocols: ['behavior.v1', 'bearer.abc.DEF-123_x'],
    });
  });

  test('batches events recorded together into one message; seq grows by one from 1', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv, { batchMs: 30 });
    client.connect();
    await nextEvent(client, 'open');
    for (let i = 0; i < 5; i++) client.nav(`s${i}`);
    await waitFor(() => srv.conns[0].messages.length === 1, 'first message');
    for (let i = 5; i < 8; i++) client.nav(`s${i}`);
    await waitFor(() => srv.conns[0].messages.length === 2, 'second message');
    const [m1, m2] = srv.conns[0].messages;
    assert.equal(m1.type, 'events');
    assert.equal(m1.seq, 1);
    assert.deepEqual(m1.events.map((e) => e.screen), ['s0', 's1', 's2', 's3', 's4']);
    assert.equal(m2.seq, 2);
    assert.deepEqual(m2.events.map((e) => e.screen), ['s5', 's6', 's7']);
    for (const e of [...m1.events, ...m2.events]) {
      assert.equal(e.kind, 'nav');
      assert.equal(typeof e.t, 'number');
    }
    assert.ok(m1.events.every((e, i, a) => i === 0 || e.t >= a[i - 1].t), 't is monotonic');
    await waitFor(() => client.stats.unacked === 0, 'acks');
    assert.equal(client.stats.seq, 2);
  });

  test('events recorded before connect are sent once open', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv);
    client.nav('login');
    client.nav('home');
    client.connect();
    await waitFor(() => srv.applied.length === 2, 'queued events');
    assert.deepEqual(seqsOf(srv.conns[0]), [1]);
  });

  test('after a drop, resends exactly the unacknowledged messages, in seq order, before new ones', async (t) => {
    const srv = await startServer(t);
    // First connection: ack seq 1 only, then drop (no close frame) once seq 3 has arrived.
    srv.shouldAck = (msg, conn) => conn > 0 || msg.seq === 1;
    srv.onMessage = (msg, conn, index) => {
      if (index === 0 && msg.seq === 3) conn.ws.terminate();
    };
    const client = makeClient(t, srv, { batchMs: 1000 });
    const acks = [];
    client.on('ack', ({ seq }) => acks.push(seq));
    client.connect();
    await nextEvent(client, 'open');
    for (const screen of ['a', 'b', 'c']) {
      client.nav(screen);
      client.flush(); // one message per screen
    }
    const closed = await nextEvent(client, 'close');
    assert.equal(closed.willReconnect, true);
    await nextEvent(client, 'open');
    client.nav('d');
    client.flush();
    await waitFor(() => srv.conns[1]?.messages.length === 3, 'resent and new messages');

    assert.deepEqual(seqsOf(srv.conns[0]), [1, 2, 3]);
    assert.deepEqual(seqsOf(srv.conns[1]), [2, 3, 4], 'seq 1 was acknowledged and is not resent');
    assert.deepEqual(srv.conns[1].texts.slice(0, 2), srv.conns[0].texts.slice(1, 3), 'resent byte for byte');
    assert.deepEqual(
      srv.applied.map((e) => e.screen),
      ['a', 'b', 'c', 'd'],
    );
    await waitFor(() => client.stats.unacked === 0, 'all acknowledged');
    assert.deepEqual(acks, [1, 2, 3, 4]);
  });

  test('holds back new messages while maxInFlight await their ack', async (t) => {
    const srv = await startServer(t);
    let ackAll = false;
    srv.shouldAck = () => ackAll;
    const client = makeClient(t, srv, { maxInFlight: 2 });
    client.connect();
    await nextEvent(client, 'open');
    for (const s of ['a', 'b', 'c', 'd']) {
      client.nav(s);
      client.flush();
    }
    await waitFor(() => srv.conns[0].messages.length === 2, 'two messages');
    assert.equal(client.stats.unacked, 2);
    assert.equal(client.stats.pending, 2);
    // Unblock: the server acks the next resend. Reconnect to make it resend.
    ackAll = true;
    srv.conns[0].ws.close(1011, 'restart');
    await waitFor(() => srv.applied.length === 4 && client.stats.unacked === 0, 'all sent after acks');
    assert.deepEqual(srv.appliedSeqs, [1, 2, 3]);
    assert.deepEqual(srv.applied.map((e) => e.screen), ['a', 'b', 'c', 'd']);
  });

  test('splits messages so that none exceeds maxFrameBytes', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv, { maxFrameBytes: 400 });
    client.connect();
    await nextEvent(client, 'open');
    for (let i = 0; i < 40; i++) client.nav(`screen-${i}`);
    client.flush();
    await waitFor(() => srv.applied.length === 40, 'all events');
    assert.ok(srv.conns[0].texts.length > 1);
    for (const text of srv.conns[0].texts) assert.ok(Buffer.byteLength(text) <= 400, `${text.length} bytes`);
    assert.deepEqual(
      srv.applied.map((e) => e.screen),
      Array.from({ length: 40 }, (_, i) => `screen-${i}`),
    );
  });

  test('bounded queue: the oldest unsent events are dropped with overflow', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv, { maxQueue: 10 });
    const overflows = [];
    client.on('overflow', (o) => overflows.push(o));
    for (let i = 0; i < 15; i++) client.nav(`n${i}`);
    assert.equal(client.stats.pending, 10);
    assert.equal(client.stats.dropped, 5);
    assert.equal(overflows.length, 5);
    assert.deepEqual(overflows.at(-1), { dropped: 1, totalDropped: 5 });
    client.connect();
    await waitFor(() => srv.applied.length === 10, 'the kept events');
    assert.deepEqual(
      srv.applied.map((e) => e.screen),
      Array.from({ length: 10 }, (_, i) => `n${i + 5}`),
    );
  });

  test('decisions, challenges and server errors become events', async (t) => {
    const srv = await startServer(t);
    srv.decide = (ev) => ({
      action: 'challenge',
      risk: 0.72,
      mode: 'scoring',
      sample: { field: ev.field, modality: 'keystroke', status: 'scored', risk: 0.8 },
      reasons: ['keystroke timing far from profile'],
    });
    const client = makeClient(t, srv);
    client.connect();
    await nextEvent(client, 'open');
    const decision = nextEvent(client, 'decision');
    const challenge = nextEvent(client, 'challenge');
    client.handleKey({ type: 'keydown', code: 'KeyA' }, 'payee');
    client.handleKey({ type: 'keyup', code: 'KeyA' }, 'payee');
    client.commit('payee');
    const d = await decision;
    assert.equal(d.action, 'challenge');
    assert.equal(d.sample.status, 'scored');
    assert.equal(d.risk, 0.72);
    assert.deepEqual(await challenge, d);

    const err = nextEvent(client, 'error');
    srv.conns[0].ws.send(JSON.stringify({ type: 'error', code: 'invalid_event', message: 'bad t', seq: 9 }));
    assert.deepEqual(await err, { type: 'error', code: 'invalid_event', message: 'bad t', seq: 9, source: 'server' });
  });

  test('close() sends what is queued, closes with 1000 and does not reconnect', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv, { batchMs: 10000 });
    client.connect();
    await nextEvent(client, 'open');
    client.nav('bye');
    const reconnecting = [];
    client.on('reconnecting', (r) => reconnecting.push(r));
    await client.close();
    await waitFor(() => srv.conns[0].closed, 'server sees the close');
    assert.equal(srv.conns[0].closed.code, 1000);
    assert.deepEqual(srv.applied.map((e) => e.screen), ['bye']);
    assert.equal(client.state, 'stopped');
    assert.equal(client.stopReason, 'closed');
    assert.deepEqual(reconnecting, []);
    assert.equal(client.nav('after'), false, 'a stopped client records nothing');
  });

  test('drain() resolves once everything is acknowledged', async (t) => {
    const srv = await startServer(t);
    const client = makeClient(t, srv, { batchMs: 10000 });
    client.connect();
    await nextEvent(client, 'open');
    client.nav('x');
    client.nav('y');
    assert.equal(await client.drain({ timeoutMs: 2000 }), true);
    assert.equal(srv.applied.length, 2);
    srv.shouldAck = () => false;
    client.nav('z');
    assert.equal(await client.drain({ timeoutMs: 50 }), false);
  });

  test('keepalive: a server that stops answering is given up and the client reconnects', async (t) => {
    const srv = await startServer(t);
    srv.answerPing = false;
    // The client's clock only moves when the test moves it, so a slow machine cannot make the first ping late.
    const clock = { now: 0 };
    const client = makeClient(t, srv, { pingMs: 20, now: () => clock.now });
    const closes = [];
    client.on('close', (c) => closes.push(c));
    client.connect();
    await nextEvent(client, 'open');
    await waitFor(() => srv.conns[0].messages.filter((m) => m.type === 'ping').length >= 2, 'pings');
    assert.deepEqual(closes, [], 'silence shorter than two ping periods is tolerated');
    clock.now = 41; // no frame from the server for more than two ping periods
    const closed = await nextEvent(client, 'close');
    assert.equal(closed.code, 4000);
    assert.equal(closed.willReconnect, true);
    await waitFor(() => srv.conns.length === 2, 'second connection');
  });
});

describe('close codes', () => {
  for (const [code, event, reason] of [
    [4001, 'unauthorized', 'unauthorized'],
    [4003, 'blocked', 'blocked'],
    [4004, 'ended', 'ended'],
  ]) {
    test(`${code} stops the client and emits ${event}`, async (t) => {
      const srv = await startServer(t);
      srv.onConnection = (conn) => conn.ws.close(code, event);
      const client = makeClient(t, srv);
      const reconnecting = [];
      client.on('reconnecting', (r) => reconnecting.push(r));
      const got = nextEvent(client, event);
      const closed = nextEvent(client, 'close');
      client.connect();
      assert.deepEqual(await closed, { code, reason: event, willReconnect: false });
      assert.equal((await got).code, code);
      assert.equal(client.state, 'stopped');
      assert.equal(client.stopReason, reason);
      assert.deepEqual(reconnecting, []);
      assert.throws(() => client.connect(), /stopped/);
    });
  }

  test('a block decision then 4003: decision first, then blocked carrying it', async (t) => {
    const srv = await startServer(t);
    srv.decide = () => ({ action: 'block', risk: 0.97, mode: 'scoring', sample: { field: 'payee', status: 'scored', risk: 0.99 } });
    srv.onMessage = (msg, conn) => {
      if (msg.type === 'events') setImmediate(() => conn.ws.close(4003, 'blocked'));
    };
    const client = makeClient(t, srv);
    const order = [];
    client.on('decision', (d) => order.push(`decision:${d.action}`));
    const blocked = nextEvent(client, 'blocked');
    client.on('blocked', () => order.push('blocked'));
    client.connect();
    await nextEvent(client, 'open');
    client.handleKey({ type: 'keydown', code: 'KeyQ' }, 'payee');
    client.handleKey({ type: 'keyup', code: 'KeyQ' }, 'payee');
    client.commit('payee');
    const b = await blocked;
    assert.equal(b.decision.action, 'block');
    assert.deepEqual(order, ['decision:block', 'blocked']);
    assert.equal(client.stopReason, 'blocked');
  });

  test('1012 reconnects at once; 1008 emits error and reconnects with backoff', async (t) => {
    const srv = await startServer(t);
    srv.onConnection = (conn, i) => {
      if (i === 0) conn.ws.close(1012, 'draining');
      if (i === 1) conn.ws.close(1008, 'rate');
    };
    const client = makeClient(t, srv, { random: () => 1, backoffBaseMs: 30, backoffCapMs: 1000 });
    const reconnecting = [];
    const errors = [];
    client.on('reconnecting', (r) => reconnecting.push(r));
    client.on('error', (e) => errors.push(e));
    client.connect();
    await waitFor(() => srv.conns.length === 3 && client.state === 'open', 'third connection');
    assert.deepEqual(reconnecting, [
      { attempt: 0, delay: 0 },
      { attempt: 1, delay: 30 },
    ]);
    assert.deepEqual(errors, [{ code: 'policy', message: 'rate', closeCode: 1008 }]);
  });

  test('1009 emits too_large and reconnects', async (t) => {
    const srv = await startServer(t);
    srv.onConnection = (conn, i) => {
      if (i === 0) conn.ws.close(1009, '');
    };
    const client = makeClient(t, srv);
    const err = nextEvent(client, 'error');
    client.connect();
    assert.equal((await err).code, 'too_large');
    await waitFor(() => srv.conns.length === 2 && client.state === 'open', 'reconnected');
  });
});

describe('backoff', () => {
  test('backoffDelay doubles from the base, stays within the cap, and jitters in the upper half', () => {
    const cases = [
      // attempt, random, want
      [1, 1, 500],
      [2, 1, 1000],
      [3, 1, 2000],
      [4, 1, 4000],
      [7, 1, 30000],
      [50, 1, 30000],
      [1, 0, 250],
      [3, 0, 1000],
      [20, 0, 15000],
      [2, 0.5, 750],
    ];
    for (const [attempt, r, want] of cases) {
      assert.equal(backoffDelay(attempt, { baseMs: 500, capMs: 30000, random: () => r }), want, `attempt ${attempt} r ${r}`);
    }
  });

  test('failed reconnects back off exponentially up to the cap, and a stable connection resets it', async (t) => {
    const srv = await startServer(t);
    srv.refuse = true; // 401 before the upgrade, as for an expired token seen by a browser: close 1006
    // Delays are recorded from the 'reconnecting' events; the timers run them at once so the test takes no time.
    const timers = { setTimeout: (fn) => setTimeout(fn, 0), clearTimeout: (id) => clearTimeout(id) };
    const client = makeClient(t, srv, { timers, random: () => 1, backoffBaseMs: 100, backoffCapMs: 800, stableMs: 0 });
    const delays = [];
    client.on('reconnecting', ({ attempt, delay }) => {
      delays.push([attempt, delay]);
      if (attempt === 6) srv.refuse = false;
    });
    client.connect();
    await waitFor(() => client.state === 'open', 'open after refusals');
    assert.deepEqual(delays, [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 800],
      [6, 800],
    ]);
    assert.ok(srv.upgrades.length >= 7);
    srv.conns[0].ws.close(1011, 'oops');
    await waitFor(() => delays.length === 7, 'reconnect after a stable connection');
    assert.deepEqual(delays[6], [1, 100], 'backoff starts over');
  });

  test('maxReconnectAttempts stops the client with an error', async (t) => {
    const srv = await startServer(t);
    srv.refuse = true;
    const client = makeClient(t, srv, { maxReconnectAttempts: 2 });
    const stopped = nextEvent(client, 'stopped');
    const errors = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    assert.deepEqual(await stopped, { reason: 'error' });
    assert.deepEqual(errors, ['reconnect_failed']);
    assert.equal(srv.upgrades.length, 3);
  });
});

describe('helpers', () => {
  test('wsEndpoint', () => {
    const cases = [
      ['http://127.0.0.1:8080', '/v1/ws', 's1', 'ws://127.0.0.1:8080/v1/ws?session_id=s1'],
      ['https://bank.example/app/', '/v1/ws', 's 2', 'wss://bank.example/v1/ws?session_id=s+2'],
      ['https://bank.example', 'wss://edge.example/v1/ws', 'x', 'wss://edge.example/v1/ws?session_id=x'],
    ];
    for (const [base, path, id, want] of cases) assert.equal(wsEndpoint(base, path, id), want);
  });

  test('hashCode is stable for a salt, differs across keys and salts', () => {
    assert.match(hashCode('salt', 'KeyA'), /^h[0-9a-f]{8}$/);
    assert.equal(hashCode('salt', 'KeyA'), hashCode('salt', 'KeyA'));
    assert.notEqual(hashCode('salt', 'KeyA'), hashCode('salt', 'KeyB'));
    assert.notEqual(hashCode('salt', 'KeyA'), hashCode('pepper', 'KeyA'));
    // The ~100 codes of a keyboard do not collide under one salt.
    const codes = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((c) => `Key${c}`).concat([...'0123456789'].map((d) => `Digit${d}`));
    assert.equal(new Set(codes.map((c) => hashCode('s', c))).size, codes.length);
  });

  test('the constructor refuses missing options', () => {
    const base = { sessionId: 's', sessionToken: 't', WebSocket, baseUrl: 'http://x' };
    assert.throws(() => new BehaviorClient({ ...base, sessionId: '' }), TypeError);
    assert.throws(() => new BehaviorClient({ ...base, sessionToken: undefined }), TypeError);
    assert.throws(() => new BehaviorClient({ ...base, WebSocket: null }), /WebSocket/);
  });

  test('a token the WebSocket constructor refuses stops the client with connect_failed', () => {
    const client = new BehaviorClient({ sessionId: 's', sessionToken: 'a b', WebSocket, baseUrl: 'http://127.0.0.1:1', storage: null });
    const errors = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    assert.deepEqual(errors, ['connect_failed']);
    assert.equal(client.state, 'stopped');
  });

  test('seq and clock origin continue across a reload of the same session (sessionStorage)', async (t) => {
    const srv = await startServer(t);
    const store = new Map();
    const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
    const first = makeClient(t, srv, { storage });
    first.connect();
    await nextEvent(first, 'open');
    first.nav('a');
    first.flush();
    first.nav('b');
    first.flush();
    await first.close();
    const second = makeClient(t, srv, { storage });
    second.nav('c');
    second.connect();
    await waitFor(() => srv.conns[1]?.messages.length === 1, 'second page message');
    assert.deepEqual(seqsOf(srv.conns[1]), [3], 'seq continues after the last one sent');
    assert.deepEqual(eventsOf(srv.conns[1]).map((e) => e.screen), ['c']);
  });

  test('a gap in seq (messages lost with a reloaded page) is renumbered from the seq the server expects', async (t) => {
    const srv = await startServer(t);
    const storage = { getItem: () => JSON.stringify({ seq: 5 }), setItem: () => {} }; // the old page sent 1..5
    const client = makeClient(t, srv, { storage, batchMs: 10000 });
    const resyncs = [];
    const errors = [];
    client.on('resync', (r) => resyncs.push(r));
    client.on('error', (e) => errors.push(e));
    client.connect();
    await nextEvent(client, 'open');
    for (const screen of ['a', 'b', 'c']) {
      client.nav(screen);
      client.flush(); // seqs 6, 7, 8 in flight together: three invalid_seq errors come back
    }
    await waitFor(() => srv.applied.length === 3 && client.stats.unacked === 0, 'renumbered messages applied');
    assert.deepEqual(seqsOf(srv.conns[0]), [6, 7, 8, 1, 2, 3]);
    assert.deepEqual(srv.appliedSeqs, [1, 2, 3]);
    assert.deepEqual(srv.applied.map((e) => e.screen), ['a', 'b', 'c']);
    assert.deepEqual(resyncs, [{ from: 8, to: 3, expected: 1 }]);
    assert.deepEqual(errors, []);
    client.nav('d');
    client.flush();
    await waitFor(() => srv.applied.length === 4, 'next message');
    assert.deepEqual(srv.appliedSeqs, [1, 2, 3, 4]);
  });

  test('codes hash the same in every session by default, and per hashSalt', () => {
    const codeOf = (opts) => {
      const c = new BehaviorClient({ sessionToken: 't', WebSocket, baseUrl: 'http://x', storage: null, ...opts });
      let code;
      c.on('record', (e) => (code = e.code));
      c.handleKey({ type: 'keydown', code: 'KeyK' }, 'f');
      return code;
    };
    assert.equal(codeOf({ sessionId: 's1' }), codeOf({ sessionId: 's2' }), 'a field hashes alike across sessions');
    assert.equal(codeOf({ sessionId: 's1', hashSalt: 'user-1' }), codeOf({ sessionId: 's2', hashSalt: 'user-1' }));
    assert.notEqual(codeOf({ sessionId: 's1', hashSalt: 'user-1' }), codeOf({ sessionId: 's1', hashSalt: 'user-2' }));
    assert.equal(codeOf({ sessionId: 's1', hashSalt: undefined }), codeOf({ sessionId: 's1' }), 'undefined keeps the default');
    assert.throws(() => codeOf({ sessionId: 's1', hashSalt: '' }), /hashSalt/);
  });
});
