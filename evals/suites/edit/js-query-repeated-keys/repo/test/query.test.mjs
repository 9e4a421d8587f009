import test from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, stringifyQuery } from '../src/query.mjs';
import { buildUrl, splitUrl } from '../src/url.mjs';

test('parse simple query', () => {
  assert.deepEqual(parseQuery('?page=2&sort=name'), { page: '2', sort: 'name' });
  assert.deepEqual(parseQuery(''), {});
});

test('stringify skips empty values', () => {
  assert.equal(stringifyQuery({ a: 1, b: null, c: 'x y' }), 'a=1&c=x%20y');
});

test('urls', () => {
  assert.equal(buildUrl('/search', { q: 'cats', page: 2 }), '/search?q=cats&page=2');
  assert.deepEqual(splitUrl('/s?q=1#top'), { path: '/s', query: { q: '1' }, hash: 'top' });
});
