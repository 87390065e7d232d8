'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { compare, sortVersions } = require('./semver.js');

test('equal versions compare as 0', () => {
  assert.equal(compare('1.2.3', '1.2.3'), 0);
});

test('major, minor and patch compare in order', () => {
  assert.equal(compare('2.0.0', '1.9.9'), 1);
  assert.equal(compare('1.2.0', '1.3.0'), -1);
  assert.equal(compare('1.2.4', '1.2.3'), 1);
});

test('numbers compare numerically, not as text', () => {
  assert.equal(compare('1.10.0', '1.9.0'), 1);
  assert.equal(compare('10.0.0', '9.0.0'), 1);
});

test('a prerelease sorts before its release', () => {
  assert.equal(compare('1.0.0-rc.1', '1.0.0'), -1);
  assert.equal(compare('1.0.0', '1.0.0-alpha'), 1);
});

test('prerelease identifiers compare numerically when numeric', () => {
  assert.equal(compare('1.0.0-rc.2', '1.0.0-rc.10'), -1);
  assert.equal(compare('1.0.0-alpha', '1.0.0-beta'), -1);
  assert.equal(compare('1.0.0-alpha', '1.0.0-alpha.1'), -1);
});

test('sortVersions orders a release train', () => {
  assert.deepEqual(
    sortVersions(['1.10.0', '1.0.0', '1.0.0-rc.1', '1.2.0', '1.0.0-beta']),
    ['1.0.0-beta', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0'],
  );
});
