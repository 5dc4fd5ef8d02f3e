// The subset of Go's text/template that ESO's webhook provider docs use, for `url`, `headers`,
// `body` and `result.jsonPath`: text and `{{ pipeline }}` actions (with `{{-`/`-}}` trimming and
// `{{/* comments */}}`), field chains (`.remoteRef.key`, `.auth.token`), string/number/bool
// literals, parenthesised pipelines, `|` pipelines, `{{ if }} … {{ else }} … {{ end }}` and the
// functions in FUNCS. Anything else (range, with, define, variables, other functions) is refused
// with an invalid-config error naming the construct.
//
// Pure module: `node --test` loads it (test/gotemplate.test.js).

import { invalidConfig } from '../vendor/ampoule-sdk/errors.js';

/** A template error (invalid-config, as ESO's store would never work with it). */
const fail = (what, why) => invalidConfig(`${what}: ${why}`);

// ---- values -------------------------------------------------------------------------------

/** Go's url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ is %XX, space is `+`. */
export function queryEscape(s) {
  let out = '';
  for (const byte of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Go's json.Marshal: object keys sorted, `<`, `>`, `&` escaped as in Go. */
export function goJson(value) {
  const sortKeys = (v) => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sortKeys(v[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sortKeys(value) ?? null)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** How Go's fmt prints a value with %v (maps as `map[k:v ...]`, sorted). */
function goString(v) {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (isMap(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goString(v[k])}`)
      .join(' ')}]`;
  }
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  return String(v);
}

/** Go templates' truthiness: false, 0, nil, and empty strings, maps and lists are false. */
function truthy(v) {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** fmt.Sprint: operands are concatenated, with a space between two that are not strings. */
function sprint(args) {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a);
  });
  return out;
}

function sprintf(format, args) {
  let i = 0;
  return String(format).replace(/%([%svdq])/g, (_, verb) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (verb === 'q') return JSON.stringify(goString(a));
    if (verb === 'd' && typeof a !== 'number') return `%!d(${typeof a}=${goString(a)})`;
    return goString(a);
  });
}

function b64enc(s) {
  const bytes = new TextEncoder().encode(goString(s));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function b64dec(s) {
  let bin;
  try {
    bin = atob(goString(s));
  } catch {
    throw { tag: 'internal', val: 'b64dec: input is not base64' };
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

function index(collection, ...keys) {
  let v = collection;
  for (const k of keys) {
    if (isMap(v)) v = Object.hasOwn(v, k) ? v[k] : undefined;
    else if (Array.isArray(v) && Number.isInteger(k)) v = v[k];
    else if (typeof v === 'string' && Number.isInteger(k)) v = v.charCodeAt(k);
    else throw { tag: 'internal', val: `index: cannot index ${goString(v)} with ${goString(k)}` };
  }
  return v;
}

/** The functions templates may call: Go's builtins and the sprig ones ESO's docs use. */
export const FUNCS = {
  print: (...a) => sprint(a),
  printf: (f, ...a) => sprintf(f, a),
  urlquery: (...a) => queryEscape(sprint(a)),
  index,
  b64enc,
  b64dec,
  toJson: (v) => goJson(v),
  quote: (...a) => a.map((v) => JSON.stringify(goString(v))).join(' '),
  lower: (s) => goString(s).toLowerCase(),
  upper: (s) => goString(s).toUpperCase(),
  trim: (s) => goString(s).trim(),
  default: (d, v) => (truthy(v) ? v : d),
};

// ---- lexing and parsing -------------------------------------------------------------------

/**
 * Parses a template; `what` names it in errors (e.g. `url`, `headers.Authorization`).
 * @returns {{what: string, nodes: any[]}}
 */
export function parseTemplate(text, what) {
  if (typeof text !== 'string') throw fail(what, 'must be a string');
  const items = [];
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    if (open < 0) {
      items.push({ text: text.slice(pos) });
      break;
    }
    let before = text.slice(pos, open);
    let start = open + 2;
    if (text.startsWith('- ', start) || text.startsWith('-\t', start) || text.startsWith('-\n', start)) {
      before = before.replace(/\s+$/, '');
      start += 1;
    }
    const close = findClose(text, start, what);
    let inner = text.slice(start, close);
    let end = close + 2;
    let trimAfter = false;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimAfter = true;
    }
    if (before !== '') items.push({ text: before });
    items.push({ action: inner.trim() });
    pos = end;
    if (trimAfter) while (pos < text.length && /\s/.test(text[pos])) pos++;
  }
  // Trimming after an action applies to the text that follows it, even if it was pushed first.
  const { nodes, rest } = parseList(items, 0, what);
  if (rest < items.length) throw fail(what, `unexpected {{${items[rest].action}}}`);
  return { what, nodes };
}

function findClose(text, from, what) {
  let i = from;
  let quote = null;
  while (i < text.length) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === '`') {
      quote = c;
    } else if (text.startsWith('}}', i)) {
      return i;
    }
    i++;
  }
  throw fail(what, 'unclosed action (missing }})');
}

