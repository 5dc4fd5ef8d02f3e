import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  secretKeyRequest,
  secretKeySelector,
  serviceAccountAnnotationRequest,
  serviceAccountTokenRequest,
} from '../requests.js';

test('secretKeySelector reads ESO selectors', () => {
  assert.deepEqual(secretKeySelector({ name: 'a', key: 'b' }, 'auth'), { name: 'a', key: 'b' });
  assert.deepEqual(secretKeySelector({ name: 'a', key: 'b', namespace: 'ns' }, 'auth'), {
    name: 'a',
    key: 'b',
    namespace: 'ns',
  });
  for (const [sel, why] of [
    [undefined, 'auth must be an object with name and key'],
    [{ key: 'b' }, 'auth.name must be set'],
    [{ name: 'a' }, 'auth.key must be set'],
    [{ name: 'a', key: 'b', namespace: 3 }, 'auth.namespace must be a string'],
  ]) {
    assert.throws(() => secretKeySelector(sel, 'auth'), { tag: 'invalid-config', val: why });
  }
});

test('credential requests as the bindings want them', () => {
  assert.deepEqual(secretKeyRequest('token', { name: 's', key: 'k' }), {
    name: 'token',
    source: { tag: 'secret-key', val: { name: 's', key: 'k' } },
  });
  assert.deepEqual(serviceAccountTokenRequest('sa', { name: 'app', audiences: ['vault'] }), {
    name: 'sa',
    source: { tag: 'service-account-token', val: { name: 'app', audiences: ['vault'] } },
  });
  assert.deepEqual(serviceAccountAnnotationRequest('role', { name: 'app', namespace: 'n', key: 'k' }), {
    name: 'role',
    source: { tag: 'service-account-annotation', val: { name: 'app', key: 'k', namespace: 'n' } },
  });
});
