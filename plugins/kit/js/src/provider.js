// The {{name}} provider: a client of a JSON key-value HTTP API, as an Ampoule plugin for the
// `ampoule:provider/secret-provider` world (wit/provider.wit). Its pure logic is in ./kv.js;
// this module wires it to the host: credentials, HTTP (fetch over wasi:http) and the exports.

import { credentialText, forbidden, guardProvider, log, requestOk } from '../vendor/ampoule-sdk/index.js';
import {
  NAME,
  TOKEN,
  VERSION,
  checkRef,
  credentialsFor,
  egressFor,
  listUrl,
  matchingKeys,
  parseConfig,
  secretBytes,
  secretMap,
  secretUrl,
  valueOf,
} from './kv.js';

/** @typedef {import('ampoule:provider/types@0.1.0').SecretRef} SecretRef */
/** @typedef {import('ampoule:provider/types@0.1.0').FindQuery} FindQuery */
/** What the component must export (`export provider` of the world), for type checkers. */
/** @typedef {Omit<typeof import('ampoule:provider/provider@0.1.0'), 'Client'> & {Client: unknown}} ProviderExports */

class Client {
  #url;
  #headers;

  constructor(url, token) {
    this.#url = url;
    this.#headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  }

  /**
   * @param {string} config
   * @param {import('ampoule:provider/types@0.1.0').StoreContext} _ctx
   */
  static open(config, _ctx) {
    const parsed = parseConfig(config);
    return new Client(parsed.url, parsed.tokenRef ? credentialText(TOKEN) : undefined);
  }

  async #get(url, what) {
    const response = await requestOk(url, { headers: this.#headers, context: `${NAME}: ${what}` });
    return response.json();
  }

  async #value(key) {
    return valueOf(await this.#get(secretUrl(this.#url, key), `GET ${key}`), key);
  }

  /** Live check: the key listing answers with these credentials. */
  async validate() {
    await this.#get(listUrl(this.#url), 'list keys');
    return 'valid';
  }

  /** @param {SecretRef} ref */
  async getSecret(ref) {
    checkRef(ref);
    return secretBytes(await this.#value(ref.key), ref.key, ref.property);
  }

  /** @param {SecretRef} ref */
  async getSecretMap(ref) {
    checkRef(ref);
    return secretMap(await this.#value(ref.key), ref.key, ref.property);
  }

  /** @param {FindQuery} query */
  async getAllSecrets(query) {
    const keys = matchingKeys(await this.#get(listUrl(this.#url), 'list keys'), query);
    log.debug(`${NAME}: find matched ${keys.length} keys`);
    const out = [];
    for (const key of keys) out.push([key, secretBytes(await this.#value(key), key)]);
    return out;
  }

  pushSecret(_req) {
    throw forbidden(`${NAME} is read-only`);
  }

  deleteSecret(_remoteKey, _property) {
    throw forbidden(`${NAME} is read-only`);
  }

  secretExists(_remoteKey, _property) {
    throw forbidden(`${NAME} is read-only`);
  }
}

/** @satisfies {ProviderExports} */
export const provider = guardProvider({
  Client,

  describe() {
    return { name: NAME, version: VERSION, capabilities: { read: true }, configSchema: undefined };
  },

  validateConfig(config) {
    parseConfig(config);
    return [];
  },

  requestedEgress(config, _settings) {
    return egressFor(parseConfig(config));
  },

  requestedCredentials(config) {
    return credentialsFor(parseConfig(config));
  },
});
