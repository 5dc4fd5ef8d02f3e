/// <reference path="./interfaces/ampoule-host-cache.d.ts" />
/// <reference path="./interfaces/ampoule-host-credentials.d.ts" />
/// <reference path="./interfaces/ampoule-host-log.d.ts" />
/// <reference path="./interfaces/ampoule-host-tls.d.ts" />
/// <reference path="./interfaces/ampoule-provider-provider.d.ts" />
/// <reference path="./interfaces/ampoule-provider-types.d.ts" />
/// <reference path="./interfaces/wasi-clocks-monotonic-clock.d.ts" />
/// <reference path="./interfaces/wasi-http-outgoing-handler.d.ts" />
/// <reference path="./interfaces/wasi-http-types.d.ts" />
/// <reference path="./interfaces/wasi-io-error.d.ts" />
/// <reference path="./interfaces/wasi-io-poll.d.ts" />
/// <reference path="./interfaces/wasi-io-streams.d.ts" />
declare module 'ampoule:provider/secret-provider@0.1.0' {
  export type * as AmpouleHostCache010 from 'ampoule:host/cache@0.1.0'; // import ampoule:host/cache@0.1.0
  export type * as AmpouleHostCredentials010 from 'ampoule:host/credentials@0.1.0'; // import ampoule:host/credentials@0.1.0
  export type * as AmpouleHostLog010 from 'ampoule:host/log@0.1.0'; // import ampoule:host/log@0.1.0
  export type * as AmpouleHostTls010 from 'ampoule:host/tls@0.1.0'; // import ampoule:host/tls@0.1.0
  export type * as AmpouleProviderTypes010 from 'ampoule:provider/types@0.1.0'; // import ampoule:provider/types@0.1.0
  export type * as WasiClocksMonotonicClock0212 from 'wasi:clocks/monotonic-clock@0.2.12'; // import wasi:clocks/monotonic-clock@0.2.12
  export type * as WasiHttpOutgoingHandler0212 from 'wasi:http/outgoing-handler@0.2.12'; // import wasi:http/outgoing-handler@0.2.12
  export type * as WasiHttpTypes0212 from 'wasi:http/types@0.2.12'; // import wasi:http/types@0.2.12
  export type * as WasiIoError0212 from 'wasi:io/error@0.2.12'; // import wasi:io/error@0.2.12
  export type * as WasiIoPoll0212 from 'wasi:io/poll@0.2.12'; // import wasi:io/poll@0.2.12
  export type * as WasiIoStreams0212 from 'wasi:io/streams@0.2.12'; // import wasi:io/streams@0.2.12
  export * as provider from 'ampoule:provider/provider@0.1.0'; // export ampoule:provider/provider@0.1.0
}
