// ESO's `spec.provider.webhook` (apis/externalsecrets/v1/secretstore_webhook_types.go in ESO)
// read, checked and turned into what the host needs: the egress of the URL's static origin, the
// Secret keys the templates read, and the CA. Pure module (test/config.test.js).

import { internal, invalidConfig } from '../vendor/ampoule-sdk/errors.js';
import { originOf, parseHttpUrl } from '../vendor/ampoule-sdk/egress.js';
import { secretKeyRequest, secretKeySelector } from '../vendor/ampoule-sdk/requests.js';
import { fieldsOf, goJson, parseTemplate, queryEscape, render, staticPrefix } from './gotemplate.js';
import { jsonPath, parsePath } from './jsonpath.js';

export const NAME = 'webhook';
export const VERSION = '0.1.0';
/** The credential name of the `caProvider` certificate. */
export const CA = 'ca';
/** The credential name of key `key` of the Secret bound to template name `name`. */
export const secretCredential = (name, key) => `secret/${name}/${key}`;

const FIELDS = ['url', 'method', 'headers', 'auth', 'body', 'timeout', 'result', 'secrets', 'caBundle', 'caProvider'];
const REMOTE_REF = ['key', 'version', 'property', 'namespace'];
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Go's time.ParseDuration for the units a `metav1.Duration` uses; milliseconds. */
export function parseDuration(text) {
  if (typeof text !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    throw invalidConfig(`timeout ${JSON.stringify(text)} is not a duration (e.g. 5s, 1m30s)`);
  }
  const unit = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let ms = 0;
  for (const [, n, , u] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * unit[u];
  return ms;
}

function decodeBase64(text, field) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) {
    throw invalidConfig(`${field} must be base64 (a PEM bundle, base64-encoded as in ESO)`);
  }
  try {
    return atob(text.replace(/\s+/g, ''));
  } catch {
    throw invalidConfig(`${field} must be base64`);
  }
}

/**
 * Reads and checks the config. Templates are parsed here, so a store with a template ESO's docs
 * do not use fails at validation, naming the construct.
 * @param {string} json
 */
export function parseConfig(json) {
  let c;
  try {
    c = JSON.parse(json);
  } catch (e) {
    throw invalidConfig(`webhook: config is not JSON: ${e.message}`);
  }
  if (!isObject(c)) throw invalidConfig('webhook: config must be an object');
  for (const f of Object.keys(c)) if (!FIELDS.includes(f)) throw invalidConfig(`webhook: unknown field ${f}`);

  if (c.auth !== undefined && c.auth !== null) {
    if (isObject(c.auth) && 'ntlm' in c.auth) {
      throw invalidConfig('auth.ntlm is not supported by this provider (NTLM is a connection-bound handshake fetch() cannot do); put credentials in headers from secrets instead');
    }
    throw invalidConfig('auth: the only protocol ESO defines is ntlm, which is not supported');
  }
  const method = (c.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw invalidConfig(`method ${c.method} is not an HTTP method`);
  if (typeof c.url !== 'string' || c.url === '') throw invalidConfig('url must be set');

  const url = parseTemplate(c.url, 'url');
  const headers = [];
  if (c.headers !== undefined && c.headers !== null) {
    if (!isObject(c.headers)) throw invalidConfig('headers must be a map of name to template');
    for (const [name, value] of Object.entries(c.headers)) {
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw invalidConfig(`headers: ${name} is not a header name`);
      headers.push([name, parseTemplate(String(value), `headers.${name}`)]);
    }
  }
  const body = c.body ? parseTemplate(c.body, 'body') : undefined;
  if (body && (method === 'GET' || method === 'HEAD')) {
    throw invalidConfig(`body with method ${method} is not supported (fetch() sends no body with it); use POST`);
  }
  if (c.result !== undefined && !isObject(c.result)) throw invalidConfig('result must be an object');
  for (const f of Object.keys(c.result ?? {})) if (f !== 'jsonPath') throw invalidConfig(`result: unknown field ${f}`);
  const resultPath = c.result?.jsonPath ? parseTemplate(c.result.jsonPath, 'result.jsonPath') : undefined;
  const timeoutMs = c.timeout === undefined || c.timeout === null ? undefined : parseDuration(c.timeout);

  const secrets = [];
  for (const [pos, s] of (c.secrets ?? []).entries()) {
    if (!isObject(s) || typeof s.name !== 'string' || s.name === '') throw invalidConfig(`secrets[${pos}].name must be set`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s.name)) throw invalidConfig(`secrets[${pos}].name ${s.name} cannot be used in a template (letters, digits, _)`);
    if (s.name === 'remoteRef') throw invalidConfig(`secrets[${pos}].name must not be remoteRef`);
    if (secrets.some((o) => o.name === s.name)) throw invalidConfig(`secrets[${pos}].name ${s.name} is used twice`);
    if (!isObject(s.secretRef) || typeof s.secretRef.name !== 'string' || s.secretRef.name === '') {
      throw invalidConfig(`secrets[${pos}].secretRef.name must be set`);
    }
    const ref = { name: s.secretRef.name };
    if (typeof s.secretRef.namespace === 'string' && s.secretRef.namespace !== '') ref.namespace = s.secretRef.namespace;
    secrets.push({ name: s.name, ref, key: typeof s.secretRef.key === 'string' && s.secretRef.key ? s.secretRef.key : undefined });
  }

  let caPem;
  if (c.caBundle) {
    caPem = decodeBase64(c.caBundle, 'caBundle');
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw invalidConfig('caBundle holds no PEM certificate');
  }
  let caProvider;
  if (c.caProvider !== undefined && c.caProvider !== null) {
    const p = c.caProvider;
    if (!isObject(p) || (p.type !== 'Secret' && p.type !== 'ConfigMap')) {
      throw invalidConfig('caProvider.type must be Secret or ConfigMap');
    }
    caProvider = { type: p.type, ref: secretKeySelector({ name: p.name, key: p.key, namespace: p.namespace }, 'caProvider') };
  }

  const config = { method, url, urlText: c.url, headers, body, resultPath, timeoutMs, secrets, caPem, caProvider };
  config.origin = originFor(config);
  config.keys = secretKeys(config);
  return config;
}