/** Parses items up to an `else`/`end` (returned in `stop`). */
function parseList(items, from, what) {
  const nodes = [];
  let i = from;
  while (i < items.length) {
    const item = items[i];
    if ('text' in item) {
      nodes.push({ type: 'text', value: item.text });
      i++;
      continue;
    }
    const action = item.action;
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) throw fail(what, 'unclosed comment');
      i++;
      continue;
    }
    const word = /^[A-Za-z]+/.exec(action)?.[0];
    if (word === 'else' || word === 'end') return { nodes, rest: i, stop: word };
    if (word === 'if') {
      const cond = parsePipeline(action.slice(2), what);
      const then = parseList(items, i + 1, what);
      let otherwise = [];
      let j = then.rest;
      if (then.stop === 'else') {
        if (items[j].action !== 'else') throw fail(what, `unsupported template construct: {{${items[j].action}}}`);
        const alt = parseList(items, j + 1, what);
        if (alt.stop !== 'end') throw fail(what, 'missing {{end}}');
        otherwise = alt.nodes;
        j = alt.rest;
      } else if (then.stop !== 'end') {
        throw fail(what, 'missing {{end}}');
      }
      if (items[j].action !== 'end') throw fail(what, `unexpected {{${items[j].action}}}`);
      nodes.push({ type: 'if', cond, then: then.nodes, otherwise });
      i = j + 1;
      continue;
    }
    if (['range', 'with', 'define', 'template', 'block', 'break', 'continue'].includes(word)) {
      throw fail(what, `unsupported template construct: ${word}`);
    }
    nodes.push({ type: 'action', pipe: parsePipeline(action, what) });
    i++;
  }
  return { nodes, rest: i, stop: undefined };
}

function tokenize(src, what) {
  const tokens = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '|' || c === '(' || c === ')') {
      tokens.push({ t: c });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw fail(what, 'unterminated string');
      try {
        tokens.push({ t: 'lit', v: JSON.parse(src.slice(i, j + 1)) });
      } catch {
        throw fail(what, `bad string literal ${src.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw fail(what, 'unterminated raw string');
      tokens.push({ t: 'lit', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '.') {
      const m = /^(\.[A-Za-z_][A-Za-z0-9_]*)+|^\./.exec(src.slice(i));
      const chain = m[0] === '.' ? [] : m[0].slice(1).split('.');
      tokens.push({ t: 'field', chain });
      i += m[0].length;
    } else if (c === '$') {
      throw fail(what, 'unsupported template construct: variables ($)');
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(src.slice(i));
      if (!m) throw fail(what, `unexpected ${c}`);
      tokens.push({ t: 'lit', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      const word = m[0];
      if (word === 'true' || word === 'false') tokens.push({ t: 'lit', v: word === 'true' });
      else if (word === 'nil') tokens.push({ t: 'lit', v: null });
      else tokens.push({ t: 'ident', v: word });
      i += word.length;
      if (src[i] === '.') throw fail(what, `unsupported template construct: ${word}.`);
    } else {
      throw fail(what, `unexpected ${c}`);
    }
  }
  return tokens;
}

function parsePipeline(src, what) {
  const tokens = tokenize(src, what);
  let pos = 0;
  const pipeline = () => {
    const commands = [];
    for (;;) {
      const args = [];
      while (pos < tokens.length && tokens[pos].t !== '|' && tokens[pos].t !== ')') {
        const tok = tokens[pos++];
        if (tok.t === '(') {
          args.push({ t: 'pipe', pipe: pipeline() });
          if (tokens[pos]?.t !== ')') throw fail(what, 'missing )');
          pos++;
        } else {
          args.push(tok);
        }
      }
      if (args.length === 0) throw fail(what, 'empty command');
      if (args[0].t === 'ident' && !Object.hasOwn(FUNCS, args[0].v)) {
        throw fail(what, `unsupported template function ${args[0].v}`);
      }
      if (args[0].t !== 'ident' && args.length > 1) throw fail(what, `can't give arguments to a non-function`);
      args.slice(1).forEach((a) => {
        if (a.t === 'ident') throw fail(what, `function ${a.v} used as an argument (wrap it in parentheses)`);
      });
      commands.push(args);
      if (tokens[pos]?.t !== '|') return commands;
      pos++;
    }
  };
  const commands = pipeline();
  if (pos < tokens.length) throw fail(what, 'unexpected )');
  return commands;
}

