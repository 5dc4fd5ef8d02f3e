declare module 'ampoule:host/cache@0.1.0' {
  /**
   * A value stored earlier by the same plugin digest for the same store, if not expired.
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Stores a value (e.g. an auth token). TTL, value size and entry count are capped by the
   * host; an error says which cap was hit.
   */
  export function set(key: string, value: Uint8Array, ttlSeconds: number): void;
  export { _delete as delete };
  function _delete(key: string): void;
}
