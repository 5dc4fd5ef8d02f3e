// Wrappers over the `ampoule:host/*` imports of the world (wit/deps/ampoule-host/host.wit):
// credentials, cache, TLS and the log sink. This module imports the host interfaces, so it runs
// only inside a component; pure helpers live in errors.js, egress.js, requests.js and http.js.

import * as hostCache from 'ampoule:host/cache@0.1.0';
import * as hostCredentials from 'ampoule:host/credentials@0.1.0';
import * as hostLog from 'ampoule:host/log@0.1.0';
import * as hostTls from 'ampoule:host/tls@0.1.0';
import { invalidConfig } from './errors.js';

/** @typedef {import('ampoule:host/credentials@0.1.0').ConfigMapKeyRef} ConfigMapKeyRef */
/** @typedef {import('ampoule:host/credentials@0.1.0').ControllerIdentity} ControllerIdentity */
/** @typedef {import('ampoule:host/log@0.1.0').Level} Level */

// An `err` of an import's `result` arrives as a thrown value: the string itself or, as jco
// does it, an Error whose `payload` is the string.
/** @param {any} e */
const reason = (e) => String(e?.payload ?? e?.message ?? e);

/**
 * Credential material the host resolved for a name from `requested-credentials`.
 * @param {string} name
 * @returns {Uint8Array}
 */
export function credential(name) {
  try {
    return hostCredentials.get(name);
  } catch (e) {
    throw invalidConfig(`credential ${name}: ${reason(e)}`);
  }
}

/**
 * {@link credential} as UTF-8 text with surrounding whitespace removed (tokens in Secrets often
 * end with a newline).
 * @param {string} name
 * @returns {string}
 */
export function credentialText(name) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(credential(name)).trim();
  } catch (/** @type {any} */ e) {
    if (e?.tag) throw e;
    throw invalidConfig(`credential ${name} is not UTF-8`);
  }
}

/**
 * A ServiceAccount annotation requested with `serviceAccountAnnotationRequest`: `undefined` when
 * absent or empty (ESO treats both alike).
 * @param {string} name
 * @returns {string | undefined}
 */
export function annotation(name) {
  const value = credentialText(name);
  return value === '' ? undefined : value;
}

/**
 * Adds a ConfigMap key to the material of this config, under `name` (read it with
 * {@link credential}). Only from `requested-credentials`; anywhere else the host refuses.
 * @param {string} name
 * @param {ConfigMapKeyRef} source
 */
export function requestConfigMap(name, source) {
  try {
    hostCredentials.requestConfigMap(name, source);
  } catch (e) {
    throw invalidConfig(`config map ${name}: ${reason(e)}`);
  }
}

/**
 * Adds the operator's own identity under `name`. Only from `requested-credentials`; resolved only
 * where the store's ProviderClass sets `spec.credentials.allowControllerIdentity: true`.
 * @param {string} name
 * @param {ControllerIdentity} source
 */
export function requestControllerIdentity(name, source) {
  try {
    hostCredentials.requestControllerIdentity(name, source);
  } catch (e) {
    throw invalidConfig(`controller identity ${name}: ${reason(e)}`);
  }
}

/** The host's cache, scoped to this store and this plugin's digest (e.g. for auth tokens). */
export const cache = {
  /**
   * @param {string} key
   * @returns {Uint8Array | undefined}
   */
  get(key) {
    return hostCache.get(key);
  },
  /**
   * Stores `value` for `ttlSeconds`; returns the host's reason when a cap refused it, else
   * `undefined` (a cache is an optimisation: callers usually go on without it).
   * @param {string} key
   * @param {Uint8Array | string} value
   * @param {number} ttlSeconds
   * @returns {string | undefined}
   */
  set(key, value, ttlSeconds) {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    try {
      hostCache.set(key, bytes, ttlSeconds);
      return undefined;
    } catch (e) {
      return reason(e);
    }
  },
  /** @param {string} key */
  delete(key) {
    hostCache.delete(key);
  },
};

/** @param {Uint8Array | string} pem */
const bytesOf = (pem) => (typeof pem === 'string' ? new TextEncoder().encode(pem) : pem);

/** TLS settings of this store's HTTPS egress; they never widen the egress the host granted. */
export const tls = {
  /**
   * Trust exactly these PEM CA certificates instead of the web PKI roots (ESO's `caBundle`).
   * @param {Uint8Array | string} caPem
   */
  setTrust(caPem) {
    try {
      hostTls.setTrust(bytesOf(caPem));
    } catch (e) {
      throw invalidConfig(`CA bundle refused: ${reason(e)}`);
    }
  },
  /**
   * Present this PEM client certificate chain (leaf first) and PEM private key.
   * @param {Uint8Array | string} certPem
   * @param {Uint8Array | string} keyPem
   */
  setClientIdentity(certPem, keyPem) {
    try {
      hostTls.setClientIdentity(bytesOf(certPem), bytesOf(keyPem));
    } catch (e) {
      throw invalidConfig(`client certificate refused: ${reason(e)}`);
    }
  },
};

/**
 * The host's log sink. Messages are truncated and capped by the host. Never log secret values.
 */
export const log = {
  /** @param {string} message */
  trace: (message) => hostLog.log('trace', String(message)),
  /** @param {string} message */
  debug: (message) => hostLog.log('debug', String(message)),
  /** @param {string} message */
  info: (message) => hostLog.log('info', String(message)),
  /** @param {string} message */
  warn: (message) => hostLog.log('warn', String(message)),
  /** @param {string} message */
  error: (message) => hostLog.log('error', String(message)),
};
