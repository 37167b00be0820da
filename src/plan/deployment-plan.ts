// Where each subtask of a job graph runs, and a fingerprint of the graph (pure). Groundwork for
// running subtasks in worker threads: subtask i of every vertex goes to worker i mod W, so a
// forward edge (subtask i to subtask i) never leaves its worker and only keyBy, rebalance and
// broadcast edges cross threads; every worker builds the graph from the same job module, and the
// fingerprint tells the coordinator that it built the same graph (a job that builds its graph
// from Math.random() would not).
import { createHash } from 'node:crypto';
import type { JobEdge, JobGraph } from './job-graph.js';

/** One subtask's place. */
export interface SubtaskPlacement {
  /** The vertex's index in `graph.vertices`. */
  vertex: number;
  subtask: number;
  worker: number;
}

/** The worker of subtask `subtask` when `workers` workers run a job. */
export function workerOf(subtask: number, workers: number): number {
  return subtask % workers;
}

/** How many workers a job gets by default: one per available core, never more than its largest parallelism. */
export function defaultWorkers(graph: JobGraph, availableCores: number): number {
  const largest = Math.max(1, ...graph.vertices.map((v) => v.parallelism));
  return Math.max(1, Math.min(availableCores, largest));
}

/** Every subtask of every vertex with its worker, in vertex order then subtask order. */
export function placeSubtasks(graph: JobGraph, workers: number): SubtaskPlacement[] {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const out: SubtaskPlacement[] = [];
  graph.vertices.forEach((v, vertex) => {
    for (let subtask = 0; subtask < v.parallelism; subtask++) out.push({ vertex, subtask, worker: workerOf(subtask, workers) });
  });
  return out;
}

/**
 * True when records on `edge` may go from one worker to another: every edge but a forward one
 * between equal parallelisms (subtask i feeds subtask i, on the same worker), and none at all
 * with a single worker.
 */
export function crossesWorkers(edge: JobEdge, workers: number): boolean {
  if (workers === 1) return false;
  return !(edge.partitioner.type === 'forward' && edge.source.parallelism === edge.target.parallelism);
}

/**
 * A hex digest of what every worker must agree on: each vertex's operator uids, names,
 * parallelism and max parallelism, and each edge's ends, partitioner kind and input index.
 */
export function graphFingerprint(graph: JobGraph): string {
  const index = new Map(graph.vertices.map((v, i) => [v, i]));
  const shape = {
    job: graph.jobName,
    vertices: graph.vertices.map((v) => ({
      operators: v.nodes.map((n) => [n.uid, n.name, n.parallelism, n.maxParallelism]),
      parallelism: v.parallelism,
      maxParallelism: v.maxParallelism,
      inputs: v.inputs.map((e) => [index.get(e.source), e.partitioner.type, e.inputIndex]),
    })),
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}
