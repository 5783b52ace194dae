// Tests of the SDK's recording side: minimal event objects with the fields of KeyboardEvent, PointerEvent,
// TouchEvent and DeviceMotionEvent, no DOM. Recorded events are observed through the client's 'record' event, and
// once end to end through a real ws server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { BehaviorClient, hashCode, isSensitiveTarget } from '../behavior.js';
import { nextEvent, startServer, waitFor } from './server.js';

/** A client that is never connected, with a fake clock and timers the test fires by hand. */
function recorder(opts = {}) {
  const clock = { now: 1000 };
  const timers = new Map();
  let nextId = 1;
  const client = new BehaviorClient({
    baseUrl: 'http://127.0.0.1:1',
    sessionId: 's1',
    sessionToken: 'tok',
    WebSocket,
    storage: null,
    hashSalt: 'salt',
    hashKeys: false,
    now: () => clock.now,
    timers: {
      setTimeout: (fn, ms) => {
        timers.set(nextId, { fn, ms });
        return nextId++;
      },
      clearTimeout: (id) => timers.delete(id),
    },
    ...opts,
  });
  const events = [];
  client.on('record', (e) => events.push(e));
  const fire = () => {
    for (const [id, { fn }] of [...timers]) {
      timers.delete(id);
      fn();
    }
  };
  return { client, events, clock, timers, fire };
}

const key = (type, code, extra = {}) => ({ type, code, ...extra });

describe('keys', () => {
  test('down and up per field, with t from the clock', () => {
    const { client, events, clock } = recorder();
    client.handleKey(key('keydown', 'KeyT'), 'payee');
    clock.now = 1080.25;
    client.handleKey(key('keyup', 'KeyT'), 'payee');
    assert.deepEqual(events, [
      { kind: 'key', t: 1000, phase: 'down', code: 'KeyT', field: 'payee' },
      { kind: 'key', t: 1080.25, phase: 'up', code: 'KeyT', field: 'payee' },
    ]);
  });

  test('password fields always send hashed codes, whatever hashKeys says', () => {
    const cases = [
      ['type=password', { type: 'password' }, {}],
      ['autocomplete=current-password', { type: 'text', autocomplete: 'current-password' }, {}],
      ['data-behavior-sensitive', { type: 'tel', getAttribute: (n) => (n === 'data-behavior-sensitive' ? '' : null) }, {}],
      ['opts.sensitive', { type: 'text' }, { sensitive: true }],
    ];
    for (const [name, target, opts] of cases) {
      const { client, events } = recorder({ hashKeys: false });
      client.handleKey(key('keydown', 'KeyT', { target }), 'secret', opts);
      client.handleKey(key('keyup', 'KeyT', { target }), 'secret', opts);
      assert.equal(events[0].code, hashCode('salt', 'KeyT'), name);
      assert.equal(events[1].code, events[0].code, name);
      assert.ok(!JSON.stringify(events).includes('KeyT'), `${name}: no raw code in the events`);
    }
  });

  test('a field once seen as a password stays hashed after a "show password" toggle', () => {
    const { client, events } = recorder({ hashKeys: false });
    const input = { type: 'password' };
    client.handleKey(key('keydown', 'KeyA', { target: input }), 'pw');
    client.handleKey(key('keyup', 'KeyA', { target: input }), 'pw');
    input.type = 'text';
    client.handleKey(key('keydown', 'KeyB', { target: input }), 'pw');
    assert.equal(events[2].code, hashCode('salt', 'KeyB'));
  });

  test('hashKeys hashes other fields; without it their codes go as they are', () => {
    const hashed = recorder({ hashKeys: true });
    hashed.client.handleKey(key('keydown', 'Digit4', { target: { type: 'text' } }), 'amount');
    assert.equal(hashed.events[0].code, hashCode('salt', 'Digit4'));
    const plain = recorder({ hashKeys: false });
    plain.client.handleKey(key('keydown', 'Digit4', { target: { type: 'text' } }), 'amount');
    assert.equal(plain.events[0].code, 'Digit4');
  });

  test('auto-repeat, ignored keys and orphan releases are not recorded', () => {
    const { client, events } = recorder();
    assert.equal(client.handleKey(key('keydown', 'KeyA'), 'f'), true);
    assert.equal(client.handleKey(key('keydown', 'KeyA', { repeat: true }), 'f'), false);
    assert.equal(client.handleKey(key('keydown', 'KeyA'), 'f'), false, 'a second down without an up');
    assert.equal(client.handleKey(key('keydown', 'Enter'), 'f'), false);
    assert.equal(client.handleKey(key('keyup', 'Enter'), 'f'), false);
    assert.equal(client.handleKey(key('keyup', 'KeyZ'), 'f'), false, 'never went down');
    assert.equal(client.handleKey(key('keypress', 'KeyA'), 'f'), false);
    assert.equal(client.handleKey(key('keyup', 'KeyA'), 'f'), true);
    assert.deepEqual(
      events.map((e) => `${e.phase}:${e.code}`),
      ['down:KeyA', 'up:KeyA'],
    );
  });

  test('a key released after focus moved belongs to the field it went down in', () => {
    const { client, events } = recorder();
    client.handleKey(key('keydown', 'ShiftLeft'), 'payee');
    client.handleKey(key('keyup', 'ShiftLeft'), 'amount');
    assert.equal(events[1].field, 'payee');
  });

  test('a missing code (virtual keyboards) is sent as Unidentified', () => {
    const { client, events } = recorder();
    client.handleKey({ type: 'keydown', code: '', key: 'a' }, 'f');
    assert.equal(events[0].code, 'Unidentified');
  });
});

