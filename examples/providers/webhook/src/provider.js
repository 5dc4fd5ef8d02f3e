// ESO's `webhook` provider (`spec.provider.webhook`) as an Ampoule plugin in JavaScript, built
// from the kit's JS template. Behaviour follows ESO's providers/v1/webhook: url, headers and body
// are Go templates over `.remoteRef.{key,version,property,namespace}` and each `secrets[].name`
// (a map of that Secret's keys); `result.jsonPath` picks the value; a 404 is not-found.
// The logic is in ./config.js, ./gotemplate.js and ./jsonpath.js; this module does the I/O.
//
// Left out: PushSecret/DeleteSecret (ESO's webhook can push; this plugin is read-only),
// auth.ntlm (refused), and the `external-secrets.io/type: webhook` label check on template
// Secrets (the host resolves Secret keys; it does not show the plugin labels).

import {
  credential,
  forbidden,
  guardProvider,
  invalidConfig,
  request,
  requestConfigMap,
  requestOk,
  tls,
} from '../vendor/ampoule-sdk/index.js';
import {
  CA,
  NAME,
  VERSION,
  buildRequest,
  checkLiteralPath,
  credentialsFor,
  egressFor,
  mapFromBody,
  parseConfig,
  requireNamespaces,
  secretCredential,
  secretFromBody,
} from './config.js';

/** @typedef {import('ampoule:provider/types@0.1.0').SecretRef} SecretRef */
/** What the component must export (`export provider` of the world), for type checkers. */
/** @typedef {Omit<typeof import('ampoule:provider/provider@0.1.0'), 'Client'> & {Client: unknown}} ProviderExports */

function utf8(bytes, what) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidConfig(`${what} is not UTF-8`);
  }
}

class Client {
  #config;
  #namespace;
  #secrets;

  constructor(config, namespace, secrets) {
    this.#config = config;
    this.#namespace = namespace;
    this.#secrets = secrets;
  }

  /**
   * @param {string} json
   * @param {import('ampoule:provider/types@0.1.0').StoreContext} ctx
   */
  static open(json, ctx) {
    const config = parseConfig(json);
    if (ctx.kind === 'cluster-secret-store') requireNamespaces(config);
    const secrets = {};
    for (const s of config.secrets) {
      secrets[s.name] = {};
      for (const key of config.keys.get(s.name)) {
        secrets[s.name][key] = utf8(credential(secretCredential(s.name, key)), `secret ${s.ref.name} key ${key}`);
      }
    }
    if (config.caPem !== undefined) tls.setTrust(config.caPem);
    else if (config.caProvider !== undefined) tls.setTrust(credential(CA));
    return new Client(config, ctx.callerNamespace ?? ctx.storeNamespace, secrets);
  }

  async #call(ref) {
    const req = buildRequest(this.#config, ref, this.#namespace, this.#secrets);
    const response = await requestOk(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      timeoutMs: this.#config.timeoutMs,
      context: `${NAME}: ${req.method} ${ref.key}`,
    });
    return { body: response.body, jsonPath: req.jsonPath };
  }

  /** ESO checks that the URL's host accepts connections; here: any HTTP answer from its origin. */
  async validate() {
    if (this.#config.method !== 'GET') return 'unknown';
    await request(`${this.#config.origin.origin}/`, { timeoutMs: this.#config.timeoutMs, context: `${NAME}: validate` });
    return 'valid';
  }

  /** @param {SecretRef} ref */
  async getSecret(ref) {
    if (ref.fetchMetadata) throw invalidConfig('webhook: metadataPolicy Fetch is not supported');
    const { body, jsonPath } = await this.#call(ref);
    return secretFromBody(body, jsonPath);
  }

  /** @param {SecretRef} ref */
  async getSecretMap(ref) {
    if (ref.fetchMetadata) throw invalidConfig('webhook: metadataPolicy Fetch is not supported');
    const { body, jsonPath } = await this.#call(ref);
    return mapFromBody(body, jsonPath);
  }

  getAllSecrets(_query) {
    throw invalidConfig('webhook: find (dataFrom.find) is not implemented, as in ESO');
  }

  pushSecret(_req) {
    throw forbidden('webhook: this plugin is read-only (PushSecret is not supported)');
  }

  deleteSecret(_remoteKey, _property) {
    throw forbidden('webhook: this plugin is read-only (PushSecret is not supported)');
  }

  secretExists(_remoteKey, _property) {
    throw forbidden('webhook: this plugin is read-only (PushSecret is not supported)');
  }
}

/** @satisfies {ProviderExports} */
export const provider = guardProvider({
  Client,

  describe() {
    return { name: NAME, version: VERSION, capabilities: { read: true }, configSchema: undefined };
  },

  validateConfig(json) {
    checkLiteralPath(parseConfig(json));
    return [];
  },

  requestedEgress(json, _settings) {
    return egressFor(parseConfig(json));
  },

  requestedCredentials(json) {
    const config = parseConfig(json);
    if (config.caPem === undefined && config.caProvider?.type === 'ConfigMap') {
      requestConfigMap(CA, config.caProvider.ref);
    }
    return credentialsFor(config);
  },
});
