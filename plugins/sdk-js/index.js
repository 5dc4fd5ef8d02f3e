// ampoule-sdk for JavaScript providers built with componentize-js for the
// `ampoule:provider/secret-provider` world (wit/provider.wit). TypeScript declarations of the
// world, generated from the WIT by ./check-types, are in ./types/.
//
// - errors.js: provider-error constructors and HTTP status mapping;
// - egress.js: `originOf(url)` for `requested-egress`;
// - requests.js: credential requests for `requested-credentials`;
// - host.js: `credential(name)`, `cache`, `tls`, `log` over the `ampoule:host/*` imports;
// - http.js: `request`/`requestOk` over `fetch()` (wasi:http), failures as provider errors;
// - guard.js: `guardProvider(provider)`: a stray Error becomes `internal` instead of a trap.
//
// Export your provider from the component's entry module as `export const provider = {...}`
// with a `Client` class (see the template in plugins/kit/js/).

export * from './errors.js';
export * from './egress.js';
export * from './requests.js';
export * from './http.js';
export * from './guard.js';
export * from './host.js';
