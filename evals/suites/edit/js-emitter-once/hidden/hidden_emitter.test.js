'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Emitter } = require('./src/emitter.js');
const { createStore } = require('./src/store.js');

test('once runs on the next emit only', () => {
  const em = new Emitter();
  const seen = [];
  em.once('tick', (a, b) => seen.push([a, b]));
  assert.equal(em.listenerCount('tick'), 1);
  assert.equal(em.emit('tick', 1, 2), true);
  em.emit('tick', 3, 4);
  assert.deepEqual(seen, [[1, 2]]);
  assert.equal(em.listenerCount('tick'), 0);
});

test('once and on together keep their order', () => {
  const em = new Emitter();
  const seen = [];
  em.on('x', () => seen.push('a'));
  em.once('x', () => seen.push('b'));
  em.on('x', () => seen.push('c'));
  em.emit('x');
  em.emit('x');
  assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'c']);
});

test('off with the original function cancels a once listener', () => {
  const em = new Emitter();
  let calls = 0;
  const listener = () => { calls += 1; };
  em.once('x', listener);
  em.off('x', listener);
  em.emit('x');
  assert.equal(calls, 0);
  assert.equal(em.listenerCount('x'), 0);
});

test('once returns an unsubscribe function', () => {
  const em = new Emitter();
  let calls = 0;
  const unsubscribe = em.once('x', () => { calls += 1; });
  assert.equal(typeof unsubscribe, 'function');
  unsubscribe();
  em.emit('x');
  assert.equal(calls, 0);
});

test('a once listener is not called again when it emits the same event', () => {
  const em = new Emitter();
  let calls = 0;
  em.once('x', () => {
    calls += 1;
    em.emit('x');
  });
  em.emit('x');
  assert.equal(calls, 1);
});

test('a listener removing itself does not make the next one miss the event', () => {
  const em = new Emitter();
  const seen = [];
  em.on('x', () => seen.push('a'));
  const removeB = em.on('x', () => { seen.push('b'); removeB(); });
  em.on('x', () => seen.push('c'));
  em.emit('x');
  em.emit('x');
  assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'c']);
});

test('several once listeners all fire', () => {
  const em = new Emitter();
  const seen = [];
  em.once('x', () => seen.push(1));
  em.once('x', () => seen.push(2));
  em.once('x', () => seen.push(3));
  em.emit('x');
  em.emit('x');
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(em.emit('x'), false);
});

test('store subscriber that unsubscribes inside its callback', () => {
  const store = createStore({ n: 0 });
  const seen = [];
  const stop = store.subscribe((state) => { seen.push(`first:${state.n}`); stop(); });
  store.subscribe((state) => seen.push(`second:${state.n}`));
  store.subscribe((state) => seen.push(`third:${state.n}`));
  store.setState({ n: 1 });
  store.setState({ n: 2 });
  assert.deepEqual(seen, ['first:1', 'second:1', 'third:1', 'second:2', 'third:2']);
  assert.equal(store.subscriberCount(), 2);
});

test('store.nextChange resolves with the state after the next change', async () => {
  const store = createStore({ theme: 'light', size: 12 });
  const first = store.nextChange();
  const second = store.nextChange();
  assert.ok(first instanceof Promise);
  store.setState({ theme: 'dark' });
  store.setState({ theme: 'blue' });
  assert.deepEqual(await first, { theme: 'dark', size: 12 });
  assert.deepEqual(await second, { theme: 'dark', size: 12 });
  assert.equal(store.subscriberCount(), 0);
  const third = store.nextChange();
  store.setState({ size: 14 });
  assert.deepEqual(await third, { theme: 'blue', size: 14 });
});
