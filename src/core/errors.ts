// Typed errors: every failure carries a stable code and says what to do. Pure, no I/O.

/** Stable error codes; tests and callers match on these, never on message text. */
export type FloeErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_KEY'
  | 'STATE_TYPE_MISMATCH'
  | 'STATE_NOT_AVAILABLE'
  | 'USER_FUNCTION_FAILED'
  | 'JOB_FAILED'
  | 'JOB_CANCELLED'
  | 'INVALID_JOB'
  /** execute() of an environment created with `planOnly`: the graph was built, nothing ran. */
  | 'PLAN_ONLY'
  | 'MALFORMED_RECORD'
  | 'CHECKPOINT_DECLINED'
  | 'CHECKPOINT_FAILED'
  | 'CHECKPOINT_WRITE_FAILED'
  | 'CHECKPOINT_INVALID'
  | 'IO_ERROR'
  | 'STATE_DISK_FULL'
  | 'STATE_DIR_IN_USE'
  | 'CHECKPOINT_DIR_IN_USE'
  | 'CHECKPOINT_DAMAGED'
  | 'MAX_PARALLELISM_MISMATCH'
  | 'STATE_NOT_RESCALABLE'
  /** A checkpoint holds state of operators the job no longer has (allowNonRestoredState skips it). */
  | 'STATE_NOT_RESTORED'
  | 'DIRECTORY_UNUSABLE';

/**
 * Failures no restart can fix: the job's configuration, or state that does not fit it. A job fails
 * at once on these (with a non-zero exit); every other failure goes to the restart strategy.
 */
const NON_RETRIABLE: ReadonlySet<FloeErrorCode> = new Set<FloeErrorCode>([
  'INVALID_ARGUMENT',
  'INVALID_JOB',
  'STATE_TYPE_MISMATCH',
  'STATE_NOT_AVAILABLE',
  'CHECKPOINT_INVALID',
  'STATE_DIR_IN_USE',
  'CHECKPOINT_DIR_IN_USE',
  'CHECKPOINT_DAMAGED',
  'MAX_PARALLELISM_MISMATCH',
  'STATE_NOT_RESCALABLE',
  'STATE_NOT_RESTORED',
  'DIRECTORY_UNUSABLE',
]);

/**
 * True when a restart may fix `error`: false for configuration and state-compatibility errors,
 * also when one is the cause of a wrapping error (a user function that rethrew it).
 */
export function isRetriable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof FloeError && NON_RETRIABLE.has(e.code)) return false;
  return true;
}

/** Where an error happened, so a message can name the job, the operator and the subtask. */
export interface ErrorContext {
  job?: string;
  /** The operator's uid. */
  operator?: string;
  /** The operator's name (`.name(...)`), shown with the uid when they differ. */
  operatorName?: string;
  subtask?: number;
  state?: string;
}

/**
 * The base error of Floe. `code` is stable; `message` names the place (job, operator uid,
 * subtask, state) and, where there is one, the fix.
 */
export class FloeError extends Error {
  readonly code: FloeErrorCode;
  readonly context: ErrorContext;

  constructor(code: FloeErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FloeError';
    this.code = code;
    this.context = options.context ?? {};
  }
}

// Values JSON cannot show (5n, NaN, Infinity) travel through JSON.stringify as marked strings and lose their quotes after.
const bare = (text: string): string => `\u0001${text}\u0001`;
const BARE = /"\\u0001(.*?)\\u0001"/g;

/** Renders a value for an error message, cut to `max` characters so a huge record cannot flood a log. */
export function describeValue(value: unknown, max = 200): string {
  let text: string;
  try {
    text =
      typeof value === 'string'
        ? JSON.stringify(value)
        : typeof value === 'bigint'
          ? `${value}n`
          : typeof value === 'number'
            ? String(value) // NaN and Infinity say so (JSON would print null)
            : typeof value === 'function'
            ? `[function ${value.name || 'anonymous'}]`
            : typeof value === 'symbol'
              ? value.toString()
              : value === undefined
                ? 'undefined'
                : (JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? bare(`${v}n`) : typeof v === 'number' && !Number.isFinite(v) ? bare(String(v)) : v)) ?? String(value)).replace(
                    BARE,
                    '$1',
                  );
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** "job 'x', operator 'y', subtask 2/4" — the place prefix used in runtime error messages. */
export function describeContext(ctx: ErrorContext & { parallelism?: number }): string {
  const parts: string[] = [];
  if (ctx.job !== undefined) parts.push(`job '${ctx.job}'`);
  if (ctx.operator !== undefined)
    parts.push(ctx.operatorName !== undefined && ctx.operatorName !== ctx.operator ? `operator '${ctx.operatorName}' (uid ${ctx.operator})` : `operator '${ctx.operator}'`);
  else if (ctx.operatorName !== undefined) parts.push(`operator '${ctx.operatorName}'`);
  if (ctx.subtask !== undefined)
    parts.push(ctx.parallelism !== undefined ? `subtask ${ctx.subtask}/${ctx.parallelism}` : `subtask ${ctx.subtask}`);
  if (ctx.state !== undefined) parts.push(`state '${ctx.state}'`);
  return parts.join(', ');
}
