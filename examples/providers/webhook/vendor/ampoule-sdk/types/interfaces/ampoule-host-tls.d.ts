declare module 'ampoule:host/tls@0.1.0' {
  /**
   * Trust exactly these CAs (one or more PEM certificates) for the server's certificate,
   * instead of the public web PKI roots (as ESO's `caBundle` replaces the system pool).
   * A later call replaces an earlier one. An error says why the PEM was refused.
   */
  export function setTrust(caPem: Uint8Array): void;
  /**
   * Present this client certificate (a PEM chain, leaf first) with its PEM private key (PKCS#8,
   * PKCS#1 or SEC1) when a server asks for one. A later call replaces an earlier one.
   */
  export function setClientIdentity(certPem: Uint8Array, keyPem: Uint8Array): void;
}
