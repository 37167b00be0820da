// `floe check job.ts` (Flink's `info`): type-checks the job file, builds its graph without
// running it and prints the plan with warnings. Reads files and imports the job; runs nothing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { StreamEnvironment, type PlanDescription } from '../api/stream-environment.js';
import { FloeError } from '../core/errors.js';
import type { RunCommand } from './args.js';
import { loadJob } from './load-job.js';

export interface CheckResult {
  /** Compiler messages (empty when the file type-checks or TypeScript is not installed). */
  typeErrors: string[];
  /** Set when TypeScript could not be found next to the job (type-checking was skipped). */
  typeCheckSkipped?: string;
  plan: PlanDescription;
}

/** Type-checks and plans the job of `command` (its options as `floe run` would apply them). */
export async function checkJob(command: RunCommand): Promise<CheckResult> {
  const jobPath = resolve(command.jobPath);
  const typeCheck = await typeCheckJob(jobPath);
  const job = await loadJob(jobPath);
  const env = StreamEnvironment.create({
    parallelism: command.parallelism,
    maxParallelism: command.maxParallelism,
    jobName: command.jobPath,
    planOnly: true,
  });
  try {
    await job(env, command.jobArgs);
  } catch (error) {
    if (!(error instanceof FloeError && error.code === 'PLAN_ONLY')) throw error;
  }
  return { ...typeCheck, plan: env.describePlan(command.jobPath) };
}

/** What `floe check` prints. */
export function formatCheck(result: CheckResult, jobPath: string): string {
  const lines: string[] = [];
  if (result.typeCheckSkipped !== undefined) lines.push(`note: ${result.typeCheckSkipped}`);
  else if (result.typeErrors.length === 0) lines.push(`${jobPath}: types ok`);
  else lines.push(`${jobPath}: ${result.typeErrors.length} type error${result.typeErrors.length === 1 ? '' : 's'}`, ...result.typeErrors);
  lines.push(formatPlan(result.plan));
  return lines.join('\n');
}

/**
 * Type-checks the job file with the TypeScript of the job's project (or floe's own), under the
 * nearest tsconfig.json, or strict NodeNext settings when there is none.
 */
async function typeCheckJob(jobPath: string): Promise<{ typeErrors: string[]; typeCheckSkipped?: string }> {
  if (!/\.[cm]?tsx?$/.test(jobPath)) return { typeErrors: [] };
  const ts = loadTypeScript(jobPath);
  if (ts === undefined) return { typeErrors: [], typeCheckSkipped: 'TypeScript is not installed next to the job (npm install -D typescript): types were not checked' };
  const configPath = ts.findConfigFile(dirname(jobPath), (f) => ts.sys.fileExists(f));
  let options: import('typescript').CompilerOptions = {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
  };
  if (configPath !== undefined) {
    const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    if (config !== undefined) options = { ...config.options };
  }
  options = { ...options, noEmit: true };
  const program = ts.createProgram([jobPath], options);
  const host: import('typescript').FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  };
  // Only what the job's own files say: a library's typings are its own business.
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || !d.file.fileName.includes('/node_modules/'));
  return { typeErrors: diagnostics.map((d) => ts.formatDiagnostic(d, host).trimEnd()) };
}

function loadTypeScript(jobPath: string): typeof import('typescript') | undefined {
  for (const from of [jobPath, import.meta.filename]) {
    try {
      const require = createRequire(from);
      const path = require.resolve('typescript');
      if (existsSync(path)) return require(path) as typeof import('typescript');
    } catch {
      // not installed there; try the next place
    }
  }
  return undefined;
}

/** The plan as the lines `floe check` prints. */
export function formatPlan(plan: PlanDescription): string {
  const lines = [`Job '${plan.jobName}': ${plan.vertices.length} chain${plan.vertices.length === 1 ? '' : 's'}`];
  plan.vertices.forEach((v, i) => {
    const inputs = v.inputs.length === 0 ? '' : ` <- ${v.inputs.map((e) => `#${e.from} (${e.partitioning})`).join(', ')}`;
    lines.push(`#${i}  parallelism ${v.parallelism}, max parallelism ${v.maxParallelism}${inputs}`);
    for (const op of v.operators) {
      const uid = op.uidExplicit ? `uid '${op.uid}'` : `uid '${op.uid}' (derived)`;
      const state = op.declaredState.length === 0 ? (op.stateful ? ', stateful' : '') : `, state: ${op.declaredState.join(', ')}`;
      lines.push(`    ${op.name}  [${op.kind}, ${uid}${state}]`);
    }
  });
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
