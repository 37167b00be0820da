// Whether a state descriptor may use state registered or restored under its name (pure): the
// same kind, serializers and TTL, or STATE_TYPE_MISMATCH naming both sides and the fix. Shared by
// every keyed backend, so they refuse the same things with the same words.
import { FloeError, describeContext, type ErrorContext } from '../core/errors.js';
import type { MapStateDescriptor, StateDescriptor } from './descriptors.js';
import type { SnapshotStateMeta } from './keyed-snapshot.js';
import type { KeyedStateBackendOptions } from './keyed-state-backend.js';
import { serializerIdentity } from './serde/type-serializer.js';

/** Where a check runs: the "job 'j', operator 'o', ..." prefix of a state, and the error context. */
export interface StatePlace {
  describe(state?: string): string;
  context: ErrorContext;
}

/** The place of a keyed backend's operator instance ("job 'j', operator 'o', subtask 1/2[, state 's']"). */
export function statePlaceOf(o: KeyedStateBackendOptions): StatePlace {
  return {
    describe: (state) => describeContext({ job: o.job, operator: o.operator, operatorName: o.operatorName, subtask: o.subtask, parallelism: o.parallelism, state }),
    context: { job: o.job, operator: o.operator, subtask: o.subtask },
  };
}

function keySerializerOf(d: StateDescriptor): string | undefined {
  return d.kind === 'map' ? serializerIdentity((d as MapStateDescriptor<unknown, unknown>).keySerializer) : undefined;
}

function ttlOf(d: StateDescriptor): string {
  return d.ttl === undefined ? 'no TTL' : `TTL ${d.ttl.timeToLiveMs} ms ${d.ttl.updateType} ${d.ttl.stateVisibility}`;
}

/** A name already registered in this run is requested again: everything must match. */
export function checkSameRegistration(registered: StateDescriptor, requested: StateDescriptor, place: StatePlace): void {
  const problems: string[] = [];
  if (registered.kind !== requested.kind) problems.push(`it is ${registered.kind} state, requested as ${requested.kind} state`);
  const a = serializerIdentity(registered.serializer);
  const b = serializerIdentity(requested.serializer);
  if (a !== b) problems.push(`its serializer is ${a}, requested with ${b}`);
  const ka = keySerializerOf(registered);
  const kb = keySerializerOf(requested);
  if (ka !== undefined && kb !== undefined && ka !== kb) problems.push(`its key serializer is ${ka}, requested with ${kb}`);
  if (ttlOf(registered) !== ttlOf(requested)) problems.push(`it has ${ttlOf(registered)}, requested with ${ttlOf(requested)}`);
  if (problems.length > 0)
    throw new FloeError(
      'STATE_TYPE_MISMATCH',
      `${place.describe(requested.name)} is already registered and ${problems.join('; ')}. Use another state name, or the same descriptor.`,
      { context: { ...place.context, state: requested.name } },
    );
}

/** A descriptor claims restored state: kind and serializers must match (TTL may be switched; backends adapt). */
export function checkRestoredState(d: StateDescriptor, meta: SnapshotStateMeta, place: StatePlace): void {
  if (meta.kind !== d.kind || meta.serializer !== serializerIdentity(d.serializer) || meta.keySerializer !== keySerializerOf(d))
    throw new FloeError(
      'STATE_TYPE_MISMATCH',
      `${place.describe(d.name)}: the checkpoint holds ${meta.kind} state with serializer ${meta.serializer}, but the job now declares ${d.kind} state with serializer ${serializerIdentity(d.serializer)}. Keep the old descriptor, or give the new one another name (the old state is then not restored).`,
      { context: { ...place.context, state: d.name } },
    );
}