/**
 * The origin every request goes to: the URL's static prefix must hold scheme, host and port (a
 * templated scheme, host or port cannot be granted egress in advance).
 */
function originFor(config) {
  const { prefix, whole } = staticPrefix(config.url);
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)([/?#].*)?$/s.exec(prefix);
  if (!m || (!whole && m[2] === undefined)) {
    throw invalidConfig('url: scheme, host and port must be literal (template only the path or query)');
  }
  const origin = parseHttpUrl(m[1], 'url');
  if (origin.pathname !== '/' || origin.search || origin.hash) throw internal('url: origin has a path');
  return origin;
}

/** The egress rule: the method on the URL's origin. */
export function egressFor(config) {
  return [originOf(config.origin, { methods: [config.method] })];
}

/** The keys of each template Secret the templates read, checked against the data they can see. */
function secretKeys(config) {
  const keys = new Map(config.secrets.map((s) => [s.name, new Set(s.key ? [s.key] : [])]));
  const templates = [config.url, ...config.headers.map(([, t]) => t), config.body, config.resultPath].filter(Boolean);
  for (const t of templates) {
    for (const { chain, index } of fieldsOf(t)) {
      if (chain.length === 0) {
        if (index) throw invalidConfig(`${t.what}: index over . is not supported; use .remoteRef.key or .<secret>.<key>`);
        throw invalidConfig(`${t.what}: {{ . }} prints all template data, secrets included; name a field`);
      }
      const [top, key, ...more] = chain;
      if (top === 'remoteRef') {
        if (key !== undefined && !REMOTE_REF.includes(key)) {
          throw invalidConfig(`${t.what}: .remoteRef.${key} is not one of ${REMOTE_REF.map((k) => `.remoteRef.${k}`).join(', ')}`);
        }
        if (more.length > 0) throw invalidConfig(`${t.what}: .remoteRef.${key} is a string`);
        continue;
      }
      const wanted = keys.get(top);
      if (wanted === undefined) throw invalidConfig(`${t.what}: .${top} is neither remoteRef nor the name of an entry of secrets`);
      if (more.length > 0) throw invalidConfig(`${t.what}: .${top}.${key} is a string`);
      if (key !== undefined) {
        wanted.add(key);
      } else if (index && index.length === 1 && index[0] !== undefined) {
        wanted.add(index[0]);
      } else if (!index) {
        // `.auth` alone would print the whole Secret.
        throw invalidConfig(`${t.what}: .${top} is the whole Secret; name its keys (.${top}.<key>)`);
      } else {
        throw invalidConfig(`${t.what}: index .${top} needs one literal key ("<key>") so the provider knows which key to request`);
      }
    }
  }
  return keys;
}

/** The Secret keys the templates read, and the caProvider certificate. */
export function credentialsFor(config) {
  const out = [];
  for (const s of config.secrets) {
    for (const key of [...config.keys.get(s.name)].sort()) {
      out.push(secretKeyRequest(secretCredential(s.name, key), { ...s.ref, key }));
    }
  }
  if (config.caProvider?.type === 'Secret') out.push(secretKeyRequest(CA, config.caProvider.ref));
  return out;
}

/** The remoteRef data of templates: query-escaped for the URL, raw elsewhere (as ESO). */
export function templateData(ref, namespace, secretValues, escape) {
  const e = escape ? queryEscape : (s) => s;
  return {
    remoteRef: {
      key: e(ref.key ?? ''),
      version: e(ref.version ?? ''),
      property: e(ref.property ?? ''),
      namespace: namespace ?? '',
    },
    ...secretValues,
  };
}

/** The request for one remoteRef: `{url, method, headers, body, jsonPath}`. */
export function buildRequest(config, ref, namespace, secretValues) {
  const raw = templateData(ref, namespace, secretValues, false);
  const escaped = templateData(ref, namespace, secretValues, true);
  const url = render(config.url, escaped);
  let rendered;
  try {
    rendered = new URL(url);
  } catch {
    throw invalidConfig('url: the rendered URL is not a valid URL');
  }
  if (rendered.origin !== config.origin.origin) {
    throw invalidConfig('url: the rendered URL left the origin of its literal prefix');
  }
  return {
    url,
    method: config.method,
    headers: config.headers.map(([name, t]) => [name, render(t, raw)]),
    body: config.body ? render(config.body, raw) : undefined,
    jsonPath: config.resultPath ? render(config.resultPath, raw) : '',
  };
}

const text = (s) => new TextEncoder().encode(s);

function parseJson(body) {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw internal('failed to parse response json');
  }
}

