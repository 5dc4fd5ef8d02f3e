// ESO's `fake` provider (`spec.provider.fake`) written in JavaScript, built with
// componentize-js for the `ampoule:provider/secret-provider` world. Same behaviour as the Rust
// plugin in plugins/fake:
//
// - config `{data: [{key, value?, version?, valueMap?}], validationResult?}`;
// - `data[].version`: a `remoteRef.version` must equal it (unversioned refs match unversioned
//   entries only); `remoteRef.property` is a dotted path into the JSON value;
// - get-secret-map: `valueMap`, else `value` parsed as a JSON object;
// - find: `name.regexp` only (the latest version of each matching key);
// - push/delete/exists work on the client's own copy (a client lives for one reconcile).
//
// Test hook (off unless the config says `probes: true`): a remote key `probe:http:<url>` fetches
// the URL with the ordinary `fetch()`, so a test can see the sandbox's egress policy allow or
// refuse it; `probeEgress: [{host, ports}]` is then what the plugin requests. JavaScript under
// componentize-js has no file or socket API at all.

const err = (tag, val) => ({ tag, val });
const invalidConfig = (msg) => err('invalid-config', msg);
const notFound = (key) => err('not-found', `secret not found: ${key}`);

function parse(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw invalidConfig(`fake: ${e.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw invalidConfig('fake: config must be an object');
  }
  const data = (config.data ?? []).map((e) => ({
    key: e.key ?? '',
    value: e.value ?? '',
    version: e.version ?? '',
    valueMap: e.valueMap ?? {},
  }));
  data.forEach((entry, pos) => {
    if (entry.key === '') throw invalidConfig(`key must be set in data ${pos}`);
    if (entry.value === '' && Object.keys(entry.valueMap).length === 0) {
      throw invalidConfig(`at least one value must be set in data ${pos}`);
    }
  });
  const probes = config.probes === true;
  const egress = probes ? (config.probeEgress ?? []) : [];
  return { data, validationResult: config.validationResult, probes, egress };
}

// ESO's ValidationResult: Ready = 0, Unknown = 1, Error = 2 (names accepted too).
const isReady = (v) => v === undefined || v === null || v === 0 || v === 'Ready';

const text = (s) => new TextEncoder().encode(s);

function property(value, path) {
  let node;
  try {
    node = JSON.parse(value);
  } catch {
    return undefined;
  }
  for (const part of path.split('.')) {
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(part) || Number(part) >= node.length) return undefined;
      node = node[Number(part)];
    } else if (node !== null && typeof node === 'object' && Object.hasOwn(node, part)) {
      node = node[part];
    } else {
      return undefined;
    }
  }
  return typeof node === 'string' ? node : JSON.stringify(node);
}

async function probe(url) {
  try {
    const response = await fetch(url);
    return text(await response.text());
  } catch (e) {
    // StarlingMonkey reports every wasi:http failure, a policy denial included, as a TypeError.
    throw err('forbidden', `request to ${url} failed: ${e.message ?? e}`);
  }
}

class Client {
  #entries;
  #ready;
  #probes;

  constructor(config) {
    this.#entries = config.data;
    this.#ready = isReady(config.validationResult);
    this.#probes = config.probes;
  }

  static open(config, _ctx) {
    return new Client(parse(config));
  }

  #find(key, version) {
    const want = version ?? '';
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i];
      if (e.key === key && e.version === want) return e;
    }
    return undefined;
  }

  validate() {
    if (!this.#ready) throw err('unavailable', 'unable to validate');
    return 'valid';
  }

  getSecret(ref) {
    if (this.#probes && ref.key.startsWith('probe:http:')) {
      return probe(ref.key.slice('probe:http:'.length));
    }
    const entry = this.#find(ref.key, ref.version);
    if (entry === undefined) throw notFound(ref.key);
    if (!ref.property) return text(entry.value);
    const value = property(entry.value, ref.property);
    if (value === undefined) throw notFound(ref.key);
    return text(value);
  }

  getSecretMap(ref) {
    const entry = this.#find(ref.key, ref.version);
    if (entry === undefined) throw notFound(ref.key);
    const valueMap = Object.entries(entry.valueMap);
    if (valueMap.length > 0) return valueMap.map(([k, v]) => [k, text(String(v))]);
    const value = ref.property ? property(entry.value, ref.property) : entry.value;
    if (value === undefined) throw notFound(ref.key);
    let map;
    try {
      map = JSON.parse(value);
    } catch (e) {
      throw err('internal', `unable to unmarshal secret: ${e.message}`);
    }
    if (map === null || typeof map !== 'object' || Array.isArray(map)) {
      throw err('internal', 'unable to unmarshal secret: not a JSON object');
    }
    return Object.entries(map)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, text(typeof v === 'string' ? v : JSON.stringify(v))]);
  }

  getAllSecrets(query) {
    if (query.nameRegexp === undefined || query.tags.length > 0 || query.path !== undefined) {
      throw invalidConfig('fake: unsupported find operator (only name.regexp)');
    }
    let re;
    try {
      re = new RegExp(query.nameRegexp);
    } catch (e) {
      throw invalidConfig(`find.name.regexp: ${e.message}`);
    }
    const latest = new Map();
    for (const e of this.#entries) {
      if (!re.test(e.key)) continue;
      const seen = latest.get(e.key);
      if (seen === undefined || seen.version < e.version) latest.set(e.key, e);
    }
    return [...latest.keys()].sort().map((k) => [k, text(latest.get(k).value)]);
  }

  pushSecret(req) {
    let value;
    try {
      value = new TextDecoder('utf-8', { fatal: true }).decode(req.value);
    } catch {
      throw err('internal', 'fake stores text only');
    }
    this.#entries = this.#entries.filter((e) => !(e.key === req.remoteKey && e.version === ''));
    this.#entries.push({ key: req.remoteKey, value, version: '', valueMap: {} });
  }

  deleteSecret(remoteKey, _property) {
    this.#entries = this.#entries.filter((e) => e.key !== remoteKey);
  }

  secretExists(remoteKey, _property) {
    return this.#entries.some((e) => e.key === remoteKey);
  }
}

export const provider = {
  Client,

  describe() {
    return {
      name: 'fake',
      version: '0.1.0',
      capabilities: { read: true, write: true },
      configSchema: undefined,
    };
  },

  validateConfig(config) {
    parse(config);
    return [];
  },

  requestedEgress(config, _settings) {
    return parse(config).egress.map((rule) => ({
      schemes: [],
      host: String(rule.host ?? ''),
      ports: (rule.ports ?? []).map(Number),
      methods: [],
      pathPrefixes: [],
    }));
  },

  requestedCredentials(_config) {
    return [];
  },
};
