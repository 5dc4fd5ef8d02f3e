import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ERROR_KINDS,
  bodyExcerpt,
  errorFromStatus,
  errorMessage,
  forbidden,
  internal,
  invalidConfig,
  isProviderError,
  notFound,
  parseRetryAfter,
  rateLimited,
  unauthorized,
  unavailable,
} from '../errors.js';

test('constructors build the WIT variant', () => {
  assert.deepEqual(notFound('k'), { tag: 'not-found', val: 'k' });
  assert.deepEqual(unauthorized('u'), { tag: 'unauthorized', val: 'u' });
  assert.deepEqual(forbidden('f'), { tag: 'forbidden', val: 'f' });
  assert.deepEqual(invalidConfig('c'), { tag: 'invalid-config', val: 'c' });
  assert.deepEqual(unavailable('a'), { tag: 'unavailable', val: 'a' });
  assert.deepEqual(internal('i'), { tag: 'internal', val: 'i' });
  assert.deepEqual(rateLimited('slow', 7), {
    tag: 'rate-limited',
    val: { message: 'slow', retryAfterSecs: 7 },
  });
  assert.deepEqual(rateLimited('slow'), { tag: 'rate-limited', val: { message: 'slow' } });
  assert.deepEqual(rateLimited('slow', -1), { tag: 'rate-limited', val: { message: 'slow' } });
  assert.deepEqual(rateLimited('slow', 1.5), { tag: 'rate-limited', val: { message: 'slow' } });
});

test('isProviderError and errorMessage', () => {
  for (const kind of ERROR_KINDS) assert.ok(isProviderError({ tag: kind, val: 'x' }), kind);
  assert.ok(!isProviderError({ tag: 'nope', val: 'x' }));
  assert.ok(!isProviderError(new Error('x')));
  assert.ok(!isProviderError(null));
  assert.equal(errorMessage(rateLimited('m', 1)), 'm');
  assert.equal(errorMessage(notFound('n')), 'n');
});

test('Retry-After in seconds only', () => {
  assert.equal(parseRetryAfter('12'), 12);
  assert.equal(parseRetryAfter(' 3 '), 3);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT'), undefined);
  assert.equal(parseRetryAfter('-1'), undefined);
  assert.equal(parseRetryAfter('99999999999'), undefined);
  assert.equal(parseRetryAfter(null), undefined);
});

const statuses = [
  [401, 'unauthorized'],
  [403, 'forbidden'],
  [404, 'not-found'],
  [429, 'rate-limited'],
  [400, 'internal'],
  [409, 'internal'],
  [499, 'internal'],
  [500, 'unavailable'],
  [502, 'unavailable'],
  [503, 'unavailable'],
  [302, 'unavailable'],
];
for (const [status, tag] of statuses) {
  test(`HTTP ${status} is ${tag}`, () => {
    assert.equal(errorFromStatus(status).tag, tag);
  });
}

test('errorFromStatus message: context, status and a body excerpt', () => {
  assert.deepEqual(errorFromStatus(404, '{"errors":[]}', null, 'GET /v1/secrets/db'), {
    tag: 'not-found',
    val: 'GET /v1/secrets/db: HTTP 404: {"errors":[]}',
  });
  assert.equal(errorFromStatus(500).val, 'HTTP 500');
  assert.deepEqual(errorFromStatus(429, '', '30', 'x'), {
    tag: 'rate-limited',
    val: { message: 'x: HTTP 429', retryAfterSecs: 30 },
  });
  assert.equal(errorFromStatus(429, '', 4).val.retryAfterSecs, 4);
  assert.equal(errorFromStatus(429, '', 'soon').val.retryAfterSecs, undefined);
});

test('body excerpts are short, single-line and text only', () => {
  assert.equal(bodyExcerpt('a\n  b\tc'), 'a b c');
  assert.equal(bodyExcerpt('x'.repeat(500)).length, 161);
  assert.equal(bodyExcerpt(new Uint8Array([0xff, 0xfe])), '');
  assert.equal(bodyExcerpt(new TextEncoder().encode('denied')), 'denied');
  assert.equal(bodyExcerpt(undefined), '');
});
