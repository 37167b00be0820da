// Loads a job file's default export. TypeScript job files always load as ES modules (top-level
// await works whatever package.json says) with source maps, so errors in user code name the job
// file, line and column. Does file I/O (a compiled copy under node_modules/.cache) and imports.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve as resolvePath, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StreamEnvironment } from '../api/stream-environment.js';
import { FloeError } from '../core/errors.js';

/** A job file's default export. */
export type JobFunction = (env: StreamEnvironment, args: string[]) => unknown;

/**
 * Imports the job file at the absolute path `jobPath` and returns its default export.
 * `.ts` files inside an ES module package (or `.mts`) load through tsx; a `.ts` file in a
 * CommonJS package (`npm init -y`) is compiled to one ES module with esbuild first.
 */
export async function loadJob(jobPath: string): Promise<JobFunction> {
  if (!existsSync(jobPath)) throw new FloeError('INVALID_ARGUMENT', `Job file not found: ${jobPath}`);
  // Stack traces of compiled code point at the job file's own lines.
  process.setSourceMapsEnabled(true);
  let mod: { default?: unknown };
  try {
    if (/\.(c|m)?tsx?$/.test(jobPath) && !/\.mtsx?$/.test(jobPath) && packageType(jobPath) !== 'module') mod = await importCompiledAsEsm(jobPath);
    else if (/\.[cm]?tsx?$/.test(jobPath)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(jobPath).href, import.meta.url)) as { default?: unknown };
    } else mod = (await import(pathToFileURL(jobPath).href)) as { default?: unknown };
  } catch (cause) {
    throw asJobFileError(jobPath, cause);
  }
  // A job compiled as CommonJS (a .cts file) nests its default export.
  const nested = (mod.default as { default?: unknown } | undefined)?.default;
  if (typeof mod.default !== 'function' && typeof nested === 'function') return nested as JobFunction;
  if (typeof mod.default !== 'function')
    throw new FloeError(
      'INVALID_JOB',
      `${jobPath} has no default export function. A job file looks like:\n  export default (env: StreamEnvironment) => { env.fromElements(1, 2, 3).print(); };`,
    );
  return mod.default as JobFunction;
}

/** The "type" of the package.json nearest to `file` ('commonjs' when there is none). */
export function packageType(file: string): 'module' | 'commonjs' {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(dir) === dir) return 'commonjs';
  }
}

/**
 * Bundles the job file and its relative imports into one ES module (packages stay imports),
 * written under the nearest node_modules/.cache so that its package imports resolve as the job
 * file's would; `import.meta.url` keeps meaning the job file. The copy is removed once imported.
 */
async function importCompiledAsEsm(jobPath: string): Promise<{ default?: unknown }> {
  const { build } = await import('esbuild');
  const jobUrl = pathToFileURL(jobPath).href;
  const result = await build({
    entryPoints: [jobPath],
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    sourcesContent: true,
    write: false,
    logLevel: 'silent',
    plugins: [ownFilesOnly],
    define: {
      'import.meta.url': JSON.stringify(jobUrl),
      'import.meta.filename': JSON.stringify(jobPath),
      'import.meta.dirname': JSON.stringify(dirname(jobPath)),
    },
  });
  const cacheDir = join(nodeModulesDir(jobPath) ?? join(dirname(jobPath), 'node_modules'), '.cache', 'floe');
  mkdirSync(cacheDir, { recursive: true });
  const compiled = join(cacheDir, `${relative('/', jobPath).replace(/[^A-Za-z0-9._-]/g, '_')}.${process.pid}.mjs`);
  writeFileSync(compiled, fixSourcePaths(result.outputFiles[0]!.text, compiled, jobPath));
  try {
    return (await import(pathToFileURL(compiled).href)) as { default?: unknown };
  } finally {
    rmSync(compiled, { force: true });
  }
}

/**
 * Only the user's own files (relative imports outside node_modules) go into the bundle; packages
 * and absolute paths stay imports, so floe itself is loaded once, not copied into the job.
 */
const ownFilesOnly: import('esbuild').Plugin = {
  name: 'floe-own-files-only',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const relativeImport = args.path.startsWith('./') || args.path.startsWith('../');
      if (relativeImport && !resolvePath(args.resolveDir, args.path).includes(`${sep}node_modules${sep}`)) return undefined;
      return { path: isAbsolute(args.path) ? pathToFileURL(args.path).href : args.path, external: true };
    });
  },
};

/** The node_modules directory that package imports of `file` resolve from, if any. */
function nodeModulesDir(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules');
    if (dirname(dir) === dir) return undefined;
  }
}

/** esbuild writes source paths relative to the cwd; the map must name them from the compiled file. */
function fixSourcePaths(code: string, compiled: string, jobPath: string): string {
  const marker = '//# sourceMappingURL=data:application/json;base64,';
  const at = code.lastIndexOf(marker);
  if (at < 0) return code;
  const map = JSON.parse(Buffer.from(code.slice(at + marker.length).trim(), 'base64').toString('utf8')) as { sources: string[] };
  map.sources = map.sources.map((source) => relative(dirname(compiled), join(process.cwd(), source)) || relative(dirname(compiled), jobPath));
  return `${code.slice(0, at)}${marker}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/** A failure to load the job file, as one clear error: the file, line and column, and the message. */
function asJobFileError(jobPath: string, cause: unknown): unknown {
  const errors = (cause as { errors?: EsbuildMessage[] })?.errors ?? parseTransformError(cause);
  if (Array.isArray(errors) && errors.length > 0 && errors[0]!.location) {
    const text = errors.slice(0, 5).map(formatEsbuildMessage).join('\n');
    return new FloeError('INVALID_JOB', `${jobPath} could not be compiled:\n${text}`);
  }
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' && String((cause as Error).message).includes(jobPath))
    return new FloeError('INVALID_ARGUMENT', `Job file not found: ${jobPath}`, { cause });
  return cause;
}

/** tsx reports compile errors from its loader thread as text only: `file:line:column: ERROR: message`. */
function parseTransformError(cause: unknown): EsbuildMessage[] | undefined {
  if (!(cause instanceof Error) || cause.name !== 'TransformError') return undefined;
  const messages: EsbuildMessage[] = [];
  for (const match of cause.message.matchAll(/^(.+?):(\d+):(\d+): ERROR: (.*)$/gm)) {
    const [, file, line, column, text] = match;
    let lineText = '';
    try {
      lineText = readFileSync(file!, 'utf8').split('\n')[Number(line) - 1] ?? '';
    } catch {
      // the frame is a courtesy; the location and message are what matter
    }
    messages.push({ text: text!, location: { file: file!, line: Number(line), column: Number(column), lineText } });
  }
  return messages.length > 0 ? messages : undefined;
}

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText: string } | null;
}

/** `file:line:column: message`, then the line with a caret under the column (a code frame). */
export function formatEsbuildMessage(message: EsbuildMessage): string {
  const loc = message.location;
  if (!loc) return message.text;
  const gutter = `${loc.line} | `;
  return `${loc.file}:${loc.line}:${loc.column + 1}: ${message.text}\n  ${gutter}${loc.lineText}\n  ${' '.repeat(gutter.length + loc.column)}^`;
}
