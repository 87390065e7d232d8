'use strict';
// Parse and build URL query strings (application/x-www-form-urlencoded).

/** 'a=1&b=x%20y' -> { a: '1', b: 'x y' } */
function parse(query) {
  const out = {};
  for (const pair of query.split('&')) {
    const [key, value] = pair.split('=');
    out[decodeURIComponent(key)] = decodeURIComponent(value);
  }
  return out;
}

/** { a: '1', tag: ['x', 'y'] } -> 'a=1&tag=x&tag=y' (arrays repeat the key). */
function stringify(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
    }
  }
  return parts.join('&');
}

module.exports = { parse, stringify };
