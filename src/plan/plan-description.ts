// What a job graph will run, as plain data: chains, operators with names, uids and parallelism,
// the partitioning of every edge, the state known before the job runs, and warnings about
// choices that hurt later (state without a stable uid). Pure: used by `floe check`.
import type { JobGraph, PlannedNode } from './job-graph.js';

export interface PlannedOperatorDescription {
  name: string;
  uid: string;
  /** False when the uid was derived from the graph's shape (it changes when the job changes). */
  uidExplicit: boolean;
  kind: string;
  /** Holds keyed state, broadcast state or source positions: what a checkpoint keeps for it. */
  stateful: boolean;
  /** State declared when the graph was built (broadcast states); keyed state is declared in open(). */
  declaredState: string[];
}

export interface PlannedVertexDescription {
  /** Chained operators, head first: they run in one subtask and pass records by call. */
  operators: PlannedOperatorDescription[];
  parallelism: number;
  maxParallelism: number;
  /** Input edges: the upstream chain (by its index in `vertices`) and how records are partitioned. */
  inputs: Array<{ from: number; partitioning: 'forward' | 'rebalance' | 'hash' | 'broadcast' }>;
}

export interface PlanDescription {
  jobName: string;
  vertices: PlannedVertexDescription[];
  warnings: string[];
}

/** The warning of a job without a sink. */
export const NO_SINK_WARNING = 'The job has no sink: its results go nowhere.';

/** The warning for a stateful operator without an explicit uid. */
function missingUidWarning(op: { name: string; uid: string }): string {
  return `'${op.name}' keeps state but has no uid: its derived uid '${op.uid}' changes when the job's shape changes, and a restore would not find its state. Set one with .uid('...').`;
}

/** Warnings for every stateful operator without an explicit uid (said when a savepoint is taken). */
export function missingUidWarnings(graph: JobGraph): string[] {
  return graph.vertices
    .flatMap((v) => v.nodes.map(describeNode))
    .filter((op) => op.stateful && !op.uidExplicit)
    .map(missingUidWarning);
}

/** Describes `graph` for people: see {@link PlanDescription}. */
export function describePlan(graph: JobGraph): PlanDescription {
  const index = new Map(graph.vertices.map((v, i) => [v, i]));
  const warnings: string[] = [];
  const vertices = graph.vertices.map((vertex) => ({
    operators: vertex.nodes.map((node) => {
      const op = describeNode(node);
      if (op.stateful && !op.uidExplicit) warnings.push(missingUidWarning(op));
      return op;
    }),
    parallelism: vertex.parallelism,
    maxParallelism: vertex.maxParallelism,
    inputs: vertex.inputs.map((edge) => ({ from: index.get(edge.source)!, partitioning: edge.partitioner.type })),
  }));
  const sinks = graph.vertices.flatMap((v) => v.nodes).filter((n) => n.transformation.type === 'operator' && n.transformation.isSink);
  if (sinks.length === 0) warnings.push(NO_SINK_WARNING);
  return { jobName: graph.jobName, vertices, warnings };
}

function describeNode(node: PlannedNode): PlannedOperatorDescription {
  const t = node.transformation;
  const declaredState = t.type === 'two-input' ? [...(t.declaredState ?? [])] : [];
  const kind = t.type === 'source' ? 'Source' : t.kind;
  return {
    name: node.name,
    uid: node.uid,
    uidExplicit: t.uid !== undefined,
    kind,
    // Building an operator only copies the user's function: no I/O, nothing opened.
    stateful: t.type === 'source' || t.keyed || t.createOperator().keepsOperatorState?.() === true,
    declaredState,
  };
}
