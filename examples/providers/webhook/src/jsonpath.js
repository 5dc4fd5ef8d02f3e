// The JSONPath subset ESO's webhook docs use for `result.jsonPath`, with the answers of the
// library ESO uses (PaesslerAG/jsonpath): `$`, `.name`, `['name']` / `["name"]`, `[n]` (negative
// from the end), `[*]` / `.*`, and `[a,b]` unions. A path with a wildcard or union answers a
// list of matches; a plain path answers the value itself. A missing key or index is an error.
// Recursive descent (`..`), slices and filters are refused with invalid-config.
//
// Pure module: `node --test` loads it (test/jsonpath.test.js).

import { internal, invalidConfig } from '../vendor/ampoule-sdk/errors.js';

/** @param {any} v @returns {v is Record<string, any>} */
const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses `path` into steps: `{key}`, `{index}`, `{wild: true}` or `{union: [...]}`.
 * @param {string} path
 */
export function parsePath(path) {
  const bad = (why) => invalidConfig(`result.jsonPath ${path}: ${why}`);
  if (typeof path !== 'string' || !path.startsWith('$')) throw bad('must start with $');
  const steps = [];
  let i = 1;
  while (i < path.length) {
    if (path.startsWith('..', i)) throw bad('recursive descent (..) is not supported');
    if (path[i] === '.') {
      if (path[i + 1] === '*') {
        steps.push({ wild: true });
        i += 2;
        continue;
      }
      const m = /^[A-Za-z0-9_\-$@]+/.exec(path.slice(i + 1));
      if (!m) throw bad(`expected a name after . at ${i}`);
      steps.push({ key: m[0] });
      i += 1 + m[0].length;
    } else if (path[i] === '[') {
      const close = findBracket(path, i + 1);
      if (close < 0) throw bad('unclosed [');
      const inner = path.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') {
        steps.push({ wild: true });
        continue;
      }
      if (inner.startsWith('?') || inner.startsWith('(')) throw bad('filters and script expressions are not supported');
      if (/^-?\d*:/.test(inner)) throw bad('slices are not supported');
      const parts = splitUnion(inner).map((p) => selector(p, bad));
      steps.push(parts.length === 1 ? parts[0] : { union: parts });
    } else {
      throw bad(`unexpected ${path[i]} at ${i}`);
    }
  }
  return steps;
}

function findBracket(path, from) {
  let quote = null;
  for (let i = from; i < path.length; i++) {
    const c = path[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ']') return i;
  }
  return -1;
}

function splitUnion(inner) {
  const parts = [];
  let quote = null;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ',') {
      parts.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(inner.slice(start).trim());
  return parts;
}

function selector(part, bad) {
  if (/^-?\d+$/.test(part)) return { index: Number(part) };
  const m = /^(["'])(.*)\1$/s.exec(part);
  if (!m) throw bad(`unsupported selector [${part}]`);
  const body = m[2].replace(/\\(.)/g, '$1');
  return { key: body };
}

/**
 * Evaluates `path` on a parsed JSON document, as PaesslerAG/jsonpath does.
 * @param {string} path
 * @param {unknown} doc
 */
export function jsonPath(path, doc) {
  const steps = parsePath(path);
  const multi = steps.some((s) => s.wild || s.union);
  let current = [doc];
  for (const step of steps) {
    const next = [];
    for (const node of current) {
      for (const sel of step.union ?? [step]) {
        if (sel.wild) {
          if (Array.isArray(node)) next.push(...node);
          else if (isMap(node)) next.push(...Object.keys(node).sort().map((k) => node[k]));
          else if (!multi) throw internal(`result.jsonPath ${path}: cannot use * on ${typeName(node)}`);
        } else if (sel.key !== undefined) {
          if (isMap(node) && Object.hasOwn(node, sel.key)) next.push(node[sel.key]);
          else if (!multi) throw internal(`result.jsonPath ${path}: unknown key ${sel.key}`);
        } else {
          const idx = sel.index < 0 && Array.isArray(node) ? node.length + sel.index : sel.index;
          if (Array.isArray(node) && idx >= 0 && idx < node.length) next.push(node[idx]);
          else if (!multi) throw internal(`result.jsonPath ${path}: index ${sel.index} out of range`);
        }
      }
    }
    current = next;
  }
  return multi ? current : current[0];
}

function typeName(v) {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}
