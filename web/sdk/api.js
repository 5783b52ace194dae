// REST helpers for the wire contract v1 (shared PROTOCOL.md): a thin fetch wrapper, one method per endpoint.
// Dependency-free ES module, for browsers and Node 20.
//
//   import { BehaviorApi, ApiError } from '/sdk/api.js';
//   const api = new BehaviorApi();
//   const { access_token } = await api.login({ phone, password });
//   const session = await api.verifyMpin(access_token, '482916');
//
// Every non-2xx answer is thrown as an ApiError carrying the contract's {code, message, field}, the HTTP status,
// and retryAfter (seconds) where the server gave one.

/** Error codes used when the server did not send the contract's error body. */
const STATUS_CODES = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  423: 'locked',
  429: 'rate_limited',
  500: 'internal',
  503: 'unavailable',
};

/** A failed request: the server's error object, or code 'network' / 'timeout' (status 0) when none came back. */
export class ApiError extends Error {
  /**
   * @param {{status: number, code: string, message?: string, field?: string, retryAfter?: number, body?: any}} o
   */
  constructor({ status, code, message, field, retryAfter, body }) {
    super(message || code);
    this.name = 'ApiError';
    /** HTTP status; 0 when the request got no answer. */
    this.status = status;
    /** The contract's snake_case code (invalid_request, unauthorized, locked, ...). */
    this.code = code;
    /** The field that failed validation, when the server named one. */
    this.field = field;
    /** Seconds to wait before trying again (423 retry_after_s, 429 Retry-After), when given. */
    this.retryAfter = retryAfter;
    /** The parsed error body, as sent. */
    this.body = body;
  }
}

/**
 * One client of the REST API.
 */
export class BehaviorApi {
  #baseUrl;
  #fetch;
  #timeoutMs;

  /**
   * @param {{baseUrl?: string, fetch?: typeof fetch, timeoutMs?: number}} [o]
   *   baseUrl: origin of the node ('' = same origin, the default); fetch: default globalThis.fetch;
   *   timeoutMs: deadline of each request, default 10000.
   */
  constructor({ baseUrl = '', fetch: fetchFn, timeoutMs = 10000 } = {}) {
    const f = fetchFn ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch function: pass options.fetch');
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    // Called without a receiver: browsers refuse window.fetch called on another object ("Illegal invocation").
    this.#fetch = (url, init) => f(url, init);
    this.#timeoutMs = timeoutMs;
  }

  async #request(method, path, { token, body } = {}) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let timer = null;
    if (typeof AbortController === 'function') {
      const ctl = new AbortController();
      init.signal = ctl.signal;
      timer = setTimeout(() => ctl.abort(), this.#timeoutMs);
    }
    let res;
    let text;
    try {
      res = await this.#fetch(this.#baseUrl + path, init);
      text = await res.text();
    } catch (err) {
      const timedOut = err?.name === 'AbortError';
      throw new ApiError({
        status: 0,
        code: timedOut ? 'timeout' : 'network',
        message: timedOut ? `${method} ${path}: no answer within ${this.#timeoutMs} ms` : `${method} ${path}: ${err?.message ?? err}`,
      });
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (res.ok) return data;

    const e = data && typeof data.error === 'object' && data.error ? data.error : {};
    let retryAfter;
    const ra = e.retry_after_s ?? data?.retry_after_s ?? res.headers?.get?.('Retry-After');
    if (ra != null && ra !== '' && Number.isFinite(Number(ra))) retryAfter = Number(ra);
    throw new ApiError({
      status: res.status,
      code: typeof e.code === 'string' ? e.code : STATUS_CODES[res.status] ?? (res.status >= 500 ? 'internal' : 'http_error'),
      message: typeof e.message === 'string' ? e.message : `${method} ${path}: HTTP ${res.status}`,
      field: typeof e.field === 'string' ? e.field : undefined,
      retryAfter,
      body: data,
    });
  }

  /** POST /v1/auth/register. @returns {Promise<{user_id: string}>} */
  register({ phone, password, mpin, name }) {
    const body = { phone, password, mpin };
    if (name) body.name = name;
    return this.#request('POST', '/v1/auth/register', { body });
  }

  /** POST /v1/auth/login. @returns {Promise<{user_id, access_token, refresh_token, expires_in}>} */
  login({ phone, password, deviceId }) {
    const body = { phone, password };
    if (deviceId) body.device_id = deviceId;
    return this.#request('POST', '/v1/auth/login', { body });
  }

  /** POST /v1/auth/refresh: the old refresh token stops working. Same shape as login. */
  refresh(refreshToken) {
    return this.#request('POST', '/v1/auth/refresh', { body: { refresh_token: refreshToken } });
  }

  /** POST /v1/auth/logout: every token of that login stops working. */
  async logout(accessToken) {
    await this.#request('POST', '/v1/auth/logout', { token: accessToken });
  }

  /**
   * POST /v1/auth/mpin/verify: starts a behavioral session.
   * @returns {Promise<{session_id: string, session_token: string, expires_at: string, ws_url: string}>}
   */
  verifyMpin(accessToken, mpin) {
    return this.#request('POST', '/v1/auth/mpin/verify', { token: accessToken, body: { mpin } });
  }

  /** GET /v1/sessions/{id}, with the access or the session token. */
  sessionStatus(token, sessionId) {
    return this.#request('GET', `/v1/sessions/${encodeURIComponent(sessionId)}`, { token });
  }

  /** POST /v1/sessions/{id}/challenge: answers a challenge decision with the MPIN. @returns {Promise<{state}>} */
  answerChallenge(sessionToken, sessionId, mpin) {
    return this.#request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/challenge`, {
      token: sessionToken,
      body: { mpin },
    });
  }

  /** POST /v1/sessions/{id}/end (idempotent). @returns the summary {session_id, events, samples, decisions, final_risk, ended_at} */
  endSession(token, sessionId) {
    return this.#request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/end`, { token });
  }

  /**
   * POST /v1/feedback with the owner's access token or the operator key.
   * @param {string} token
   * @param {{sessionId: string, decisionSeq?: number, label: 'genuine'|'fraud'}} f
   * @returns {Promise<{feedback_id: string}>}
   */
  feedback(token, { sessionId, decisionSeq, label }) {
    const body = { session_id: sessionId, label };
    if (decisionSeq !== undefined && decisionSeq !== null) body.decision_seq = decisionSeq;
    return this.#request('POST', '/v1/feedback', { token, body });
  }

  /** GET /v1/users/{id}/profile with the owner's access token or the operator key. */
  profile(token, userId) {
    return this.#request('GET', `/v1/users/${encodeURIComponent(userId)}/profile`, { token });
  }

  /** GET /v1/stats with the operator key. */
  stats(operatorKey) {
    return this.#request('GET', '/v1/stats', { token: operatorKey });
  }

  /** GET /v1/ops/sessions with the operator key (project extension): {sessions: [...]}. */
  opsSessions(operatorKey) {
    return this.#request('GET', '/v1/ops/sessions', { token: operatorKey });
  }
}
