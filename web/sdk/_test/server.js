// A real WebSocket server (the npm package ws) that speaks the wire contract's WebSocket side well enough to test
// the SDK against: authentication before the upgrade, subprotocol selection, acks, seq applied once, decisions on
// commits, pings, and hooks to close with a code or drop a connection.
// (The leading underscore keeps this folder out of the Go embed of sdk/.)

import http from 'node:http';
import { WebSocketServer } from 'ws';

/**
 * Starts a protocol server on 127.0.0.1 with a random port; it is stopped when the test ends.
 * @param {import('node:test').TestContext} t
 * @param {object} [o]
 * @param {string} [o.token] the accepted session token
 * @param {string} [o.sessionId] the accepted session id
 */
export async function startServer(t, { token = 'tok-123', sessionId = 'sess-1' } = {}) {
  const srv = {
    url: '',
    token,
    sessionId,
    /** Every upgrade request: {path, sessionId, protocols}. */
    upgrades: [],
    /** Every accepted connection, in order: {ws, messages: [parsed], texts: [raw], closed: {code, reason}|null}. */
    conns: [],
    /** Events applied, in order, each seq once (seqs must follow one another: a gap gets invalid_seq). */
    applied: [],
    appliedSeqs: [],
    lastApplied: 0,
    /** When true, upgrades are refused with 401 before any WebSocket handshake. */
    refuse: false,
    /** Whether to ack a message: (msg, connIndex) => boolean. */
    shouldAck: () => true,
    /** Whether to answer {"type":"ping"}. */
    answerPing: true,
    /** The decision for a commit: (event, connIndex) => partial decision, or null for none. */
    decide: (ev) => ({ action: 'allow', risk: 0.1, mode: 'enrolling', sample: { field: ev.field, modality: 'keystroke', status: 'enrolled' } }),
    /** Called after each parsed message: (msg, conn, connIndex). */
    onMessage: null,
    /** Called on each accepted connection: (conn, connIndex). */
    onConnection: null,
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has('behavior.v1') ? 'behavior.v1' : false),
  });
  const server = http.createServer((req, res) => {
    res.writeHead(404).end();
  });

  const refuse = (socket, status, code) => {
    const body = JSON.stringify({ error: { code, message: code } });
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url, 'http://localhost');
    const protocols = String(req.headers['sec-websocket-protocol'] || '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    srv.upgrades.push({ path: u.pathname, sessionId: u.searchParams.get('session_id'), protocols });
    const bearer = protocols.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length);
    if (srv.refuse || bearer !== srv.token) return refuse(socket, 401, 'unauthorized');
    if (u.pathname !== '/v1/ws' || u.searchParams.get('session_id') !== srv.sessionId) {
      return refuse(socket, 403, 'forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  let decisionSeq = 0;
  function accept(ws) {
    const conn = { ws, messages: [], texts: [], closed: null };
    const index = srv.conns.push(conn) - 1;
    ws.on('close', (code, reason) => {
      conn.closed = { code, reason: reason.toString() };
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        ws.send(JSON.stringify({ type: 'error', code: 'invalid_frame', message: 'not JSON' }));
        return;
      }
      conn.messages.push(msg);
      conn.texts.push(text);
      if (msg.type === 'ping') {
        if (srv.answerPing) ws.send('{"type":"pong"}');
      } else if (msg.type === 'events') {
        if (msg.seq > srv.lastApplied + 1) {
          // As the engine does: seqs apply one after another; a gap is refused, naming the seq expected.
          const expected = srv.lastApplied + 1;
          ws.send(JSON.stringify({ type: 'error', code: 'invalid_seq', message: `expected seq ${expected} (resend the missing messages first)`, seq: msg.seq }));
          srv.onMessage?.(msg, conn, index);
          return;
        }
        if (msg.seq > srv.lastApplied) {
          srv.lastApplied = msg.seq;
          srv.appliedSeqs.push(msg.seq);
          for (const ev of msg.events) {
            srv.applied.push(ev);
            if (ev.kind === 'commit') {
              const d = srv.decide(ev, index);
              if (d) ws.send(JSON.stringify({ type: 'decision', seq: ++decisionSeq, reasons: [], latency_us: 100, ...d }));
            }
          }
        }
        if (srv.shouldAck(msg, index)) ws.send(JSON.stringify({ type: 'ack', seq: msg.seq }));
      } else {
        ws.send(JSON.stringify({ type: 'error', code: 'invalid_type', message: `unknown type ${msg.type}` }));
      }
      srv.onMessage?.(msg, conn, index);
    });
    srv.onConnection?.(conn, index);
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  srv.url = `http://127.0.0.1:${server.address().port}`;
  t.after(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  return srv;
}

/**
 * Polls cond until it returns a truthy value or the deadline passes (then throws with what).
 * @template T
 * @param {() => T} cond
 * @param {string} what
 * @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
export async function waitFor(cond, what, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the detail of the client's next event of the type. */
export function nextEvent(client, type, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for client event ${type}`));
    }, timeoutMs);
    const off = client.once(type, (detail) => {
      clearTimeout(timer);
      resolve(detail);
    });
  });
}
