'use strict';
// Parse and build URL query strings (application/x-www-form-urlencoded).

/** Form encoding writes a space as '+', which decodeURIComponent leaves alone. */
function decode(text) {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

/** 'a=1&b=x%20y' -> { a: '1', b: 'x y' } */
function parse(query) {
  const out = {};
  const body = query.startsWith('?') ? query.slice(1) : query;
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    if (!Object.prototype.hasOwnProperty.call(out, key)) out[key] = value;
    else if (Array.isArray(out[key])) out[key].push(value);
    else out[key] = [out[key], value];
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