describe('commit', () => {
  test('commit closes an entry once; a field with nothing typed since is skipped', () => {
    const { client, events, clock } = recorder();
    assert.equal(client.commit('payee'), false, 'nothing typed yet');
    client.handleKey(key('keydown', 'KeyA'), 'payee');
    client.handleKey(key('keyup', 'KeyA'), 'payee');
    clock.now = 1500;
    assert.equal(client.commit('payee'), true);
    assert.equal(client.commit('payee'), false, 'already committed');
    assert.deepEqual(events.at(-1), { kind: 'commit', t: 1500, field: 'payee' });
    assert.equal(events.filter((e) => e.kind === 'commit').length, 1);
  });

  test('commit() with no field commits every field typed in', () => {
    const { client, events } = recorder();
    for (const f of ['payee', 'amount']) {
      client.handleKey(key('keydown', 'KeyA'), f);
      client.handleKey(key('keyup', 'KeyA'), f);
    }
    client.handleKey(key('keydown', 'KeyB'), 'note');
    client.handleKey(key('keyup', 'KeyB'), 'note');
    client.commit('note');
    client.commit();
    assert.deepEqual(
      events.filter((e) => e.kind === 'commit').map((e) => e.field),
      ['note', 'payee', 'amount'],
    );
  });

  test('a commit while a key of the field is held waits for its release', () => {
    const { client, events, clock, timers } = recorder();
    client.handleKey(key('keydown', 'KeyA'), 'payee');
    client.handleKey(key('keyup', 'KeyA'), 'payee');
    client.handleKey(key('keydown', 'KeyB'), 'payee');
    assert.equal(client.commit('payee'), true);
    assert.equal(events.filter((e) => e.kind === 'commit').length, 0, 'deferred');
    assert.equal(timers.size, 1);
    clock.now = 1100;
    client.handleKey(key('keyup', 'KeyB'), 'payee');
    assert.deepEqual(
      events.map((e) => e.kind + (e.phase ? `:${e.phase}` : '')),
      ['key:down', 'key:up', 'key:down', 'key:up', 'commit'],
    );
    assert.equal(timers.size, 0, 'the wait timer is cleared');
  });

  test('a deferred commit happens after commitWaitMs if the key is never released', () => {
    const { client, events, timers, fire } = recorder({ commitWaitMs: 300 });
    client.handleKey(key('keydown', 'KeyB'), 'payee');
    client.commit('payee');
    assert.equal([...timers.values()][0].ms, 300);
    fire();
    assert.equal(events.at(-1).kind, 'commit');
    assert.equal(client.handleKey(key('keyup', 'KeyB'), 'payee'), false, 'its late release is an orphan');
  });
});

