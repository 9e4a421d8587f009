'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { formatClock, progressLabel, remainingLabel } = require('./lib/clock.js');

const cases = [
  [0, '0:00'],
  [5, '0:05'],
  [59, '0:59'],
  [60, '1:00'],
  [65, '1:05'],
  [600, '10:00'],
  [754, '12:34'],
  [3599, '59:59'],
  [3600, '1:00:00'],
  [3605, '1:00:05'],
  [3725.9, '1:02:05'],
  [36000, '10:00:00'],
  [45296, '12:34:56'],
];

for (const [input, expected] of cases) {
  test(`formatClock(${input}) is ${expected}`, () => {
    assert.strictEqual(formatClock(input), expected);
  });
}

test('labels use the padded clock', () => {
  assert.strictEqual(progressLabel(65, 3605), '1:05 / 1:00:05');
  assert.strictEqual(remainingLabel(3600, 3605), '-0:05');
});