// ---- walking and rendering ----------------------------------------------------------------

/** Every field chain a template reads (`.auth.token` → ['auth', 'token']), and `index` calls. */
export function fieldsOf(template) {
  const found = [];
  const visitPipe = (commands) => {
    for (const args of commands) {
      if (args[0].t === 'ident' && args[0].v === 'index' && args[1]?.t === 'field') {
        const keys = args.slice(2);
        found.push({
          chain: args[1].chain,
          index: keys.map((k) => (k.t === 'lit' && typeof k.v === 'string' ? k.v : undefined)),
        });
      }
      const indexed = args[0].t === 'ident' && args[0].v === 'index' ? args[1] : undefined;
      for (const a of args) {
        if (a.t === 'field' && a !== indexed) found.push({ chain: a.chain });
        if (a.t === 'pipe') visitPipe(a.pipe);
      }
    }
  };
  const visit = (nodes) => {
    for (const n of nodes) {
      if (n.type === 'action') visitPipe(n.pipe);
      if (n.type === 'if') {
        visitPipe(n.cond);
        visit(n.then);
        visit(n.otherwise);
      }
    }
  };
  visit(template.nodes);
  return found;
}

/** Renders a parsed template over `data` (`{remoteRef: {...}, <secret name>: {...}}`). */
export function render(template, data) {
  const field = (chain) => {
    let v = data;
    for (const name of chain) {
      if (!isMap(v)) {
        throw fail(template.what, `can't evaluate field ${name} in ${goString(v)}`);
      }
      v = Object.hasOwn(v, name) ? v[name] : undefined;
    }
    return v;
  };
  const evalArg = (a) => {
    if (a.t === 'lit') return a.v;
    if (a.t === 'field') return field(a.chain);
    if (a.t === 'pipe') return evalPipe(a.pipe);
    throw fail(template.what, `unexpected ${a.v}`);
  };
  const evalPipe = (commands) => {
    let value;
    commands.forEach((args, i) => {
      if (args[0].t === 'ident') {
        const params = args.slice(1).map(evalArg);
        if (i > 0) params.push(value);
        value = FUNCS[args[0].v](...params);
      } else {
        if (i > 0) throw fail(template.what, 'only a function can follow |');
        value = evalArg(args[0]);
      }
    });
    return value;
  };
  const out = [];
  const walk = (nodes) => {
    for (const n of nodes) {
      if (n.type === 'text') out.push(n.value);
      else if (n.type === 'action') out.push(goString(evalPipe(n.pipe)));
      else walk(truthy(evalPipe(n.cond)) ? n.then : n.otherwise);
    }
  };
  walk(template.nodes);
  return out.join('');
}

/** The text before the first action: what a templated URL is known to start with. */
export function staticPrefix(template) {
  const first = template.nodes[0];
  if (first === undefined) return { prefix: '', whole: true };
  if (first.type !== 'text') return { prefix: '', whole: false };
  return { prefix: first.value, whole: template.nodes.length === 1 };
}
