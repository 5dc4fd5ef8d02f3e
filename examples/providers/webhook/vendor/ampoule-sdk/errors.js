// Provider errors: the `provider-error` variant of wit/provider.wit as componentize-js wants it.
// A function of a `result<T, provider-error>` export throws one of these `{tag, val}` objects;
// anything else it throws reaches the host as a trap.
//
// Pure module (no host imports): `node --test` loads it directly.

/** @typedef {import('ampoule:provider/types@0.1.0').ProviderError} ProviderError */
/** @typedef {import('ampoule:provider/types@0.1.0').RateLimit} RateLimit */

/** The tags of `provider-error`, in WIT order. */
export const ERROR_KINDS = Object.freeze([
  'not-found',
  'unauthorized',
  'forbidden',
  'invalid-config',
  'rate-limited',
  'unavailable',
  'internal',
]);

/**
 * @param {ProviderError['tag']} tag
 * @param {string} message
 * @returns {ProviderError}
 */
function make(tag, message) {
  return /** @type {ProviderError} */ ({ tag, val: String(message) });
}

/** The secret does not exist (drives ESO's deletionPolicy). @param {string} message @returns {ProviderError} */
export const notFound = (message) => make('not-found', message);
/** The backend refused the credentials. @param {string} message @returns {ProviderError} */
export const unauthorized = (message) => make('unauthorized', message);
/** The credentials are valid but not allowed this. @param {string} message @returns {ProviderError} */
export const forbidden = (message) => make('forbidden', message);
/** The store's config is wrong; not retried until the spec changes. @param {string} message @returns {ProviderError} */
export const invalidConfig = (message) => make('invalid-config', message);
/** Transient: retried with backoff. @param {string} message @returns {ProviderError} */
export const unavailable = (message) => make('unavailable', message);
/** A bug or an unexpected backend answer. @param {string} message @returns {ProviderError} */
export const internal = (message) => make('internal', message);

/**
 * The backend asks to slow down; `retryAfterSecs` (whole seconds) when it said how long.
 * @param {string} message
 * @param {number} [retryAfterSecs]
 * @returns {ProviderError}
 */
export function rateLimited(message, retryAfterSecs) {
  /** @type {RateLimit} */
  const val = { message: String(message) };
  if (retryAfterSecs !== undefined && Number.isInteger(retryAfterSecs) && retryAfterSecs >= 0 && retryAfterSecs <= 0xffffffff) {
    val.retryAfterSecs = retryAfterSecs;
  }
  return { tag: 'rate-limited', val };
}

/**
 * Whether `value` is a provider error (a `{tag, val}` with a known tag).
 * @param {unknown} value
 * @returns {value is ProviderError}
 */
export function isProviderError(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    ERROR_KINDS.includes(/** @type {any} */ (value).tag) &&
    'val' in value
  );
}

/**
 * The message of a provider error (`rate-limited` keeps it in `val.message`).
 * @param {ProviderError} error
 * @returns {string}
 */
export function errorMessage(error) {
  return error.tag === 'rate-limited' ? error.val.message : error.val;
}

/**
 * A `Retry-After` header value in whole seconds, when it is a non-negative integer (the
 * HTTP-date form is ignored).
 * @param {string | null | undefined} header
 * @returns {number | undefined}
 */
export function parseRetryAfter(header) {
  if (typeof header !== 'string') return undefined;
  const text = header.trim();
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const secs = Number(text);
  return secs <= 0xffffffff ? secs : undefined;
}

/** Longest excerpt of an error body kept in a message. */
export const BODY_EXCERPT = 160;

/**
 * A short single-line excerpt of an error response body ('' for none or binary).
 * @param {string | Uint8Array | null | undefined} body
 * @returns {string}
 */
export function bodyExcerpt(body) {
  let text = body;
  if (body instanceof Uint8Array) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return '';
    }
  }
  if (typeof text !== 'string') return '';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > BODY_EXCERPT ? `${line.slice(0, BODY_EXCERPT)}…` : line;
}

/**
 * Maps a non-success HTTP status of a backend to the error the host understands, as the Rust
 * SDK's `errors::from_status`: 401 unauthorized, 403 forbidden, 404 not-found, 429 rate-limited
 * (`retryAfter`: seconds or the raw `Retry-After` header), other 4xx internal, anything else
 * unavailable. The message carries `context` and a short excerpt of an error `body` (a backend's
 * error text, never a success body: do not pass one that may hold secret material).
 * @param {number} status
 * @param {string | Uint8Array | null} [body]
 * @param {number | string | null} [retryAfter]
 * @param {string} [context] what was being done, e.g. `GET /v1/secrets/db`
 * @returns {ProviderError}
 */
export function errorFromStatus(status, body, retryAfter, context) {
  const excerpt = bodyExcerpt(body);
  const message = `${context ? `${context}: ` : ''}HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  switch (status) {
    case 401:
      return unauthorized(message);
    case 403:
      return forbidden(message);
    case 404:
      return notFound(message);
    case 429: {
      const secs = typeof retryAfter === 'number' ? retryAfter : parseRetryAfter(retryAfter);
      return rateLimited(message, secs);
    }
    default:
      return status >= 400 && status < 500 ? internal(message) : unavailable(message);
  }
}
