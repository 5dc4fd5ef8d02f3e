// The pure logic of the {{name}} provider: its config, the backend's URLs and how its JSON
// answers become secret values. No host imports, so `node --test` runs it (test/kv.test.js).
//
// The backend is a JSON key-value HTTP API:
//   GET {url}/v1/secrets/{key}  -> 200 {"value": <string or JSON object>}
//   GET {url}/v1/secrets        -> 200 {"keys": ["k1", ...]}
// with `Authorization: Bearer <token>` when the config has `auth`.

import { internal, invalidConfig, notFound } from '../vendor/ampoule-sdk/errors.js';
import { originOf, parseHttpUrl } from '../vendor/ampoule-sdk/egress.js';
import { secretKeyRequest, secretKeySelector } from '../vendor/ampoule-sdk/requests.js';

export const NAME = '{{name}}';
export const VERSION = '0.1.0';
/** The credential name the token is requested and read under. */
export const TOKEN = 'token';
export const PREFIX = '/v1/secrets';

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const text = (s) => new TextEncoder().encode(s);

/**
 * The store's `spec.provider.{{name}}` block:
 * `{url, auth?: {tokenSecretRef: {name, key, namespace?}}}`.
 * @param {string} json
 * @returns {{url: URL, tokenRef?: import('ampoule:host/credentials@0.1.0').SecretKeyRef}}
 */
export function parseConfig(json) {
  let config;
  try {
    config = JSON.parse(json);
  } catch (e) {
    throw invalidConfig(`${NAME}: config is not JSON: ${e.message}`);
  }
  if (!isObject(config)) throw invalidConfig(`${NAME}: config must be an object`);
  for (const field of Object.keys(config)) {
    if (field !== 'url' && field !== 'auth') throw invalidConfig(`${NAME}: unknown field ${field}`);
  }
  const url = parseHttpUrl(config.url, 'url');
  if (url.search !== '' || url.hash !== '') throw invalidConfig('url must not have a query or fragment');
  if (config.auth === undefined || config.auth === null) return { url };
  if (!isObject(config.auth)) throw invalidConfig('auth must be an object with tokenSecretRef');
  return { url, tokenRef: secretKeySelector(config.auth.tokenSecretRef, 'auth.tokenSecretRef') };
}

/** The one egress rule the config needs: GET on the origin of `url`, under /v1/secrets. */
export function egressFor(config) {
  return [originOf(config.url, { methods: ['GET'], pathPrefixes: [basePath(config.url) + PREFIX] })];
}

/** The token's Secret key, when the config has `auth`. */
export function credentialsFor(config) {
  return config.tokenRef ? [secretKeyRequest(TOKEN, config.tokenRef)] : [];
}

function basePath(url) {
  return url.pathname.replace(/\/+$/, '');
}

/**
 * `GET {url}/v1/secrets/{key}` with the key URL-encoded segment by segment: its `/` stays (the
 * sandbox refuses an encoded `/` in a path).
 */
export function secretUrl(url, key) {
  if (typeof key !== 'string' || key === '') throw invalidConfig('remoteRef.key must be set');
  return `${url.origin}${basePath(url)}${PREFIX}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** `GET {url}/v1/secrets` (the key listing). */
export function listUrl(url) {
  return `${url.origin}${basePath(url)}${PREFIX}`;
}

/** Refuses remoteRef fields this backend has no notion of. */
export function checkRef(ref) {
  if (ref.version !== undefined && ref.version !== '') {
    throw invalidConfig(`${NAME}: remoteRef.version is not supported (the backend has no versions)`);
  }
  if (ref.fetchMetadata) throw invalidConfig(`${NAME}: metadataPolicy Fetch is not supported`);
}

/** The `value` of a `GET /v1/secrets/{key}` answer: a string or a JSON object. */
export function valueOf(body, key) {
  if (!isObject(body) || !('value' in body)) throw internal(`${key}: answer has no value`);
  const { value } = body;
  if (typeof value !== 'string' && !isObject(value)) {
    throw internal(`${key}: value is neither a string nor an object`);
  }
  return value;
}

/** JSON with object keys sorted at every level: the same text whatever order the backend uses. */
export function canonicalJson(value) {
  const sorted = (v) => {
    if (Array.isArray(v)) return v.map(sorted);
    if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
    return v;
  };
  return JSON.stringify(sorted(value));
}

const encode = (v) => text(typeof v === 'string' ? v : canonicalJson(v));

/**
 * get-secret: a string value as its bytes, an object as JSON text (keys sorted); `property`
 * picks a top-level field of an object value (a string field as is, others as JSON).
 */
export function secretBytes(value, key, property) {
  if (property === undefined || property === '') return encode(value);
  if (!isObject(value) || !Object.hasOwn(value, property)) {
    throw notFound(`${key} has no property ${property}`);
  }
  return encode(value[property]);
}

/** get-secret-map: the object's fields, sorted (strings as bytes, others as JSON). */
export function secretMap(value, key, property) {
  let node = value;
  if (property !== undefined && property !== '') {
    if (!isObject(value) || !Object.hasOwn(value, property)) {
      throw notFound(`${key} has no property ${property}`);
    }
    node = value[property];
  }
  if (!isObject(node)) throw internal(`${key}: value is not a JSON object`);
  return Object.keys(node)
    .sort()
    .map((k) => [k, encode(node[k])]);
}

/** The keys of a `GET /v1/secrets` answer that match `name.regexp` (all without one), sorted. */
export function matchingKeys(body, query) {
  if (query.path !== undefined || query.tags.length > 0) {
    throw invalidConfig(`${NAME}: find supports name.regexp only`);
  }
  if (!isObject(body) || !Array.isArray(body.keys) || !body.keys.every((k) => typeof k === 'string')) {
    throw internal('the key listing has no keys');
  }
  let re;
  try {
    re = query.nameRegexp === undefined ? undefined : new RegExp(query.nameRegexp);
  } catch (e) {
    throw invalidConfig(`find.name.regexp: ${e.message}`);
  }
  return [...new Set(body.keys)].filter((k) => re === undefined || re.test(k)).sort();
}
