// Turns anything a provider throws that is not a provider error into `internal`, in place.
// Under componentize-js 0.23.0 a thrown `Error` (a bug, a TypeError) traps the component and
// poisons its instance; guarded, it becomes an `internal` error naming the function.
//
// Pure module (no host imports): `node --test` loads it directly.

import { internal, isProviderError } from './errors.js';

/** The exported functions of `provider`. */
export const PROVIDER_FUNCTIONS = Object.freeze(['describe', 'validateConfig', 'requestedEgress', 'requestedCredentials']);
/** The methods of its `Client` resource. */
export const CLIENT_METHODS = Object.freeze([
  'validate',
  'getSecret',
  'getSecretMap',
  'getAllSecrets',
  'pushSecret',
  'deleteSecret',
  'secretExists',
]);

/**
 * `error` if it is a provider error, else `internal` with the function and the error's message.
 * @param {unknown} error
 * @param {string} where
 */
export function asProviderError(error, where) {
  if (isProviderError(error)) return error;
  const e = /** @type {any} */ (error);
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return internal(`${where} failed: ${what.length > 300 ? `${what.slice(0, 300)}…` : what}`);
}

/**
 * @param {any} target
 * @param {string} name
 * @param {string} where
 */
function wrap(target, name, where) {
  const f = target[name];
  if (typeof f !== 'function' || f.ampouleGuarded) return;
  /** @this {any} @param {any[]} args */
  const guarded = function (...args) {
    let result;
    try {
      result = f.apply(this, args);
    } catch (e) {
      throw asProviderError(e, where);
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return result.then(undefined, (/** @type {unknown} */ e) => {
        throw asProviderError(e, where);
      });
    }
    return result;
  };
  guarded.ampouleGuarded = true;
  target[name] = guarded;
}

/**
 * Guards every exported function of `provider` and every method of `provider.Client` (in place:
 * the class stays the one componentize-js knows) and returns `provider`.
 * @template {{Client: any}} P
 * @param {P} provider
 * @returns {P}
 */
export function guardProvider(provider) {
  for (const name of PROVIDER_FUNCTIONS) wrap(provider, name, name);
  const client = provider.Client;
  wrap(client, 'open', 'Client.open');
  for (const name of CLIENT_METHODS) wrap(client.prototype, name, `Client.${name}`);
  return provider;
}
