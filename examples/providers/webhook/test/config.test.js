import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildRequest,
  checkLiteralPath,
  credentialsFor,
  egressFor,
  extractSecretData,
  mapFromBody,
  parseConfig,
  parseDuration,
  requireNamespaces,
  secretFromBody,
} from '../src/config.js';

const text = (b) => new TextDecoder().decode(b);
const bytes = (s) => new TextEncoder().encode(s);
const invalid = (why) => (e) => e.tag === 'invalid-config' && why.test(e.val);
const cfg = (c) => parseConfig(JSON.stringify(c));

const bao = {
  url: 'http://127.0.0.1:8200/v1/secret/data/{{ .remoteRef.key }}',
  headers: { 'X-Vault-Token': '{{ .auth.token }}' },
  result: { jsonPath: '$.data.data{{ if .remoteRef.property }}.{{ .remoteRef.property }}{{ end }}' },
  secrets: [{ name: 'auth', secretRef: { name: 'bao-token' } }],
  timeout: '5s',
};

test('the OpenBao store: egress, credentials, request', () => {
  const c = cfg(bao);
  assert.deepEqual(egressFor(c), [
    { schemes: ['http'], host: '127.0.0.1', ports: Uint16Array.of(8200), methods: ['GET'], pathPrefixes: [] },
  ]);
  assert.deepEqual(credentialsFor(c), [
    { name: 'secret/auth/token', source: { tag: 'secret-key', val: { name: 'bao-token', key: 'token' } } },
  ]);
  assert.equal(c.timeoutMs, 5000);
  const req = buildRequest(c, { key: 'a b/c', property: 'user', fetchMetadata: false }, 'default', { auth: { token: 'T' } });
  assert.deepEqual(req, {
    url: 'http://127.0.0.1:8200/v1/secret/data/a+b%2Fc',
    method: 'GET',
    headers: [['X-Vault-Token', 'T']],
    body: undefined,
    jsonPath: '$.data.data.user',
  });
  assert.equal(buildRequest(c, { key: 'k', fetchMetadata: false }, 'ns', { auth: { token: 'T' } }).jsonPath, '$.data.data');
});

test("the docs' example: a Basic header from two keys of one Secret", () => {
  const c = cfg({
    url: 'http://httpbin.org/get?parameter={{ .remoteRef.key }}',
    result: { jsonPath: '$.args.parameter' },
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic {{ print .auth.username ":" .auth.password | b64enc }}' },
    secrets: [{ name: 'auth', secretRef: { name: 'webhook-credentials' } }],
  });
  assert.deepEqual(
    credentialsFor(c).map((r) => [r.name, r.source.val.key]),
    [
      ['secret/auth/password', 'password'],
      ['secret/auth/username', 'username'],
    ],
  );
  assert.deepEqual(egressFor(c)[0].ports, Uint16Array.of(80));
  const req = buildRequest(c, { key: 'secret', fetchMetadata: false }, 'ns', { auth: { username: 'test', password: 'test' } });
  assert.equal(req.url, 'http://httpbin.org/get?parameter=secret');
  assert.deepEqual(req.headers[1], ['Authorization', `Basic ${btoa('test:test')}`]);
});

test('secretRef.key and namespace, index with a literal key, caProvider', () => {
  const c = cfg({
    url: 'https://api.example.com/x',
    method: 'post',
    body: '{"t": "{{ index .creds "api-key" }}"}',
    secrets: [{ name: 'creds', secretRef: { name: 's', key: 'extra', namespace: 'team' } }],
    caProvider: { type: 'Secret', name: 'ca', key: 'ca.crt' },
  });
  assert.equal(c.method, 'POST');
  assert.deepEqual(credentialsFor(c), [
    { name: 'secret/creds/api-key', source: { tag: 'secret-key', val: { name: 's', namespace: 'team', key: 'api-key' } } },
    { name: 'secret/creds/extra', source: { tag: 'secret-key', val: { name: 's', namespace: 'team', key: 'extra' } } },
    { name: 'ca', source: { tag: 'secret-key', val: { name: 'ca', key: 'ca.crt' } } },
  ]);
  assert.deepEqual(egressFor(c)[0], { schemes: ['https'], host: 'api.example.com', ports: Uint16Array.of(443), methods: ['POST'], pathPrefixes: [] });
  assert.equal(buildRequest(c, { key: 'k', fetchMetadata: false }, 'ns', { creds: { 'api-key': 'A', extra: 'E' } }).body, '{"t": "A"}');
});

test('caBundle is base64 PEM', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  assert.equal(cfg({ url: 'https://h/', caBundle: btoa(pem) }).caPem, pem);
  assert.throws(() => cfg({ url: 'https://h/', caBundle: btoa('nope') }), invalid(/no PEM certificate/));
  assert.throws(() => cfg({ url: 'https://h/', caBundle: '%%%' }), invalid(/base64/));
});

