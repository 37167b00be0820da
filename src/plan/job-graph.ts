// Turns the user's transformations into a job graph: physical edges with partitioners, resolved
// parallelism and max parallelism, stable uids, and chains of forward-connected operators.
// Pure: no I/O, no runtime objects.
import { FloeError } from '../core/errors.js';
import { checkParallelism, computeDefaultMaxParallelism } from '../core/key-groups.js';
import type { PartitionerSpec } from '../runtime/partitioner.js';
import type { OperatorTransformation, PhysicalTransformation, Transformation } from './transformation.js';

/** Job-wide defaults. */
export interface PlanOptions {
  jobName: string;
  parallelism: number;
  /** Explicit max parallelism for every operator; otherwise derived per operator (Flink's formula). */
  maxParallelism: number | undefined;
  /**
   * Max parallelism of each keyed operator (by uid) in the checkpoint being restored. A keyed
   * operator without an explicit max parallelism adopts it (its key groups must not change); an
   * explicit, different one is refused with MAX_PARALLELISM_MISMATCH, as in Flink.
   */
  restoredMaxParallelism?: ReadonlyMap<string, number>;
}

/** One resolved operator (or source) with its final settings. */
export interface PlannedNode {
  readonly transformation: PhysicalTransformation;
  readonly uid: string;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** True when the job or the operator set the max parallelism (not derived, not restored). */
  readonly maxParallelismExplicit: boolean;
}

/** A physical edge between two chains. */
export interface JobEdge {
  readonly source: JobVertex;
  readonly target: JobVertex;
  readonly partitioner: PartitionerSpec;
  /** 0 for the first (or only) input of the target, 1 for the second input of a connected stream. */
  readonly inputIndex: number;
}

/** A chain of operators that run in one subtask, head first. */
export interface JobVertex {
  readonly id: number;
  readonly nodes: PlannedNode[];
  readonly parallelism: number;
  /** Max parallelism of the head (the key groups of a keyed head). */
  readonly maxParallelism: number;
  readonly inputs: JobEdge[];
  readonly outputs: JobEdge[];
  readonly name: string;
}

export interface JobGraph {
  readonly jobName: string;
  readonly vertices: JobVertex[];
}

interface LogicalEdge {
  source: PhysicalTransformation;
  target: OperatorTransformation;
  partitioner: PartitionerSpec | undefined;
  inputIndex: number;
}

/** Builds the job graph reachable from `sinks`. */
export function buildJobGraph(sinks: Transformation[], options: PlanOptions): JobGraph {
  checkParallelism(options.parallelism, options.maxParallelism ?? Math.max(options.parallelism, 128));
  const physical = collectPhysical(sinks);
  if (physical.length === 0) throw new FloeError('INVALID_JOB', `Job '${options.jobName}' has no operators: add a source and a sink (for example .print()) before execute()`);

  const planned = new Map<PhysicalTransformation, PlannedNode>();
  const usedUids = new Map<string, PhysicalTransformation>();
  for (const t of physical) {
    const node = planNode(t, options);
    const clash = usedUids.get(node.uid);
    if (clash !== undefined)
      throw new FloeError('INVALID_JOB', `Job '${options.jobName}': two operators have the uid '${node.uid}' ('${clash.name}' and '${t.name}'); uids must be unique`);
    usedUids.set(node.uid, t);
    planned.set(t, node);
  }

  const edges: LogicalEdge[] = [];
  for (const t of physical) {
    if (t.type === 'operator') for (const e of resolveInputs(t.input, undefined)) edges.push({ source: e.source, target: t, partitioner: e.partitioner, inputIndex: 0 });
    if (t.type === 'two-input') {
      for (const e of resolveInputs(t.input1, undefined)) edges.push({ source: e.source, target: t, partitioner: e.partitioner, inputIndex: 0 });
      for (const e of resolveInputs(t.input2, undefined)) edges.push({ source: e.source, target: t, partitioner: e.partitioner, inputIndex: 1 });
    }
  }
  for (const e of edges) {
    const target = planned.get(e.target)!;
    if (e.target.keyed && e.inputIndex === 0 && e.partitioner?.type !== 'hash')
      throw new FloeError('INVALID_JOB', `Operator '${target.uid}' uses keyed state but its input is not keyed: call keyBy(...) right before it`);
  }

  const consumers = new Map<PhysicalTransformation, LogicalEdge[]>();
  for (const e of edges) consumers.set(e.source, [...(consumers.get(e.source) ?? []), e]);

  // Chain: a single forward edge between equal parallelism, single consumer, single input.
  const chainedToPrevious = new Set<OperatorTransformation>();
  for (const e of edges) {
    const inputsOfTarget = edges.filter((x) => x.target === e.target);
    const src = planned.get(e.source)!;
    const dst = planned.get(e.target)!;
    const forward = e.partitioner === undefined || e.partitioner.type === 'forward';
    if (forward && e.partitioner?.type === 'forward' && src.parallelism !== dst.parallelism)
      throw new FloeError(
        'INVALID_JOB',
        `Forward edge from '${src.uid}' (parallelism ${src.parallelism}) to '${dst.uid}' (parallelism ${dst.parallelism}): forward needs equal parallelism; use rebalance() instead`,
      );
    if (forward && inputsOfTarget.length === 1 && (consumers.get(e.source)?.length ?? 0) === 1 && src.parallelism === dst.parallelism)
      chainedToPrevious.add(e.target);
  }

  const vertices: JobVertex[] = [];
  const vertexOf = new Map<PhysicalTransformation, JobVertex>();
  for (const t of physical) {
    if (t.type !== 'source' && chainedToPrevious.has(t)) continue;
    const nodes: PlannedNode[] = [planned.get(t)!];
    for (let tail: PhysicalTransformation = t; ; ) {
      const next = consumers.get(tail);
      if (next === undefined || next.length !== 1 || !chainedToPrevious.has(next[0].target)) break;
      tail = next[0].target;
      nodes.push(planned.get(tail)!);
    }
    const head = nodes[0];
    const vertex: JobVertex = {
      id: vertices.length,
      nodes,
      parallelism: head.parallelism,
      maxParallelism: head.maxParallelism,
      inputs: [],
      outputs: [],
      name: nodes.map((n) => n.name).join(' -> '),
    };
    vertices.push(vertex);
    for (const n of nodes) vertexOf.set(n.transformation, vertex);
  }

  for (const e of edges) {
    if (chainedToPrevious.has(e.target)) continue;
    const source = vertexOf.get(e.source)!;
    const target = vertexOf.get(e.target)!;
    const partitioner: PartitionerSpec =
      e.partitioner ?? (source.parallelism === target.parallelism ? { type: 'forward' } : { type: 'rebalance' });
    const edge: JobEdge = { source, target, partitioner, inputIndex: e.inputIndex };
    source.outputs.push(edge);
    target.inputs.push(edge);
  }
  return { jobName: options.jobName, vertices };
}

