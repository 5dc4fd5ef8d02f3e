// Egress rules (`egress-rule` of wit/provider.wit) for `requested-egress`.
//
// Pure module (no host imports): `node --test` loads it directly.

import { invalidConfig } from './errors.js';

/** @typedef {import('ampoule:provider/types@0.1.0').EgressRule} EgressRule */

/** @type {Record<string, number>} */
const DEFAULT_PORTS = { 'http:': 80, 'https:': 443 };

/**
 * Parses an `http(s)://` URL of a store config; throws invalid-config naming `field` otherwise.
 * @param {string} url
 * @param {string} [field] the config field, for the message
 * @returns {URL}
 */
export function parseHttpUrl(url, field = 'url') {
  if (typeof url !== 'string' || url === '') throw invalidConfig(`${field} must be set`);
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidConfig(`${field} is not a valid URL`);
  }
  if (!(parsed.protocol in DEFAULT_PORTS)) {
    throw invalidConfig(`${field}: unsupported scheme ${parsed.protocol.slice(0, -1)} (http or https)`);
  }
  if (parsed.hostname === '') throw invalidConfig(`${field} has no host`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw invalidConfig(`${field} must not carry credentials`);
  }
  return parsed;
}

/**
 * The egress rule granting exactly the origin (scheme, host, port) of `url`: its explicit port or
 * the scheme's default. `methods` (e.g. `['GET']`) and `pathPrefixes` (e.g. `['/v1/secrets']`)
 * narrow it further; empty means any.
 * @param {string | URL} url
 * @param {{methods?: string[], pathPrefixes?: string[], field?: string}} [options]
 * @returns {EgressRule}
 */
export function originOf(url, { methods = [], pathPrefixes = [], field = 'url' } = {}) {
  const parsed = url instanceof URL ? url : parseHttpUrl(url, field);
  const scheme = parsed.protocol.slice(0, -1);
  const port = parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  // URL keeps IPv6 literals bracketed; the host's rule wants the bare address.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return {
    schemes: [scheme],
    host,
    ports: Uint16Array.of(port),
    methods: methods.map((m) => m.toUpperCase()),
    pathPrefixes: [...pathPrefixes],
  };
}
