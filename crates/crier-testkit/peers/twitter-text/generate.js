// Writes twitter-text's URL and emoji regexes as Rust regex syntax, for crier-providers'
// `x::text` (src/x/regex/*.txt). Run after changing the pinned version:
//   node generate.js ../../../crier-providers/src/x/regex
//
// JavaScript regexes without the `u` flag match UTF-16 code units. Crier matches the same way:
// it maps each code unit to one character (a surrogate D800–DFFF to U+F0000–U+F07FF, every other
// unit to itself), so these patterns are written over that alphabet. One more unit is moved:
// U+017F (ſ), which Rust's case-insensitive matching equates with `s` and JavaScript's does not,
// goes to U+F0800, a character without case (U+212A, the other such one, is gone after NFC). Other translations: `\d`,
// `\w`, `\s` as JavaScript defines them, `.` as "not a line terminator", the `i` flag as `(?i)`.
'use strict';
const fs = require('fs');
const path = require('path');

const out = process.argv[2];
if (!out) throw new Error('usage: node generate.js OUT_DIR');

const load = (p) => { const m = require(p); return m.default || m; };
const patterns = {
  extract_url: load('twitter-text/dist/regexp/extractUrl.js'),
  valid_ascii_domain: load('twitter-text/dist/regexp/validAsciiDomain.js'),
  valid_tco_url: load('twitter-text/dist/regexp/validTcoUrl.js'),
  emoji: load('twemoji-parser/dist/lib/regex.js'),
};

const SURROGATE_LO = 0xd800;
const SURROGATE_HI = 0xdfff;
const LONG_S = 0x17f;
const LONG_S_ALIAS = 0xf0800;
const mapUnit = (u) => {
  if (u >= SURROGATE_LO && u <= SURROGATE_HI) return 0xf0000 + (u - SURROGATE_LO);
  return u === LONG_S ? LONG_S_ALIAS : u;
};

// One character of the mapped alphabet as a Rust regex atom (literal when plainly safe).
const atom = (c) => {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
    return String.fromCharCode(c);
  }
  return `\\x{${c.toString(16).toUpperCase()}}`;
};
const unit = (u) => atom(mapUnit(u));

// A range of code units, split around the surrogates (mapped elsewhere).
const range = (a, b) => {
  if (a > b) throw new Error(`bad range ${a}-${b}`);
  const parts = [];
  const push = (x, y) => parts.push(x === y ? atom(x) : `${atom(x)}-${atom(y)}`);
  const toMapped = (u) => 0xf0000 + (u - SURROGATE_LO);
  if (a < SURROGATE_LO) push(a, Math.min(b, SURROGATE_LO - 1));
  if (b >= SURROGATE_LO && a <= SURROGATE_HI) {
    push(toMapped(Math.max(a, SURROGATE_LO)), toMapped(Math.min(b, SURROGATE_HI)));
  }
  if (b > SURROGATE_HI) push(Math.max(a, SURROGATE_HI + 1), b);
  if (a <= LONG_S && LONG_S <= b) parts.push(atom(LONG_S_ALIAS));
  return parts.join('');
};

const CLASSES = {
  d: '0-9',
  D: '^0-9',
  w: 'A-Za-z0-9_',
  W: '^A-Za-z0-9_',
};
// JavaScript's \s: WhiteSpace and LineTerminator.
const SPACE_UNITS = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
const spaceItems = () => SPACE_UNITS.map(([a, b]) => range(a, b)).join('');

function translate(src) {
  let i = 0;
  let outStr = '';
  // Reads one escape after a backslash; returns {unit} or {cls} (class items, unbracketed).
  const escape = () => {
    const c = src[i++];
    if (c === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i, i + 4))) {
      const u = parseInt(src.slice(i, i + 4), 16); i += 4; return { unit: u };
    }
    if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(src.slice(i, i + 2))) {
      const u = parseInt(src.slice(i, i + 2), 16); i += 2; return { unit: u };
    }
    if (c === 'd' || c === 'w') return { cls: CLASSES[c] };
    if (c === 's') return { cls: spaceItems() };
    if (c === 'D' || c === 'W' || c === 'S') return { negCls: c === 'S' ? spaceItems() : CLASSES[c].slice(1) };
    if (c === 'n') return { unit: 0x0a };
    if (c === 'r') return { unit: 0x0d };
    if (c === 't') return { unit: 0x09 };
    if (c === 'f') return { unit: 0x0c };
    if (c === 'v') return { unit: 0x0b };
    if (/[1-9bB]/.test(c)) throw new Error(`unsupported escape \\${c}`);
    return { unit: c.charCodeAt(0) };
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i++;
      const e = escape();
      if (e.unit !== undefined) outStr += unit(e.unit);
      else if (e.cls !== undefined) outStr += `[${e.cls}]`;
      else outStr += `[^${e.negCls}]`;
    } else if (c === '[') {
      i++;
      let negated = false;
      if (src[i] === '^') { negated = true; i++; }
      const items = [];
      let first = true;
      while (src[i] !== ']' || (first && false)) {
        first = false;
        let lo;
        if (src[i] === '\\') {
          i++;
          const e = escape();
          if (e.unit === undefined) {
            if (e.negCls !== undefined) throw new Error('negated class escape inside a class');
            items.push(e.cls);
            continue;
          }
          lo = e.unit;
        } else {
          lo = src.charCodeAt(i++);
        }
        if (src[i] === '-' && src[i + 1] !== ']') {
          i++;
          let hi;
          if (src[i] === '\\') {
            i++;
            const e = escape();
            if (e.unit === undefined) throw new Error('class escape as a range end');
            hi = e.unit;
          } else {
            hi = src.charCodeAt(i++);
          }
          items.push(range(lo, hi));
        } else {
          items.push(unit(lo));
        }
      }
      i++;
      outStr += `[${negated ? '^' : ''}${items.join('')}]`;
    } else if (c === '.') {
      i++;
      outStr += `[^${unit(0x0a)}${unit(0x0d)}${unit(0x2028)}${unit(0x2029)}]`;
    } else if ('()|?*+^$'.includes(c)) {
      // Group openers `(?:`, `(?=`, `(?!` are the same in Rust (fancy-regex).
      if (c === '(' && src[i + 1] === '?') {
        const kind = src.slice(i, i + 3);
        if (!['(?:', '(?=', '(?!'].includes(kind)) throw new Error(`unsupported group ${kind}`);
        outStr += kind; i += 3;
      } else {
        outStr += c; i++;
      }
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(src.slice(i))) {
      const q = src.slice(i).match(/^\{\d+(,\d*)?\}/)[0];
      outStr += q; i += q.length;
    } else {
      outStr += unit(src.charCodeAt(i++));
    }
  }
  return outStr;
}

for (const [name, re] of Object.entries(patterns)) {
  const body = translate(re.source);
  const text = (re.flags.includes('i') ? '(?i)' : '') + body + '\n';
  fs.writeFileSync(path.join(out, `${name}.txt`), text);
  console.log(`${name}: ${text.length} bytes (flags ${re.flags})`);
}
