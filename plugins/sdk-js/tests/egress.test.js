import assert from 'node:assert/strict';
import { test } from 'node:test';
import { originOf, parseHttpUrl } from '../egress.js';

test('originOf keeps scheme, host and port only', () => {
  assert.deepEqual(originOf('http://127.0.0.1:8200/v1/secret?x=1', { methods: ['get'], pathPrefixes: ['/v1/secrets'] }), {
    schemes: ['http'],
    host: '127.0.0.1',
    ports: Uint16Array.of(8200),
    methods: ['GET'],
    pathPrefixes: ['/v1/secrets'],
  });
});

test('originOf fills the default port of the scheme', () => {
  assert.deepEqual(originOf('https://Vault.Example.com/').ports, Uint16Array.of(443));
  assert.equal(originOf('https://Vault.Example.com/').host, 'vault.example.com');
  assert.deepEqual(originOf('http://example.com').ports, Uint16Array.of(80));
  assert.deepEqual(originOf('http://example.com').methods, []);
});

test('originOf unbrackets IPv6 literals', () => {
  assert.equal(originOf('http://[::1]:9000/').host, '::1');
});

test('originOf refuses what is not an http(s) origin', () => {
  for (const [url, why] of [
    ['', /url must be set/],
    ['not a url', /url is not a valid URL/],
    ['ftp://example.com', /unsupported scheme ftp/],
    ['http://user:pw@example.com', /must not carry credentials/],
  ]) {
    assert.throws(() => originOf(url), (e) => e.tag === 'invalid-config' && why.test(e.val), url);
  }
  assert.throws(() => parseHttpUrl(undefined, 'server'), (e) => e.val === 'server must be set');
});
