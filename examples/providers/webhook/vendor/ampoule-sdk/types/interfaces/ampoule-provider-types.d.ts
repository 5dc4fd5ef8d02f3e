/// <reference path="./ampoule-host-credentials.d.ts" />
declare module 'ampoule:provider/types@0.1.0' {
  export type CredentialRequest = import('ampoule:host/credentials@0.1.0').CredentialRequest;
  export interface RateLimit {
    message: string,
    retryAfterSecs?: number,
  }
  /**
   * Errors map onto ESO conditions, metrics and backoff. `not-found` drives deletionPolicy.
   */
  export type ProviderError = ProviderErrorNotFound | ProviderErrorUnauthorized | ProviderErrorForbidden | ProviderErrorInvalidConfig | ProviderErrorRateLimited | ProviderErrorUnavailable | ProviderErrorInternal;
  export interface ProviderErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  export interface ProviderErrorUnauthorized {
    tag: 'unauthorized',
    val: string,
  }
  export interface ProviderErrorForbidden {
    tag: 'forbidden',
    val: string,
  }
  /**
   * Do not retry until the store's spec changes.
   */
  export interface ProviderErrorInvalidConfig {
    tag: 'invalid-config',
    val: string,
  }
  export interface ProviderErrorRateLimited {
    tag: 'rate-limited',
    val: RateLimit,
  }
  /**
   * Transient: retried with backoff.
   */
  export interface ProviderErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
  export interface ProviderErrorInternal {
    tag: 'internal',
    val: string,
  }
  /**
   * `remoteRef` of a `data[]` entry or a `dataFrom[].extract`.
   */
  export interface SecretRef {
    key: string,
    property?: string,
    version?: string,
    /**
     * Read the secret's metadata (tags, labels) instead of its value.
     */
    fetchMetadata: boolean,
  }
  /**
   * `dataFrom[].find`.
   */
  export interface FindQuery {
    path?: string,
    /**
     * Go RE2 syntax, as in ESO.
     */
    nameRegexp?: string,
    tags: Array<[string, string]>,
  }
  export type SecretMap = Array<[string, Uint8Array]>;
  export interface Capabilities {
    read?: boolean,
    write?: boolean,
  }
  export interface ProviderInfo {
    /**
     * The key under `spec.provider` this plugin serves (`fake`, `vault`, …).
     */
    name: string,
    version: string,
    capabilities: Capabilities,
    /**
     * JSON Schema of the config block, if the plugin publishes one.
     */
    configSchema?: string,
  }
  /**
   * # Variants
   * 
   * ## `"secret-store"`
   * 
   * ## `"cluster-secret-store"`
   */
  export type StoreKind = 'secret-store' | 'cluster-secret-store';
  export interface StoreContext {
    kind: StoreKind,
    name: string,
    storeNamespace?: string,
    /**
     * The ExternalSecret's namespace (`none` when the store itself is validated).
     */
    callerNamespace?: string,
    /**
     * The ProviderClass `spec.settings` as JSON (`{}` when none).
     */
    settings: string,
  }
  /**
   * One egress permission. Empty lists mean "any"; an empty `ports` means the scheme's
   * default port. `host` is an exact name, an IP literal, or `*.suffix`.
   */
  export interface EgressRule {
    schemes: Array<string>,
    host: string,
    ports: Uint16Array,
    methods: Array<string>,
    pathPrefixes: Array<string>,
  }
  /**
   * # Variants
   * 
   * ## `"valid"`
   * 
   * ## `"unknown"`
   */
  export type Validation = 'valid' | 'unknown';
  export interface PushRequest {
    remoteKey: string,
    property?: string,
    value: Uint8Array,
    metadata?: string,
  }
}
