import test from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, stringifyQuery } from './src/query.mjs';
import { buildUrl, splitUrl } from './src/url.mjs';

test('repeated keys become arrays', () => {
  assert.deepEqual(parseQuery('tag=js&tag=node'), { tag: ['js', 'node'] });
  assert.deepEqual(parseQuery('?tag=a&page=2&tag=b&tag=c'), { tag: ['a', 'b', 'c'], page: '2' });
});

test('single keys stay strings', () => {
  assert.deepEqual(parseQuery('?page=2&sort=name'), { page: '2', sort: 'name' });
  assert.deepEqual(parseQuery(''), {});
  assert.deepEqual(parseQuery('?'), {});
});

test('plus decodes to a space', () => {
  assert.deepEqual(parseQuery('q=hello+world'), { q: 'hello world' });
  assert.deepEqual(parseQuery('q=a+b+c&x=1%2B1'), { q: 'a b c', x: '1+1' });
  assert.deepEqual(parseQuery('q=caf%C3%A9+au+lait'), { q: 'café au lait' });
});

test('values may contain =', () => {
  assert.deepEqual(parseQuery('expr=a%3Db&raw=x=y'), { expr: 'a=b', raw: 'x=y' });
});

test('stringify writes arrays as repeated keys', () => {
  const text = stringifyQuery({ tag: ['js', 'node'], page: 2 });
  assert.ok(text.includes('tag=js&tag=node'), text);
  assert.ok(text.includes('page=2'), text);
  assert.equal(text.split('&').length, 3);
});

test('stringify still skips null and undefined', () => {
  assert.equal(stringifyQuery({ a: 1, b: null, c: undefined }), 'a=1');
});

test('round trip', () => {
  const params = { tag: ['red', 'green blue', 'a&b'], q: 'x + y = z', page: '3' };
  assert.deepEqual(parseQuery(stringifyQuery(params)), params);
});

test('buildUrl and splitUrl with repeated keys', () => {
  assert.equal(buildUrl('/search', { tag: ['a', 'b'] }), '/search?tag=a&tag=b');
  assert.deepEqual(splitUrl('/s?tag=a&tag=b&q=hi+there#top'),
    { path: '/s', query: { tag: ['a', 'b'], q: 'hi there' }, hash: 'top' });
});
