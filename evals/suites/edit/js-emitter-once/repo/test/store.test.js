'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Emitter, createStore } = require('../src');

test('emitter calls listeners in order', () => {
  const em = new Emitter();
  const seen = [];
  em.on('x', (v) => seen.push(`a${v}`));
  em.on('x', (v) => seen.push(`b${v}`));
  assert.equal(em.emit('x', 1), true);
  assert.equal(em.emit('nothing'), false);
  assert.deepEqual(seen, ['a1', 'b1']);
});

test('store notifies subscribers', () => {
  const store = createStore({ theme: 'light', size: 12 });
  const seen = [];
  const unsubscribe = store.subscribe((state, previous) => seen.push([previous.theme, state.theme]));
  store.setState({ theme: 'dark' });
  unsubscribe();
  store.setState({ theme: 'blue' });
  assert.deepEqual(seen, [['light', 'dark']]);
  assert.deepEqual(store.getState(), { theme: 'blue', size: 12 });
  assert.equal(store.subscriberCount(), 0);
});