describe('pointer, touch, motion, nav', () => {
  test('pointer events: phase, position, pressure, pointer type; moves are thinned', () => {
    const { client, events, clock } = recorder({ pointerIntervalMs: 16 });
    const p = (type, x, y, extra = {}) => ({ type, clientX: x, clientY: y, pressure: 0.5, pointerType: 'touch', ...extra });
    client.handlePointer(p('pointerdown', 10, 20));
    client.handlePointer(p('pointermove', 11.26, 21));
    clock.now = 1010;
    assert.equal(client.handlePointer(p('pointermove', 12, 22)), false, 'within 16 ms of the last move');
    clock.now = 1020;
    client.handlePointer(p('pointermove', 13, 23, { pointerType: 'pen', pressure: 0.25 }));
    client.handlePointer(p('pointerup', 13, 23, { pressure: 0 }));
    client.handlePointer(p('pointerover', 1, 1));
    clock.now = 1040;
    client.handlePointer(p('pointermove', 14, 24, { pointerType: '', pressure: undefined }));
    assert.deepEqual(events, [
      { kind: 'pointer', t: 1000, phase: 'down', x: 10, y: 20, pressure: 0.5, pointer: 'touch' },
      { kind: 'pointer', t: 1000, phase: 'move', x: 11.3, y: 21, pressure: 0.5, pointer: 'touch' },
      { kind: 'pointer', t: 1020, phase: 'move', x: 13, y: 23, pressure: 0.25, pointer: 'pen' },
      { kind: 'pointer', t: 1020, phase: 'up', x: 13, y: 23, pressure: 0, pointer: 'touch' },
      { kind: 'pointer', t: 1040, phase: 'move', x: 14, y: 24, pressure: 0, pointer: 'mouse' },
    ]);
  });

  test('touch events where there are no pointer events', () => {
    const { client, events } = recorder();
    client.handlePointer({ type: 'touchstart', changedTouches: [{ clientX: 5, clientY: 6, force: 0.7 }] });
    client.handlePointer({ type: 'touchend', changedTouches: [] });
    assert.deepEqual(events, [{ kind: 'pointer', t: 1000, phase: 'down', x: 5, y: 6, pressure: 0.7, pointer: 'touch' }]);
  });

  test('device motion: acceleration with gravity, rotation in rad/s; empty readings skipped; thinned', () => {
    const { client, events, clock } = recorder({ motionIntervalMs: 20 });
    const m = (x, y, z, alpha, beta, gamma) => ({
      type: 'devicemotion',
      accelerationIncludingGravity: { x, y, z },
      rotationRate: { alpha, beta, gamma },
    });
    assert.equal(client.handleMotion({ accelerationIncludingGravity: { x: null, y: null, z: null } }), false);
    client.handleMotion(m(0.1, 9.7, 0.3, 180, 90, 0));
    clock.now = 1010;
    assert.equal(client.handleMotion(m(0, 0, 0, 0, 0, 0)), false);
    clock.now = 1020;
    client.handleMotion({ accelerationIncludingGravity: { x: 1, y: 2, z: 3 }, rotationRate: null });
    assert.deepEqual(events, [
      { kind: 'motion', t: 1000, ax: 0.1, ay: 9.7, az: 0.3, gx: 1.5708, gy: 0, gz: 3.14159 },
      { kind: 'motion', t: 1020, ax: 1, ay: 2, az: 3, gx: 0, gy: 0, gz: 0 },
    ]);
  });

  test('nav', () => {
    const { client, events } = recorder();
    client.nav('transfer');
    assert.deepEqual(events, [{ kind: 'nav', t: 1000, screen: 'transfer' }]);
  });

  test('the event timeStamp is used when it is on the page clock, ignored when it looks like epoch time', () => {
    const { client, events } = recorder({ eventTime: true });
    client.handleKey({ type: 'keydown', code: 'KeyA', timeStamp: 990.5 }, 'f');
    client.handleKey({ type: 'keydown', code: 'KeyB', timeStamp: 1.7e12 }, 'f');
    assert.deepEqual(events.map((e) => e.t), [990.5, 1000]);
  });

  test('t never goes back: an event stamped before the last one queued takes its time', () => {
    const { client, events } = recorder({ eventTime: true });
    client.nav('home'); // t 1000 from the clock
    client.handleKey({ type: 'keydown', code: 'KeyA', timeStamp: 999.2 }, 'f');
    client.handleKey({ type: 'keyup', code: 'KeyA', timeStamp: 1000.4 }, 'f');
    assert.deepEqual(events.map((e) => e.t), [1000, 1000, 1000.4]);
  });
});

