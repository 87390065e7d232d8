'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { parse, stringify } = require('../qs.js');

test('parses simple pairs and percent-escapes', () => {
  assert.deepEqual(parse('a=1&b=x%20y'), { a: '1', b: 'x y' });
});

test('plus means space in form encoding', () => {
  assert.deepEqual(parse('q=hello+world&name=Ada+Lovelace'), { q: 'hello world', name: 'Ada Lovelace' });
});

test('repeated keys collect into an array, in order', () => {
  assert.deepEqual(parse('tag=x&tag=y&tag=z&one=1'), { tag: ['x', 'y', 'z'], one: '1' });
});

test('leading ?, empty pairs and bare keys', () => {
  assert.deepEqual(parse('?debug&&page=2&'), { debug: '', page: '2' });
  assert.deepEqual(parse(''), {});
});

test('values may contain =', () => {
  assert.deepEqual(parse('token=abc==&x=1'), { token: 'abc==', x: '1' });
});

test('stringify round-trips through parse', () => {
  const params = { q: 'a b&c', tag: ['x', 'y'] };
  assert.deepEqual(parse(stringify(params)), params);
});
