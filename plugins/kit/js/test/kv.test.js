// Unit tests of the provider's pure logic (src/kv.js); no wasm tools needed: `npm test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkRef,
  credentialsFor,
  egressFor,
  listUrl,
  matchingKeys,
  parseConfig,
  secretBytes,
  secretMap,
  secretUrl,
  valueOf,
} from '../src/kv.js';

const text = (b) => new TextDecoder().decode(b);
const invalid = (why) => (e) => e.tag === 'invalid-config' && why.test(e.val);

test('a config with auth', () => {
  const config = parseConfig(
    JSON.stringify({ url: 'http://127.0.0.1:8080', auth: { tokenSecretRef: { name: 'kv-token', key: 'token' } } }),
  );
  assert.equal(config.url.origin, 'http://127.0.0.1:8080');
  assert.deepEqual(credentialsFor(config), [
    { name: 'token', source: { tag: 'secret-key', val: { name: 'kv-token', key: 'token' } } },
  ]);
  assert.deepEqual(egressFor(config), [
    { schemes: ['http'], host: '127.0.0.1', ports: Uint16Array.of(8080), methods: ['GET'], pathPrefixes: ['/v1/secrets'] },
  ]);
});

test('a config without auth requests no credentials', () => {
  assert.deepEqual(credentialsFor(parseConfig('{"url":"https://kv.example.com"}')), []);
});

test('invalid configs say what is wrong', () => {
  for (const [config, why] of [
    ['nope', /config is not JSON/],
    ['[]', /config must be an object/],
    ['{}', /url must be set/],
    ['{"url":"kv.example.com"}', /url is not a valid URL/],
    ['{"url":"ftp://kv"}', /unsupported scheme ftp/],
    ['{"url":"http://kv/?a=b"}', /query or fragment/],
    ['{"url":"http://kv","auth":"t"}', /auth must be an object/],
    ['{"url":"http://kv","auth":{}}', /auth.tokenSecretRef must be an object/],
    ['{"url":"http://kv","auth":{"tokenSecretRef":{"name":"s"}}}', /auth.tokenSecretRef.key must be set/],
    ['{"url":"http://kv","extra":1}', /unknown field extra/],
  ]) {
    assert.throws(() => parseConfig(config), invalid(why), config);
  }
});

test('URLs: keys are encoded, a base path is kept', () => {
  const url = parseConfig('{"url":"http://kv:1/api/"}').url;
  assert.equal(secretUrl(url, 'a/b c'), 'http://kv:1/api/v1/secrets/a/b%20c');
  assert.equal(listUrl(url), 'http://kv:1/api/v1/secrets');
  assert.deepEqual(egressFor({ url })[0].pathPrefixes, ['/api/v1/secrets']);
  assert.throws(() => secretUrl(url, ''), invalid(/remoteRef.key must be set/));
});

test('values: strings as bytes, objects as JSON, properties of objects', () => {
  assert.equal(text(secretBytes('s3cr3t', 'k')), 's3cr3t');
  assert.equal(text(secretBytes({ user: 'admin', n: 1 }, 'k')), '{"n":1,"user":"admin"}');
  assert.equal(text(secretBytes({ b: { d: 1, c: [{ f: 1, e: 2 }] }, a: 0 }, 'k')), '{"a":0,"b":{"c":[{"e":2,"f":1}],"d":1}}');
  assert.equal(text(secretBytes({ user: 'admin' }, 'k', 'user')), 'admin');
  assert.equal(text(secretBytes({ n: { a: 1 } }, 'k', 'n')), '{"a":1}');
  assert.throws(() => secretBytes({ user: 'admin' }, 'k', 'nope'), { tag: 'not-found', val: 'k has no property nope' });
  assert.throws(() => secretBytes('s', 'k', 'p'), { tag: 'not-found' });
});

test('maps: the fields of an object, sorted', () => {
  const map = secretMap({ user: 'admin', password: 'hunter2', port: 5432 }, 'db');
  assert.deepEqual(
    map.map(([k, v]) => [k, text(v)]),
    [
      ['password', 'hunter2'],
      ['port', '5432'],
      ['user', 'admin'],
    ],
  );
  assert.throws(() => secretMap('plain', 'k'), { tag: 'internal', val: 'k: value is not a JSON object' });
});

test('answers without a value are internal errors', () => {
  assert.equal(valueOf({ value: 'x' }, 'k'), 'x');
  assert.throws(() => valueOf({}, 'k'), { tag: 'internal' });
  assert.throws(() => valueOf({ value: 3 }, 'k'), { tag: 'internal' });
});

test('find: name.regexp over the key listing', () => {
  const body = { keys: ['db-password', 'api', 'db'] };
  assert.deepEqual(matchingKeys(body, { nameRegexp: '^db', tags: [] }), ['db', 'db-password']);
  assert.deepEqual(matchingKeys(body, { tags: [] }), ['api', 'db', 'db-password']);
  assert.throws(() => matchingKeys(body, { nameRegexp: '(', tags: [] }), invalid(/find.name.regexp/));
  assert.throws(() => matchingKeys(body, { tags: [['a', 'b']] }), invalid(/name.regexp only/));
  assert.throws(() => matchingKeys({}, { tags: [] }), { tag: 'internal' });
});

test('remoteRef fields the backend has no notion of', () => {
  assert.throws(() => checkRef({ key: 'k', version: '2', fetchMetadata: false }), invalid(/version/));
  assert.throws(() => checkRef({ key: 'k', fetchMetadata: true }), invalid(/metadataPolicy/));
  checkRef({ key: 'k', fetchMetadata: false });
});
