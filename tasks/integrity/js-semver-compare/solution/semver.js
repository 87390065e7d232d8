'use strict';
// Compare semantic versions (MAJOR.MINOR.PATCH with an optional -prerelease).

/** Split '1.2.3-rc.1' into { nums: [1, 2, 3], pre: ['rc', '1'] }. */
function parse(version) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version);
  if (!m) throw new TypeError(`not a semantic version: ${version}`);
  return { nums: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

/** Semver's rule for one prerelease identifier: numbers < text, numbers by value. */
function compareIdent(p, q) {
  const pn = /^\d+$/.test(p);
  const qn = /^\d+$/.test(q);
  if (pn && qn) return Math.sign(Number(p) - Number(q));
  if (pn !== qn) return pn ? -1 : 1;
  return p < q ? -1 : p > q ? 1 : 0;
}

/**
 * -1 when a < b, 0 when equal, 1 when a > b, by semver precedence: numbers compare
 * numerically, and a prerelease (1.0.0-rc.1) sorts before its release (1.0.0).
 */
function compare(a, b) {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    if (x.nums[i] !== y.nums[i]) return x.nums[i] < y.nums[i] ? -1 : 1;
  }
  if (!x.pre.length || !y.pre.length) return Math.sign(y.pre.length - x.pre.length);
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const c = compareIdent(x.pre[i], y.pre[i]);
    if (c !== 0) return c;
  }
  return Math.sign(x.pre.length - y.pre.length);
}

/** The versions sorted from lowest to highest precedence (a new array). */
function sortVersions(versions) {
  return [...versions].sort(compare);
}

module.exports = { parse, compare, sortVersions };
