import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldsOf, goJson, parseTemplate, queryEscape, render, staticPrefix } from '../src/gotemplate.js';

const data = {
  remoteRef: { key: 'db', version: '', property: 'user', namespace: 'ns' },
  auth: { username: 'test', password: 'pa:ss', token: 't0k' },
};
const r = (t, d = data) => render(parseTemplate(t, 't'), d);
const invalid = (why) => (e) => e.tag === 'invalid-config' && why.test(e.val);

test('text and fields', () => {
  assert.equal(r('http://h/get?parameter={{ .remoteRef.key }}'), 'http://h/get?parameter=db');
  assert.equal(r('{{.auth.token}}'), 't0k');
  assert.equal(r('no actions'), 'no actions');
  assert.equal(r(''), '');
  assert.equal(r('{{ .remoteRef.missing }}'), '<no value>');
});

test("the docs' Basic header: print and a pipeline into b64enc", () => {
  assert.equal(r('Basic {{ print .auth.username ":" .auth.password | b64enc }}'), `Basic ${btoa('test:pa:ss')}`);
});

test('functions', () => {
  assert.equal(r('{{ .auth.token | b64enc | b64dec }}'), 't0k');
  assert.equal(r('{{ urlquery "a b/c" }}'), 'a+b%2Fc');
  assert.equal(r('{{ .remoteRef | toJson }}'), '{"key":"db","namespace":"ns","property":"user","version":""}');
  assert.equal(r('{{ index .auth "token" }}'), 't0k');
  assert.equal(r('{{ printf "%s-%s" .remoteRef.key .auth.token }}'), 'db-t0k');
  assert.equal(r('{{ .remoteRef.key | upper | quote }}'), '"DB"');
  assert.equal(r('{{ .remoteRef.version | default "latest" }}'), 'latest');
  assert.equal(r('{{ print 1 2 "x" 3 }}'), '1 2x3');
  assert.equal(r('{{ (print .remoteRef.key "-x") | upper }}'), 'DB-X');
  assert.equal(r('{{ `raw` }}'), 'raw');
});

test('if / else / end, trimming, comments', () => {
  assert.equal(r('$.data{{ if .remoteRef.property }}.{{ .remoteRef.property }}{{ end }}'), '$.data.user');
  const noProp = { ...data, remoteRef: { ...data.remoteRef, property: '' } };
  assert.equal(r('$.data{{ if .remoteRef.property }}.{{ .remoteRef.property }}{{ end }}', noProp), '$.data');
  assert.equal(r('{{ if .remoteRef.version }}v{{ else }}latest{{ end }}'), 'latest');
  assert.equal(r('a  {{- .remoteRef.key -}}  b'), 'adbb');
  assert.equal(r('x{{/* note */}}y'), 'xy');
});

test('unsupported constructs are invalid-config naming them', () => {
  for (const [t, why] of [
    ['{{ range .auth }}x{{ end }}', /unsupported template construct: range/],
    ['{{ with .auth }}x{{ end }}', /unsupported template construct: with/],
    ['{{ $x := 1 }}', /variables/],
    ['{{ sha256sum .auth.token }}', /unsupported template function sha256sum/],
    ['{{ .auth.token', /unclosed action/],
    ['{{ if .x }}a', /missing \{\{end\}\}/],
    ['{{ end }}', /unexpected \{\{end\}\}/],
    ['{{ "a }}', /unclosed action/],
  ]) {
    assert.throws(() => parseTemplate(t, 'url'), invalid(why), t);
  }
});

test('fieldsOf lists what a template reads', () => {
  const t = parseTemplate('{{ .auth.token }}/{{ index .auth "user" }}{{ if .remoteRef.key }}{{ end }}', 'h');
  assert.deepEqual(fieldsOf(t), [
    { chain: ['auth', 'token'] },
    { chain: ['auth'], index: ['user'] },
    { chain: ['remoteRef', 'key'] },
  ]);
});

test('queryEscape is Go url.QueryEscape', () => {
  assert.equal(queryEscape('a b/c?d=e&f~g_h.i-j'), 'a+b%2Fc%3Fd%3De%26f~g_h.i-j');
  assert.equal(queryEscape('é'), '%C3%A9');
  assert.equal(queryEscape("!*'()"), '%21%2A%27%28%29');
});

test('goJson sorts keys and escapes like Go', () => {
  assert.equal(goJson({ b: 1, a: { d: '<&>', c: [2] } }), '{"a":{"c":[2],"d":"\\u003c\\u0026\\u003e"},"b":1}');
});

test('staticPrefix', () => {
  assert.deepEqual(staticPrefix(parseTemplate('http://h:1/v1/{{ .remoteRef.key }}', 'u')), { prefix: 'http://h:1/v1/', whole: false });
  assert.deepEqual(staticPrefix(parseTemplate('http://h', 'u')), { prefix: 'http://h', whole: true });
  assert.deepEqual(staticPrefix(parseTemplate('{{ .x }}', 'u')), { prefix: '', whole: false });
});
