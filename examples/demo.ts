// The README's main demo: per-user activity sessions with an inactivity timeout.
// Generated click events -> event time with bounded out-of-orderness -> keyBy(user) ->
// a KeyedProcessFunction that counts events per user in ValueState and closes a session with
// an event-time timer after 30 s of inactivity -> sessions as JSON lines in .floe/demo/sessions/,
// committed exactly once per checkpoint. Checkpoints go to .floe/demo/checkpoints every second,
// so a Ctrl-C or a kill resumes where the run was.
//
//   npm start                          bounded (2,000,000 events), ends by itself
//   npm start -- --unbounded           runs until Ctrl-C (200,000 events/s, --rate N to change)
//   npm start -- --events 5000000 --users 100000
import {
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type StreamEnvironment,
  type ValueState,
  TransactionalJsonLinesSink,
  ValueStateDescriptor,
  WatermarkStrategy,
} from 'floe';

export interface ClickEvent {
  user: string;
  page: string;
  time: number;
}

export interface Session {
  user: string;
  events: number;
  start: number;
  end: number;
}

interface SessionState {
  events: number;
  start: number;
  last: number;
}

/** Inactivity that closes a session, in event time. */
export const SESSION_GAP_MS = 30_000;
const START_TIME = Date.UTC(2026, 0, 1);
const PAGES = ['home', 'search', 'product', 'cart', 'checkout'];

/** Deterministic 32-bit mix of the index (so every run, at any parallelism, sees the same events). */
function mix(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Event `index`: one event per millisecond of event time, up to 500 ms out of order. */
export function clickEvent(index: number, users: number): ClickEvent {
  const r = mix(index + 1);
  return { user: `user-${r % users}`, page: PAGES[(r >>> 20) % PAGES.length], time: START_TIME + index - ((r >>> 8) % 500) };
}

/** Counts a user's events and emits the session once the user was inactive for SESSION_GAP_MS. */
export class SessionCounter implements KeyedProcessFunction<string, ClickEvent, Session> {
  private state!: ValueState<SessionState>;

  open(ctx: RuntimeContext): void {
    this.state = ctx.getState(new ValueStateDescriptor<SessionState>('session'));
  }

  processElement(event: ClickEvent, ctx: KeyedProcessContext<string>, _out: Collector<Session>): void {
    const current = this.state.value();
    const timers = ctx.timerService();
    if (current === undefined) {
      this.state.update({ events: 1, start: event.time, last: event.time });
    } else {
      timers.deleteEventTimeTimer(current.last + SESSION_GAP_MS);
      current.events++;
      current.start = Math.min(current.start, event.time);
      current.last = Math.max(current.last, event.time);
      this.state.update(current);
    }
    timers.registerEventTimeTimer(this.state.value()!.last + SESSION_GAP_MS);
  }

  onTimer(_timestamp: number, ctx: OnTimerContext<string>, out: Collector<Session>): void {
    const session = this.state.value();
    if (session === undefined) return;
    out.collect({ user: ctx.getCurrentKey(), events: session.events, start: session.start, end: session.last });
    this.state.clear();
  }
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

/**
 * Starts over when the last run finished (its final checkpoint is in the directory) or never
 * checkpointed: its checkpoints and the sessions it committed go, so a new run does not add its
 * sessions to the old ones. Otherwise the run resumes and keeps what was committed.
 */
async function startOverUnlessResuming(checkpoints: string, output: string): Promise<void> {
  const { FileCheckpointStorage } = await import('floe');
  const { rm } = await import('node:fs/promises');
  const storage = new FileCheckpointStorage(checkpoints);
  const ids = await storage.listCompleted();
  const latest = ids.length === 0 ? undefined : await storage.readMetadata(ids[ids.length - 1]).catch(() => undefined);
  if (ids.length > 0 && latest?.metadata?.isFinal !== true) {
    process.stderr.write(`Resuming the demo from its checkpoints in ${checkpoints} (delete that directory to start over)\n`);
    return;
  }
  if (ids.length > 0) process.stderr.write(`The last demo run finished: starting over (removing ${checkpoints} and the sessions in ${output})\n`);
  await rm(checkpoints, { recursive: true, force: true });
  await rm(output, { recursive: true, force: true });
}

export default async (env: StreamEnvironment, args: string[] = []) => {
  const unbounded = args.includes('--unbounded');
  const users = option(args, '--users', 10_000);
  const count = unbounded ? undefined : option(args, '--events', 2_000_000);
  const eventsPerSecond = unbounded ? option(args, '--rate', 200_000) : undefined;
  const output = '.floe/demo/sessions';
  // Checkpoints every second into .floe/demo/checkpoints: a Ctrl-C or a kill resumes where it was.
  env.enableCheckpointing({ directory: '.floe/demo/checkpoints', intervalMs: 1000, resume: true });
  if (env.checkpointDirectory !== undefined && !env.planOnly) await startOverUnlessResuming(env.checkpointDirectory, output);
  process.stderr.write(
    `Floe demo: ${count === undefined ? `unbounded, ${eventsPerSecond} events/s (Ctrl-C to stop)` : `${count} events`} over ${users} users, ` +
      `parallelism ${env.parallelism}; sessions close after ${SESSION_GAP_MS / 1000} s of inactivity (event time) and go to ${output}/part-*.jsonl\n`,
  );
  env
    .fromGenerator((i) => clickEvent(i, users), { count, eventsPerSecond })
    .uid('click-events')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<ClickEvent>(1_000).withTimestampAssigner((e) => e.time))
    .keyBy((e) => e.user)
    .process(new SessionCounter())
    .uid('sessions')
    .name('Sessions')
    .addSink(new TransactionalJsonLinesSink<Session>(output), 'Sessions Sink')
    .uid('sessions-sink');
};
