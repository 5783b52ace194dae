// Tests of the REST helpers against a real HTTP server that answers as the contract says.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { ApiError, BehaviorApi } from '../api.js';

/** Starts a server whose handler is routes[`${method} ${path}`]; records every request. */
async function startServer(t, routes) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = { method: req.method, path: req.url, headers: req.headers, body: body ? JSON.parse(body) : undefined };
    requests.push(r);
    const route = routes[`${req.method} ${req.url}`];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
      return;
    }
    const { status = 200, json, text, headers = {} } = route(r);
    if (status === 'hang') return; // never answers
    res.writeHead(status, { 'Content-Type': json !== undefined ? 'application/json' : 'text/plain', ...headers });
    res.end(json !== undefined ? JSON.stringify(json) : text ?? '');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${server.address().port}`, requests };
}

test('each method calls its endpoint with the contract body and token', async (t) => {
  const ok = (json, status = 200) => () => ({ status, json });
  const srv = await startServer(t, {
    'POST /v1/auth/register': ok({ user_id: 'u1' }, 201),
    'POST /v1/auth/login': ok({ user_id: 'u1', access_token: 'A', refresh_token: 'R', expires_in: 900 }),
    'POST /v1/auth/refresh': ok({ user_id: 'u1', access_token: 'A2', refresh_token: 'R2', expires_in: 900 }),
    'POST /v1/auth/logout': () => ({ status: 204 }),
    'POST /v1/auth/mpin/verify': ok({ session_id: 's/1', session_token: 'S', expires_at: 'x', ws_url: '/v1/ws' }, 201),
    'GET /v1/sessions/s%2F1': ok({ session_id: 's/1', state: 'active' }),
    'POST /v1/sessions/s%2F1/challenge': ok({ state: 'active' }),
    'POST /v1/sessions/s%2F1/end': ok({ session_id: 's/1', events: 3 }),
    'POST /v1/feedback': ok({ feedback_id: 'f1' }, 202),
    'GET /v1/users/u1/profile': ok({ user_id: 'u1', fields: [] }),
    'GET /v1/stats': ok({ sessions: 1 }),
    'GET /v1/ops/sessions': ok({ sessions: [] }),
  });
  const api = new BehaviorApi({ baseUrl: `${srv.url}/` });
  const calls = [
    [() => api.register({ phone: '+919876543210', password: 'p'.repeat(12), mpin: '482916', name: 'Asha' }), { user_id: 'u1' }],
    [() => api.login({ phone: '+919876543210', password: 'pw', deviceId: 'd1' }), { user_id: 'u1', access_token: 'A', refresh_token: 'R', expires_in: 900 }],
    [() => api.refresh('R'), { user_id: 'u1', access_token: 'A2', refresh_token: 'R2', expires_in: 900 }],
    [() => api.logout('A'), undefined],
    [() => api.verifyMpin('A', '482916'), { session_id: 's/1', session_token: 'S', expires_at: 'x', ws_url: '/v1/ws' }],
    [() => api.sessionStatus('S', 's/1'), { session_id: 's/1', state: 'active' }],
    [() => api.answerChallenge('S', 's/1', '482916'), { state: 'active' }],
    [() => api.endSession('A', 's/1'), { session_id: 's/1', events: 3 }],
    [() => api.feedback('A', { sessionId: 's/1', decisionSeq: 12, label: 'fraud' }), { feedback_id: 'f1' }],
    [() => api.profile('A', 'u1'), { user_id: 'u1', fields: [] }],
    [() => api.stats('OPKEY'), { sessions: 1 }],
    [() => api.opsSessions('OPKEY'), { sessions: [] }],
  ];
  for (const [call, want] of calls) assert.deepEqual(await call(), want);

  const seen = srv.requests.map((r) => [r.method, r.path, r.headers.authorization, r.body]);
  assert.deepEqual(seen, [
    ['POST', '/v1/auth/register', undefined, { phone: '+919876543210', password: 'p'.repeat(12), mpin: '482916', name: 'Asha' }],
    ['POST', '/v1/auth/login', undefined, { phone: '+919876543210', password: 'pw', device_id: 'd1' }],
    ['POST', '/v1/auth/refresh', undefined, { refresh_token: 'R' }],
    ['POST', '/v1/auth/logout', 'Bearer A', undefined],
    ['POST', '/v1/auth/mpin/verify', 'Bearer A', { mpin: '482916' }],
    ['GET', '/v1/sessions/s%2F1', 'Bearer S', undefined],
    ['POST', '/v1/sessions/s%2F1/challenge', 'Bearer S', { mpin: '482916' }],
    ['POST', '/v1/sessions/s%2F1/end', 'Bearer A', undefined],
    ['POST', '/v1/feedback', 'Bearer A', { session_id: 's/1', decision_seq: 12, label: 'fraud' }],
    ['GET', '/v1/users/u1/profile', 'Bearer A', undefined],
    ['GET', '/v1/stats', 'Bearer OPKEY', undefined],
    ['GET', '/v1/ops/sessions', 'Bearer OPKEY', undefined],
  ]);
  assert.equal(srv.requests[0].headers['content-type'], 'application/json');
});

test('errors are thrown as ApiError with the contract fields and the status', async (t) => {
  const srv = await startServer(t, {
    'POST /v1/auth/register': () => ({
      status: 400,
      json: { error: { code: 'invalid_request', message: 'mpin is trivial', field: 'mpin' } },
    }),
    'POST /v1/auth/login': () => ({
      status: 423,
      json: { error: { code: 'locked', message: 'too many attempts', retry_after_s: 300 } },
    }),
    'POST /v1/auth/refresh': () => ({
      status: 429,
      headers: { 'Retry-After': '7' },
      json: { error: { code: 'rate_limited', message: 'slow down' } },
    }),
    'POST /v1/auth/mpin/verify': () => ({ status: 502, text: '<html>bad gateway</html>' }),
    'GET /v1/stats': () => ({ status: 401, text: '' }),
  });
  const api = new BehaviorApi({ baseUrl: srv.url });
  const cases = [
    [() => api.register({ phone: '+1', password: 'x', mpin: '1111' }), { status: 400, code: 'invalid_request', message: 'mpin is trivial', field: 'mpin', retryAfter: undefined }],
    [() => api.login({ phone: '+1', password: 'x' }), { status: 423, code: 'locked', message: 'too many attempts', field: undefined, retryAfter: 300 }],
    [() => api.refresh('R'), { status: 429, code: 'rate_limited', message: 'slow down', field: undefined, retryAfter: 7 }],
    [() => api.verifyMpin('A', '482916'), { status: 502, code: 'internal', message: 'POST /v1/auth/mpin/verify: HTTP 502', field: undefined, retryAfter: undefined }],
    [() => api.stats('bad'), { status: 401, code: 'unauthorized', message: 'GET /v1/stats: HTTP 401', field: undefined, retryAfter: undefined }],
    [() => api.profile('A', 'nobody'), { status: 404, code: 'not_found', message: 'no such route', field: undefined, retryAfter: undefined }],
  ];
  for (const [call, want] of cases) {
    const err = await call().then(
      () => assert.fail('expected an error'),
      (e) => e,
    );
    assert.ok(err instanceof ApiError);
    assert.ok(err instanceof Error);
    const { status, code, message, field, retryAfter } = err;
    assert.deepEqual({ status, code, message, field, retryAfter }, want);
  }
});

test('no answer: network error and timeout have status 0', async (t) => {
  const srv = await startServer(t, { 'GET /v1/stats': () => ({ status: 'hang' }) });
  const slow = new BehaviorApi({ baseUrl: srv.url, timeoutMs: 50 });
  await assert.rejects(slow.stats('k'), (e) => e instanceof ApiError && e.status === 0 && e.code === 'timeout');
  const closed = new BehaviorApi({ baseUrl: 'http://127.0.0.1:1' });
  await assert.rejects(closed.stats('k'), (e) => e instanceof ApiError && e.status === 0 && e.code === 'network');
});