test('refused configs name the problem', () => {
  for (const [c, why] of [
    [{}, /url must be set/],
    [{ url: 'http://{{ .remoteRef.key }}/x' }, /scheme, host and port must be literal/],
    [{ url: 'http://h:{{ .remoteRef.key }}/x' }, /scheme, host and port must be literal/],
    [{ url: 'http{{ .remoteRef.key }}://h/' }, /must be literal/],
    [{ url: 'ftp://h/' }, /unsupported scheme ftp/],
    [{ url: 'http://h/', auth: { ntlm: { usernameSecret: {}, passwordSecret: {} } } }, /auth.ntlm is not supported/],
    [{ url: 'http://h/{{ .nope.x }}' }, /\.nope is neither remoteRef nor/],
    [{ url: 'http://h/{{ .remoteRef.foo }}' }, /\.remoteRef\.foo is not one of/],
    [{ url: 'http://h/', headers: { A: '{{ .auth }}' }, secrets: [{ name: 'auth', secretRef: { name: 's' } }] }, /whole Secret/],
    [{ url: 'http://h/', headers: { A: '{{ index .auth .remoteRef.key }}' }, secrets: [{ name: 'auth', secretRef: { name: 's' } }] }, /one literal key/],
    [{ url: 'http://h/{{ . }}' }, /prints all template data/],
    [{ url: 'http://h/', body: 'x' }, /body with method GET/],
    [{ url: 'http://h/', timeout: '5' }, /not a duration/],
    [{ url: 'http://h/', secrets: [{ name: 'remoteRef', secretRef: { name: 's' } }] }, /must not be remoteRef/],
    [{ url: 'http://h/', secrets: [{ name: 'a', secretRef: {} }] }, /secretRef.name must be set/],
    [{ url: 'http://h/', caProvider: { type: 'Vault', name: 'x', key: 'y' } }, /Secret or ConfigMap/],
    [{ url: 'http://h/', result: { jsonPath: '$..x' } }, /recursive descent/],
    [{ url: 'http://h/', extra: 1 }, /unknown field extra/],
    [{ url: 'http://h/{{ range .remoteRef }}{{ end }}' }, /unsupported template construct: range/],
  ]) {
    assert.throws(() => checkLiteralPath(cfg(c)), invalid(why), JSON.stringify(c));
  }
});

test('durations', () => {
  assert.equal(parseDuration('1m30s'), 90000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5h'), 5400000);
});

test('get-secret answers as ESO extractSecretData', () => {
  const body = bytes('{"a":{"s":"x","n":2.5,"m":3.5,"b":true,"z":null,"o":{"y":1,"x":"<"},"l":["first","second"],"e":[]}}');
  assert.equal(text(secretFromBody(body, '$.a.s')), 'x');
  assert.equal(text(secretFromBody(body, '$.a.n')), '2');
  assert.equal(text(secretFromBody(body, '$.a.m')), '4');
  assert.equal(text(secretFromBody(body, '$.a.b')), 'true');
  assert.equal(text(secretFromBody(body, '$.a.z')), '');
  assert.equal(text(secretFromBody(body, '$.a.o')), '{"x":"\\u003c","y":1}');
  assert.equal(text(secretFromBody(body, '$.a.l')), 'first');
  assert.throws(() => secretFromBody(body, '$.a.e'), { tag: 'internal' });
  assert.equal(text(secretFromBody(bytes('raw text'), '')), 'raw text');
  assert.throws(() => secretFromBody(bytes('raw'), '$.a'), { tag: 'internal', val: 'failed to parse response json' });
  assert.equal(text(extractSecretData(1e21)), '1000000000000000000000');
});

test('get-secret-map answers as ESO GetSecretMap', () => {
  const body = bytes('{"data":{"data":{"user":"admin","port":5432,"nested":{"b":1,"a":2}},"str":"{\\"k\\":\\"v\\"}"}}');
  assert.deepEqual(
    mapFromBody(body, '$.data.data').map(([k, v]) => [k, text(v)]),
    [
      ['nested', '{"a":2,"b":1}'],
      ['port', '5432'],
      ['user', 'admin'],
    ],
  );
  assert.deepEqual(mapFromBody(body, '$.data.str').map(([k, v]) => [k, text(v)]), [['k', 'v']]);
  assert.throws(() => mapFromBody(body, '$.data.data.user'), { tag: 'internal' });
});

test('a ClusterSecretStore names the namespace of every Secret, as ESO requires', () => {
  const withNs = cfg({ url: 'http://h/', secrets: [{ name: 'a', secretRef: { name: 's', namespace: 'n' } }] });
  requireNamespaces(withNs);
  const without = cfg({ url: 'http://h/', secrets: [{ name: 'a', secretRef: { name: 's' } }] });
  assert.throws(() => requireNamespaces(without), invalid(/no namespace on ClusterScoped webhook secret s/));
  const ca = cfg({ url: 'https://h/', caProvider: { type: 'ConfigMap', name: 'ca', key: 'ca.crt' } });
  assert.throws(() => requireNamespaces(ca), invalid(/caProvider.namespace/));
});
