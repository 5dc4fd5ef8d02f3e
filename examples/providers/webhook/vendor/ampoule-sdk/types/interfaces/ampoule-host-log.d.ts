declare module 'ampoule:host/log@0.1.0' {
  /**
   * Written to the operator's log with the store and plugin digest. Messages are truncated
   * and the volume per invocation is capped. Never log secret values.
   */
  export function log(level: Level, message: string): void;
  /**
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
