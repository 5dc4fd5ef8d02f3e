// Credential requests (`credential-request` of wit/deps/ampoule-host/host.wit) for
// `requested-credentials`. The host resolves them with ESO's namespace rules before
// `client.open`; read the material with `credential(name)` from ./host.js.
//
// Pure module (no host imports): `node --test` loads it directly.

import { invalidConfig } from './errors.js';

/** @typedef {import('ampoule:host/credentials@0.1.0').CredentialRequest} CredentialRequest */
/** @typedef {import('ampoule:host/credentials@0.1.0').SecretKeyRef} SecretKeyRef */

/** @param {unknown} v */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Reads ESO's `SecretKeySelector` (`{name, key, namespace?}`) from a config; throws
 * invalid-config naming `field` when it is not one.
 * @param {unknown} selector
 * @param {string} field e.g. `auth.tokenSecretRef`
 * @returns {SecretKeyRef}
 */
export function secretKeySelector(selector, field) {
  if (!isObject(selector)) throw invalidConfig(`${field} must be an object with name and key`);
  const { name, key, namespace } = /** @type {Record<string, unknown>} */ (selector);
  if (typeof name !== 'string' || name === '') throw invalidConfig(`${field}.name must be set`);
  if (typeof key !== 'string' || key === '') throw invalidConfig(`${field}.key must be set`);
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    throw invalidConfig(`${field}.namespace must be a string`);
  }
  /** @type {SecretKeyRef} */
  const ref = { name, key };
  if (typeof namespace === 'string' && namespace !== '') ref.namespace = namespace;
  return ref;
}

/**
 * A request for one key of a Kubernetes Secret, under `name`.
 * @param {string} name
 * @param {SecretKeyRef} ref
 * @returns {CredentialRequest}
 */
export function secretKeyRequest(name, ref) {
  return { name, source: { tag: 'secret-key', val: ref } };
}

/**
 * A request for a ServiceAccount token (TokenRequest) for `audiences`, under `name`.
 * @param {string} name
 * @param {{name: string, namespace?: string, audiences?: string[]}} account
 * @returns {CredentialRequest}
 */
export function serviceAccountTokenRequest(name, { name: account, namespace, audiences = [] }) {
  /** @type {import('ampoule:host/credentials@0.1.0').ServiceAccountRef} */
  const val = { name: account, audiences: [...audiences] };
  if (namespace) val.namespace = namespace;
  return { name, source: { tag: 'service-account-token', val } };
}

/**
 * A request for one annotation of a ServiceAccount, under `name`.
 * @param {string} name
 * @param {{name: string, namespace?: string, key: string}} account
 * @returns {CredentialRequest}
 */
export function serviceAccountAnnotationRequest(name, { name: account, namespace, key }) {
  /** @type {import('ampoule:host/credentials@0.1.0').ServiceAccountAnnotationRef} */
  const val = { name: account, key };
  if (namespace) val.namespace = namespace;
  return { name, source: { tag: 'service-account-annotation', val } };
}
