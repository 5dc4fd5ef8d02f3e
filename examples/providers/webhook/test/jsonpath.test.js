import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonPath, parsePath } from '../src/jsonpath.js';

const doc = {
  args: { parameter: 'secret' },
  data: { data: { user: 'admin', 'odd key': 'x', n: 5 } },
  list: [{ v: 'a' }, { v: 'b' }],
};

test('the paths ESO docs use', () => {
  assert.equal(jsonPath('$.args.parameter', doc), 'secret');
  assert.deepEqual(jsonPath('$.data.data', doc), doc.data.data);
  assert.equal(jsonPath('$', doc), doc);
  assert.equal(jsonPath('$.list[0].v', doc), 'a');
  assert.equal(jsonPath('$.list[-1].v', doc), 'b');
  assert.equal(jsonPath('$["data"][\'data\']["odd key"]', doc), 'x');
});

test('wildcards and unions answer lists', () => {
  assert.deepEqual(jsonPath('$.list[*].v', doc), ['a', 'b']);
  assert.deepEqual(jsonPath('$.list.*.v', doc), ['a', 'b']);
  assert.deepEqual(jsonPath('$.data.data["user","n"]', doc), ['admin', 5]);
  assert.deepEqual(jsonPath('$.list[*].nope', doc), []);
});

test('missing keys and indexes are internal errors', () => {
  assert.throws(() => jsonPath('$.args.nope', doc), { tag: 'internal', val: 'result.jsonPath $.args.nope: unknown key nope' });
  assert.throws(() => jsonPath('$.list[5]', doc), { tag: 'internal' });
  assert.throws(() => jsonPath('$.args.parameter.x', doc), { tag: 'internal' });
});

test('unsupported syntax is invalid-config', () => {
  for (const p of ['args', '$..v', '$.list[?(@.v=="a")]', '$.list[0:1]', '$.a.', '$.list[x]', '$[']) {
    assert.throws(() => parsePath(p), (e) => e.tag === 'invalid-config', p);
  }
});