describe('attaching to elements', () => {
  // EventTarget stands in for elements: the SDK only needs addEventListener and a few properties.
  const element = (props) => Object.assign(new EventTarget(), props);
  const dispatch = (target, type, props = {}) => target.dispatchEvent(Object.assign(new Event(type), props));

  test('watchField records keys, commits on blur, and stops when unwatched', () => {
    const { client, events } = recorder({ eventTime: false });
    const input = element({ type: 'password', name: 'password' });
    const unwatch = client.watchField(input);
    dispatch(input, 'keydown', { code: 'KeyP' });
    dispatch(input, 'keyup', { code: 'KeyP' });
    dispatch(input, 'blur');
    assert.deepEqual(
      events.map((e) => [e.kind, e.phase, e.code, e.field]),
      [
        ['key', 'down', hashCode('salt', 'KeyP'), 'password'],
        ['key', 'up', hashCode('salt', 'KeyP'), 'password'],
        ['commit', undefined, undefined, 'password'],
      ],
    );
    unwatch();
    dispatch(input, 'keydown', { code: 'KeyQ' });
    assert.equal(events.length, 3);
    assert.throws(() => client.watchField(element({})), /field name/);
  });

  test('watch(form) watches its text inputs and commits them on submit', () => {
    const { client, events } = recorder({ eventTime: false });
    const payee = element({ tagName: 'INPUT', type: 'text', name: 'payee' });
    const amount = element({ tagName: 'INPUT', type: 'text', id: 'amount' });
    const button = element({ tagName: 'BUTTON', type: 'submit', name: 'send' });
    const hidden = element({ tagName: 'INPUT', type: 'hidden', name: 'csrf' });
    const form = element({ elements: [payee, amount, button, hidden] });
    client.watch(form);
    for (const input of [payee, amount]) {
      dispatch(input, 'keydown', { code: 'KeyA' });
      dispatch(input, 'keyup', { code: 'KeyA' });
    }
    dispatch(form, 'submit');
    assert.deepEqual(
      events.filter((e) => e.kind === 'commit').map((e) => e.field),
      ['payee', 'amount'],
    );
    // The same field can be typed again and committed again (the demo enrolls by repetition).
    dispatch(payee, 'keydown', { code: 'KeyA' });
    dispatch(payee, 'keyup', { code: 'KeyA' });
    dispatch(form, 'submit');
    assert.equal(events.filter((e) => e.kind === 'commit').length, 3);
  });

  test('watchPointer listens on a target; close() detaches every listener', async () => {
    const { client, events } = recorder({ eventTime: false });
    const doc = element({});
    client.watchPointer(doc);
    dispatch(doc, typeof globalThis.PointerEvent === 'function' ? 'pointerdown' : 'touchstart', {
      clientX: 1,
      clientY: 2,
      pressure: 0.5,
      pointerType: 'mouse',
      changedTouches: [{ clientX: 1, clientY: 2, force: 0.5 }],
    });
    assert.equal(events.length, 1);
    await client.close();
    dispatch(doc, 'pointerdown', { clientX: 1, clientY: 2 });
    dispatch(doc, 'touchstart', { changedTouches: [{ clientX: 1, clientY: 2 }] });
    assert.equal(events.length, 1);
  });

  test('isSensitiveTarget', () => {
    assert.equal(isSensitiveTarget({ type: 'PASSWORD' }), true);
    assert.equal(isSensitiveTarget({ type: 'tel', autocomplete: 'one-time-code' }), true);
    assert.equal(isSensitiveTarget({ type: 'text', autocomplete: 'name' }), false);
    assert.equal(isSensitiveTarget(null), false);
  });
});

test('end to end: a password entry reaches the server with hashed codes only', async (t) => {
  const srv = await startServer(t);
  const client = new BehaviorClient({
    baseUrl: srv.url,
    sessionId: srv.sessionId,
    sessionToken: srv.token,
    WebSocket,
    storage: null,
    hashKeys: false,
    batchMs: 10,
    pingMs: 0,
  });
  t.after(() => client.close());
  client.connect();
  await nextEvent(client, 'open');
  const pw = { type: 'password' };
  for (const code of ['KeyS', 'KeyE', 'Digit1']) {
    client.handleKey({ type: 'keydown', code, target: pw }, 'password');
    client.handleKey({ type: 'keyup', code, target: pw }, 'password');
  }
  const decision = nextEvent(client, 'decision');
  client.commit('password');
  assert.equal((await decision).sample.field, 'password');
  await waitFor(() => srv.applied.length === 7, 'all events');
  const wire = srv.conns[0].texts.join('\n');
  for (const code of ['KeyS', 'KeyE', 'Digit1']) assert.ok(!wire.includes(code), `${code} not on the wire`);
  assert.deepEqual(
    srv.applied.filter((e) => e.kind === 'key').map((e) => e.code.length),
    Array(6).fill(9),
  );
  assert.equal(srv.applied.at(-1).kind, 'commit');
});
