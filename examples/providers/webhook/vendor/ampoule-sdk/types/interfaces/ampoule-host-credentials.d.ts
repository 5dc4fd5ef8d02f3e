declare module 'ampoule:host/credentials@0.1.0' {
  /**
   * The material the host resolved for a name the plugin requested
   * (`provider.requested-credentials` or `request-config-map`). Any other name is an error.
   */
  export function get(name: string): Uint8Array;
  /**
   * Adds a ConfigMap key to the material the host resolves for this config, under `name`.
   * Only while the host runs `provider.requested-credentials` (anywhere else it is an error);
   * the value is then read with `get`. A separate call rather than a case of
   * `credential-source`, so components built before it keep their `requested-credentials` type.
   */
  export function requestConfigMap(name: string, source: ConfigMapKeyRef): void;
  /**
   * Adds the operator's own identity to the material the host resolves for this config, under
   * `name` (read it with `get`). Only while the host runs `requested-credentials`, as
   * `request-config-map`, and for the same reason a separate call.
   */
  export function requestControllerIdentity(name: string, source: ControllerIdentity): void;
  /**
   * A key of a Kubernetes Secret (ESO's `SecretKeySelector`). `namespace` is honoured only
   * for a ClusterSecretStore, as in ESO.
   */
  export interface SecretKeyRef {
    name: string,
    key: string,
    namespace?: string,
  }
  /**
   * A ServiceAccount whose token the host requests (TokenRequest) for the given audiences.
   */
  export interface ServiceAccountRef {
    name: string,
    namespace?: string,
    audiences: Array<string>,
  }
  /**
   * One annotation of a ServiceAccount, e.g. `eks.amazonaws.com/role-arn` or
   * `iam.gke.io/gcp-service-account`. The material is the annotation's value; an absent
   * annotation gives an empty value (ESO treats absent and empty alike).
   */
  export interface ServiceAccountAnnotationRef {
    name: string,
    namespace?: string,
    key: string,
  }
  /**
   * A ServiceAccount token (TokenRequest) whose first audience is the value of one of its
   * annotations, or `default-audience` when that annotation is absent or empty, followed by
   * `audiences` (ESO's IRSA rule: `eks.amazonaws.com/audience`, default `sts.amazonaws.com`).
   */
  export interface AnnotatedTokenRef {
    name: string,
    namespace?: string,
    audienceAnnotation: string,
    defaultAudience: string,
    audiences: Array<string>,
  }
  export type CredentialSource = CredentialSourceSecretKey | CredentialSourceServiceAccountToken | CredentialSourceServiceAccountAnnotation | CredentialSourceAnnotatedToken;
  export interface CredentialSourceSecretKey {
    tag: 'secret-key',
    val: SecretKeyRef,
  }
  export interface CredentialSourceServiceAccountToken {
    tag: 'service-account-token',
    val: ServiceAccountRef,
  }
  export interface CredentialSourceServiceAccountAnnotation {
    tag: 'service-account-annotation',
    val: ServiceAccountAnnotationRef,
  }
  export interface CredentialSourceAnnotatedToken {
    tag: 'annotated-token',
    val: AnnotatedTokenRef,
  }
  /**
   * A credential the plugin needs for a config, under a name it picks.
   */
  export interface CredentialRequest {
    name: string,
    source: CredentialSource,
  }
  /**
   * A key of a Kubernetes ConfigMap (ESO's `caProvider` with `type: ConfigMap`). `namespace`
   * follows the rules of `secret-key-ref`.
   */
  export interface ConfigMapKeyRef {
    name: string,
    key: string,
    namespace?: string,
  }
  /**
   * A token of the operator's own ServiceAccount whose first audience is the value of one of
   * that ServiceAccount's annotations, or `default-audience` when it is absent or empty, then
   * `audiences` (as `annotated-token-ref`).
   */
  export interface ControllerAnnotatedToken {
    audienceAnnotation: string,
    defaultAudience: string,
    audiences: Array<string>,
  }
  /**
   * The operator's own identity, which ESO uses when a store names no credentials (IRSA and
   * EKS Pod Identity, GKE workload identity, Vault kubernetes auth without serviceAccountRef).
   * The host resolves it only for a store whose ProviderClass sets
   * `spec.credentials.allowControllerIdentity: true`; otherwise the store is refused with a
   * message naming that field. The plugin never reads a file: the host hands the material over.
   */
  export type ControllerIdentity = ControllerIdentityToken | ControllerIdentityAnnotatedToken | ControllerIdentityAnnotation | ControllerIdentityEnvironment;
  /**
   * A TokenRequest token of the operator's ServiceAccount for these audiences (an empty
   * list: the apiserver's own audience, as the token mounted in the operator's Pod).
   */
  export interface ControllerIdentityToken {
    tag: 'token',
    val: Array<string>,
  }
  /**
   * See `controller-annotated-token`.
   */
  export interface ControllerIdentityAnnotatedToken {
    tag: 'annotated-token',
    val: ControllerAnnotatedToken,
  }
  /**
   * One annotation of the operator's ServiceAccount (empty when absent).
   */
  export interface ControllerIdentityAnnotation {
    tag: 'annotation',
    val: string,
  }
  /**
   * One of the operator's environment variables that names an identity and never holds a
   * secret; only `AWS_ROLE_ARN` (the IRSA variable ESO's AWS SDK reads). Empty when unset.
   */
  export interface ControllerIdentityEnvironment {
    tag: 'environment',
    val: string,
  }
}
