// HTTP over `fetch()`, which componentize-js (StarlingMonkey) maps onto wasi:http. The host
// decides every request against the store's egress grant. This helper turns transport failures
// and a policy denial into provider errors and reads the body once, as bytes.
//
// No host imports: under `node --test` it runs on Node's own fetch.

import { errorFromStatus, invalidConfig, unavailable, forbidden, parseRetryAfter } from './errors.js';

/** Bodies larger than this are refused (the host has its own, usually lower, cap). */
export const MAX_BODY = 16 << 20;

/**
 * @typedef {object} HttpResponse
 * @property {number} status
 * @property {Headers} headers
 * @property {Uint8Array} body
 * @property {boolean} ok 2xx
 * @property {() => string} text the body as UTF-8
 * @property {() => any} json the body as JSON (internal error when it is not)
 * @property {() => number | undefined} retryAfter `Retry-After` in seconds
 */

/**
 * The provider error for a rejected `fetch()`: unavailable (transient, retried with backoff),
 * or forbidden when the message names a denial. StarlingMonkey (componentize-js 0.23.0) rejects
 * every wasi:http failure with the same `TypeError: NetworkError when attempting to fetch
 * resource.`, so a request outside the store's egress grant looks like a refused connection
 * from inside the component; the operator's log names the denied request.
 * @param {unknown} e
 * @param {string} context
 */
export function transportError(e, context) {
  const message = String(/** @type {any} */ (e)?.message ?? e);
  if (/denied|not permitted|forbidden/i.test(message)) {
    return forbidden(`${context}: request denied by the sandbox egress policy (${message})`);
  }
  if (/timeout|timed out|abort/i.test(message) || /** @type {any} */ (e)?.name === 'TimeoutError') {
    return unavailable(`${context}: request timed out`);
  }
  if (/NetworkError/.test(message)) {
    return unavailable(`${context}: ${message} (the server is unreachable, or the request is outside the store's egress grant)`);
  }
  return unavailable(`${context}: ${message}`);
}

/**
 * Sends one request. Resolves to the response whatever its status (redirects are not followed:
 * a 3xx comes back as is); rejects with a provider error only for transport failures.
 * @param {string} url
 * @param {{method?: string, headers?: Record<string, string> | Array<[string, string]>,
 *          body?: string | Uint8Array, timeoutMs?: number, context?: string}} [options]
 * @returns {Promise<HttpResponse>}
 */
export async function request(url, { method = 'GET', headers = {}, body, timeoutMs, context } = {}) {
  const what = context ?? `${method} ${safeUrl(url)}`;
  /** @type {RequestInit} */
  const init = { method, headers, redirect: 'manual' };
  if (body !== undefined && method !== 'GET' && method !== 'HEAD') init.body = /** @type {BodyInit} */ (body);
  if (timeoutMs !== undefined && typeof AbortSignal?.timeout === 'function') {
    init.signal = AbortSignal.timeout(timeoutMs);
  }
  let response;
  let bytes;
  try {
    response = await fetch(url, init);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    if (e instanceof TypeError && /invalid url|failed to parse url/i.test(e.message)) {
      throw invalidConfig(`${what}: invalid URL`);
    }
    throw transportError(e, what);
  }
  if (bytes.length > MAX_BODY) throw unavailable(`${what}: response too large`);
  return {
    status: response.status,
    headers: response.headers,
    body: bytes,
    ok: response.status >= 200 && response.status < 300,
    text: () => new TextDecoder().decode(bytes),
    json: () => parseJson(bytes, what),
    retryAfter: () => parseRetryAfter(response.headers.get('retry-after')),
  };
}

/**
 * {@link request}, then a non-2xx status becomes a provider error via `errorFromStatus`.
 * @param {string} url
 * @param {Parameters<typeof request>[1]} [options]
 * @returns {Promise<HttpResponse>}
 */
export async function requestOk(url, options = {}) {
  const response = await request(url, options);
  if (!response.ok) {
    const what = options.context ?? `${options.method ?? 'GET'} ${safeUrl(url)}`;
    throw errorFromStatus(response.status, response.body, response.headers.get('retry-after'), what);
  }
  return response;
}

/**
 * The URL without its query and fragment, for messages (queries may carry tokens).
 * @param {string} url
 */
export function safeUrl(url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

/**
 * @param {Uint8Array} bytes
 * @param {string} what
 */
function parseJson(bytes, what) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // Never the body itself: it may be secret material.
    throw { tag: 'internal', val: `${what}: response is not JSON` };
  }
}
