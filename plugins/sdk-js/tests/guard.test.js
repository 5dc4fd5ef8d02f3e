import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notFound } from '../errors.js';
import { asProviderError, guardProvider } from '../guard.js';

class Client {
  constructor(x) {
    this.x = x;
  }
  static open(config) {
    if (config === 'bad') throw new TypeError('x is undefined');
    return new Client(config);
  }
  getSecret(ref) {
    if (ref.key === 'missing') throw notFound('missing');
    if (ref.key === 'bug') throw new RangeError('oops');
    return `${this.x}:${ref.key}`;
  }
  async getSecretMap(ref) {
    if (ref.key === 'bug') throw new Error('async oops');
    if (ref.key === 'missing') throw notFound('m');
    return [[this.x, ref.key]];
  }
}
const provider = guardProvider({
  Client,
  describe: () => ({ name: 'p' }),
  validateConfig(config) {
    if (config === 'throw-string') throw 'plain string';
    return [];
  },
});

test('guarding keeps the class and what works', async () => {
  assert.equal(provider.Client, Client);
  const client = Client.open('c');
  assert.ok(client instanceof Client);
  assert.equal(client.getSecret({ key: 'k' }), 'c:k');
  assert.deepEqual(await client.getSecretMap({ key: 'k' }), [['c', 'k']]);
  assert.deepEqual(provider.describe(), { name: 'p' });
  assert.equal(guardProvider(provider), provider);
});

test('provider errors pass through, anything else becomes internal', async () => {
  const client = Client.open('c');
  assert.throws(() => client.getSecret({ key: 'missing' }), { tag: 'not-found', val: 'missing' });
  assert.throws(() => client.getSecret({ key: 'bug' }), { tag: 'internal', val: 'Client.getSecret failed: RangeError: oops' });
  assert.throws(() => Client.open('bad'), { tag: 'internal', val: 'Client.open failed: TypeError: x is undefined' });
  await assert.rejects(client.getSecretMap({ key: 'bug' }), { tag: 'internal', val: 'Client.getSecretMap failed: Error: async oops' });
  await assert.rejects(client.getSecretMap({ key: 'missing' }), { tag: 'not-found' });
  assert.throws(() => provider.validateConfig('throw-string'), { tag: 'internal', val: 'validateConfig failed: plain string' });
});

test('long messages are cut', () => {
  assert.equal(asProviderError(new Error('x'.repeat(1000)), 'f').val.length, 'f failed: '.length + 301);
});
