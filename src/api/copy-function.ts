// Gives each parallel subtask its own copy of a user function object, as Flink does by
// serializing the function: fields set in open() (state handles, buffers) are per subtask.

/**
 * Copies a function object: same prototype, own fields copied; plain arrays, objects, Maps and
 * Sets among them are deep-copied so subtasks never share a buffer. Plain functions (lambdas)
 * are returned as they are: they carry no fields of their own.
 */
export function copyFunction<F>(fn: F): F {
  if (typeof fn !== 'object' || fn === null) return fn;
  const copy = Object.create(Object.getPrototypeOf(fn)) as Record<PropertyKey, unknown>;
  for (const key of Reflect.ownKeys(fn)) {
    const descriptor = Object.getOwnPropertyDescriptor(fn, key)!;
    if ('value' in descriptor) descriptor.value = copyField(descriptor.value);
    Object.defineProperty(copy, key, descriptor);
  }
  return copy as F;
}

function copyField(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value);
  const plain = Array.isArray(value) || value instanceof Map || value instanceof Set || proto === Object.prototype || proto === null;
  if (!plain) return value;
  try {
    return structuredClone(value);
  } catch {
    return value; // holds functions or class instances: share it, as a closure would be shared
  }
}