/** ESO's extractSecretData: what get-secret returns for a jsonPath result. */
export function extractSecretData(v) {
  if (typeof v === 'boolean') return text(String(v));
  if (v === null || v === undefined) return new Uint8Array();
  if (typeof v === 'number') return text(formatFixed0(v));
  if (typeof v === 'string') return text(v);
  if (Array.isArray(v)) {
    if (v.length === 0) throw internal("filter worked but didn't get any result");
    return extractSecretData(v[0]);
  }
  return text(goJson(v));
}

// strconv.FormatFloat(v, 'f', 0, 64): no exponent, rounded half to even.
function formatFixed0(v) {
  const floor = Math.floor(v);
  const frac = v - floor;
  let n = frac > 0.5 || (frac === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  if (Object.is(n, -0)) n = 0;
  return BigInt(n).toString();
}

/** get-secret: the body, or the value at the rendered jsonPath. */
export function secretFromBody(body, path) {
  if (path === '') return body;
  return extractSecretData(jsonPath(path, parseJson(body)));
}

/** get-secret-map: the JSON object (at the jsonPath; a string there is parsed as JSON). */
export function mapFromBody(body, path) {
  let doc = parseJson(body);
  if (path !== '') doc = jsonPath(path, doc);
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch {
      throw internal('failed to parse response json from jsonpath');
    }
  }
  if (!isObject(doc)) throw internal(`failed to get response (wrong type: ${Array.isArray(doc) ? 'array' : typeof doc})`);
  return Object.keys(doc)
    .sort()
    .map((k) => [k, byteValue(doc[k])]);
}

// ESO's esutils.GetByteValue.
function byteValue(v) {
  if (typeof v === 'string') return text(v);
  if (typeof v === 'number') return text(formatShortest(v));
  return text(goJson(v));
}

// strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal, never an exponent.
function formatShortest(v) {
  const s = String(v);
  if (!/e/i.test(s)) return s;
  return Number.isInteger(v) ? BigInt(v).toString() : v.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** Paths are parsed when the store is read, so a bad literal path fails validation. */
export function checkLiteralPath(config) {
  if (config.resultPath && config.resultPath.nodes.every((n) => n.type === 'text')) {
    parsePath(render(config.resultPath, {}));
  }
}

/** ESO's webhook: in a ClusterSecretStore every Secret it reads names its namespace. */
export function requireNamespaces(config) {
  for (const s of config.secrets) {
    if (s.ref.namespace === undefined) {
      throw invalidConfig(`no namespace on ClusterScoped webhook secret ${s.ref.name}`);
    }
  }
  if (config.caProvider !== undefined && config.caProvider.ref.namespace === undefined) {
    throw invalidConfig('caProvider.namespace must be set in a ClusterSecretStore');
  }
}
