// JSON that keeps what plain JSON loses: bigints, -0, NaN, ±Infinity and undefined. Pure, no I/O.
// Such values become one-key objects `{"$bigint":"12"}`, `{"$number":"NaN"}`, `{"$undefined":1}`;
// user keys that start with '$' get one more '$' so a user object can never pass for a tag.
import { FloeError, describeValue } from '../../core/errors.js';

const BIGINT = '$bigint';
const NUMBER = '$number';
const UNDEFINED = '$undefined';

/**
 * Encodes `value` as JSON text such that `decodeTaggedJson(encodeTaggedJson(v))` deep-equals `v`
 * for every value made of null, undefined, booleans, numbers, bigints, strings, arrays and plain
 * objects. Objects with `toJSON` (e.g. Date) are encoded as their `toJSON()` result, as in JSON.
 *
 * @throws FloeError `INVALID_ARGUMENT` naming the path of a function, symbol, class instance
 *   (Map, Set, typed array, ...) or cycle.
 */
export function encodeTaggedJson(value: unknown): string {
  return JSON.stringify(toTagged(value, '$', new Set()));
}

/** Decodes text written by `encodeTaggedJson`. Throws SyntaxError on malformed JSON. */
export function decodeTaggedJson(text: string): unknown {
  return fromTagged(JSON.parse(text));
}

function toTagged(value: unknown, path: string, parents: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [NUMBER]: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      return { [BIGINT]: value.toString() };
    case 'undefined':
      return { [UNDEFINED]: 1 };
    case 'object':
      break;
    default:
      throw unsupported(path, value);
  }
  if (value === null) return null;
  if (parents.has(value)) throw new FloeError('INVALID_ARGUMENT', `Checkpoint metadata has a cycle at ${path}: it must be a tree of plain data`);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return toTagged((value as { toJSON(): unknown }).toJSON(), path, parents);
  parents.add(value);
  try {
    if (Array.isArray(value)) return Array.from(value, (item, i) => toTagged(item, `${path}[${i}]`, parents));
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw unsupported(path, value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.startsWith('$') ? `$${k}` : k, toTagged(v, `${path}.${k}`, parents)]));
  } finally {
    parents.delete(value);
  }
}

function fromTagged(json: unknown): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return json.map(fromTagged);
  const entries = Object.entries(json);
  if (entries.length === 1) {
    const [key, v] = entries[0];
    if (key === BIGINT && typeof v === 'string') return BigInt(v);
    if (key === NUMBER && typeof v === 'string') return v === '-0' ? -0 : Number(v);
    if (key === UNDEFINED) return undefined;
  }
  // fromEntries defines own properties, so a '__proto__' key stays data instead of a prototype.
  return Object.fromEntries(entries.map(([k, v]) => [k.startsWith('$$') ? k.slice(1) : k, fromTagged(v)]));
}

function unsupported(path: string, value: unknown): FloeError {
  const what = typeof value === 'object' && value !== null ? (value.constructor?.name ?? 'object') : typeof value;
  return new FloeError(
    'INVALID_ARGUMENT',
    `Checkpoint metadata at ${path} is a ${what} (${describeValue(value, 60)}): only plain objects, arrays, strings, numbers, bigints, booleans, null and undefined can be stored`,
  );
}
