/// <reference path="./ampoule-host-credentials.d.ts" />
/// <reference path="./ampoule-provider-types.d.ts" />
declare module 'ampoule:provider/provider@0.1.0' {
  /**
   * Pure: what the plugin is.
   */
  export function describe(): ProviderInfo;
  /**
   * Offline validation of the store config (the `spec.provider.<key>` block as JSON). No I/O.
   * Returns warnings. This and the two functions below must answer from their arguments alone:
   * the host keeps their answers per (component digest, config, settings) and calls them again
   * only for a new config, settings or component.
   */
  export function validateConfig(config: string): Array<string>;
  /**
   * What egress this config needs (e.g. the Vault server origin). No I/O. The host grants at
   * most this, narrowed by the ProviderClass ceiling and the store's `spec.sandbox`.
   */
  export function requestedEgress(config: string, settings: string): Array<EgressRule>;
  /**
   * Which credentials this config references (secretRefs, service-account tokens). No I/O.
   * The host resolves them with ESO's namespace rules before `client.open`.
   */
  export function requestedCredentials(config: string): Array<CredentialRequest>;
  export type ProviderError = import('ampoule:provider/types@0.1.0').ProviderError;
  export type SecretRef = import('ampoule:provider/types@0.1.0').SecretRef;
  export type FindQuery = import('ampoule:provider/types@0.1.0').FindQuery;
  export type SecretMap = import('ampoule:provider/types@0.1.0').SecretMap;
  export type ProviderInfo = import('ampoule:provider/types@0.1.0').ProviderInfo;
  export type StoreContext = import('ampoule:provider/types@0.1.0').StoreContext;
  export type EgressRule = import('ampoule:provider/types@0.1.0').EgressRule;
  export type Validation = import('ampoule:provider/types@0.1.0').Validation;
  export type PushRequest = import('ampoule:provider/types@0.1.0').PushRequest;
  export type CredentialRequest = import('ampoule:host/credentials@0.1.0').CredentialRequest;
  
  export class Client {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    static open(config: string, ctx: StoreContext): Client;
    /**
    * Live check (ESO `Validate`); may do I/O.
    */
    validate(): Validation;
    getSecret(secret: SecretRef): Uint8Array;
    getSecretMap(secret: SecretRef): SecretMap;
    getAllSecrets(query: FindQuery): SecretMap;
    /**
    * PushSecret. Providers without the `write` capability return `forbidden`.
    */
    pushSecret(req: PushRequest): void;
    deleteSecret(remoteKey: string, property: string | undefined): void;
    secretExists(remoteKey: string, property: string | undefined): boolean;
  }
}