function planNode(t: PhysicalTransformation, options: PlanOptions): PlannedNode {
  let parallelism = t.parallelism ?? options.parallelism;
  if (t.type === 'source' && t.source.maxParallelism !== undefined) {
    if (t.parallelism !== undefined && t.parallelism > t.source.maxParallelism)
      throw new FloeError('INVALID_JOB', `Source '${t.name}' cannot run with parallelism ${t.parallelism}: it supports at most ${t.source.maxParallelism}`);
    parallelism = Math.min(parallelism, t.source.maxParallelism);
  }
  const uid = t.uid ?? defaultUid(t);
  const explicit = t.maxParallelism ?? options.maxParallelism;
  const restored = t.type === 'source' || !t.keyed ? undefined : options.restoredMaxParallelism?.get(uid);
  if (restored !== undefined && explicit !== undefined && explicit !== restored)
    throw new FloeError(
      'MAX_PARALLELISM_MISMATCH',
      `Job '${options.jobName}': operator '${uid}' has max parallelism ${explicit}, but the checkpoint or savepoint being restored was taken with max parallelism ${restored}; ` +
        `keyed state keeps its number of key groups. Set max parallelism ${restored} (--max-parallelism ${restored} or setMaxParallelism(${restored})) or leave it unset to adopt it; ` +
        `or rewrite a savepoint into ${explicit} key groups first: floe savepoint rekey <savepoint> --max-parallelism ${explicit} --out <new savepoint>.`,
      { context: { job: options.jobName, operator: uid } },
    );
  const maxParallelism = explicit ?? restored ?? computeDefaultMaxParallelism(parallelism);
  if (restored !== undefined && parallelism > restored)
    throw new FloeError(
      'MAX_PARALLELISM_MISMATCH',
      `Job '${options.jobName}': operator '${uid}' cannot run at parallelism ${parallelism}: its restored keyed state has ${restored} key groups (max parallelism ${restored}), so at most ${restored} subtasks can own them. Run at parallelism ${restored} or less, or rewrite a savepoint into more key groups: floe savepoint rekey <savepoint> --max-parallelism M --out <new savepoint>.`,
      { context: { job: options.jobName, operator: uid } },
    );
  checkParallelism(parallelism, maxParallelism);
  return { transformation: t, uid, name: t.name, parallelism, maxParallelism, maxParallelismExplicit: explicit !== undefined };
}

/** Derived uid: kind and position in the graph. Stable while the job's shape stays the same. */
function defaultUid(t: PhysicalTransformation): string {
  const kind = t.type === 'source' ? 'source' : t.kind;
  return `${kind.toLowerCase()}-${t.id}`;
}

function collectPhysical(sinks: Transformation[]): PhysicalTransformation[] {
  const seen = new Set<Transformation>();
  const out: PhysicalTransformation[] = [];
  const visit = (t: Transformation): void => {
    if (seen.has(t)) return;
    seen.add(t);
    if (t.type === 'operator' || t.type === 'partition') visit(t.input);
    if (t.type === 'two-input') {
      visit(t.input1);
      visit(t.input2);
    }
    if (t.type === 'union') for (const i of t.inputs) visit(i);
    if (t.type !== 'partition' && t.type !== 'union') out.push(t);
  };
  for (const s of sinks) visit(s);
  return out.sort((a, b) => a.id - b.id);
}

/** The physical producers behind a (possibly virtual) input, with the partitioner that applies. */
function resolveInputs(
  t: Transformation,
  partitioner: PartitionerSpec | undefined,
): Array<{ source: PhysicalTransformation; partitioner: PartitionerSpec | undefined }> {
  switch (t.type) {
    case 'source':
    case 'operator':
    case 'two-input':
      return [{ source: t, partitioner }];
    case 'partition':
      return resolveInputs(t.input, partitioner ?? t.partitioner);
    case 'union':
      return t.inputs.flatMap((i) => resolveInputs(i, partitioner));
  }
}
