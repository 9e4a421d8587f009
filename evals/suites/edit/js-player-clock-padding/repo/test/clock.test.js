'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { formatClock, progressLabel } = require('../lib/clock');

test('minutes and seconds', () => {
  assert.strictEqual(formatClock(754), '12:34');
});

test('progress label', () => {
  assert.strictEqual(progressLabel(754, 3370), '12:34 / 56:10');
});
