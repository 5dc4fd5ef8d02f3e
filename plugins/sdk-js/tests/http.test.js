// http.js on Node's own fetch against a real server on 127.0.0.1.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { request, requestOk, safeUrl, transportError } from '../http.js';

let server;
let base;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"a":1}');
    } else if (req.url === '/slow-down') {
      res.writeHead(429, { 'retry-after': '9' });
      res.end('too many');
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/ok' });
      res.end();
    } else if (req.url === '/text') {
      res.end('plain');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

test('a 2xx response, its body and JSON', async () => {
  const res = await requestOk(`${base}/ok`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { a: 1 });
  assert.equal(res.text(), '{"a":1}');
});

test('a body that is not JSON is an internal error without the body', async () => {
  const res = await request(`${base}/text`);
  assert.throws(() => res.json(), (e) => e.tag === 'internal' && !e.val.includes('plain'));
});

test('statuses become provider errors with requestOk only', async () => {
  const res = await request(`${base}/missing`);
  assert.equal(res.status, 404);
  await assert.rejects(requestOk(`${base}/missing?token=x`), (e) => {
    assert.equal(e.tag, 'not-found');
    assert.ok(!e.val.includes('token=x'), e.val);
    return true;
  });
  await assert.rejects(requestOk(`${base}/slow-down`), {
    tag: 'rate-limited',
    val: { message: `GET ${base}/slow-down: HTTP 429: too many`, retryAfterSecs: 9 },
  });
});

test('redirects are not followed', async () => {
  assert.equal((await request(`${base}/moved`)).status, 302);
});

test('a refused connection is unavailable', async () => {
  const port = server.address().port;
  const closed = createServer();
  await new Promise((r) => closed.listen(0, '127.0.0.1', r));
  const dead = closed.address().port;
  await new Promise((r) => closed.close(r));
  assert.notEqual(dead, port);
  await assert.rejects(request(`http://127.0.0.1:${dead}/`), { tag: 'unavailable' });
});

test('denials and timeouts by message', () => {
  assert.equal(transportError(new TypeError('HttpRequestDenied'), 'x').tag, 'forbidden');
  assert.equal(transportError(new Error('The operation timed out'), 'x').val, 'x: request timed out');
  assert.equal(transportError(new TypeError('fetch failed'), 'x').val, 'x: fetch failed');
  const network = transportError(new TypeError('NetworkError when attempting to fetch resource.'), 'x');
  assert.equal(network.tag, 'unavailable');
  assert.match(network.val, /egress grant/);
  assert.equal(transportError({ name: 'TimeoutError', message: 'signal' }, 'x').val, 'x: request timed out');
});

test('safeUrl drops query and fragment', () => {
  assert.equal(safeUrl('http://h:1/p?q=s#f'), 'http://h:1/p');
  assert.equal(safeUrl('nope'), '<invalid URL>');
});
