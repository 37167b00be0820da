// The golden job of the savepoint scenario: generated click events (a split source) -> event time
// -> keyBy(user) -> a KeyedProcessFunction with ValueState (count, first and last time), ListState
// (pages of the session) and an event-time timer that closes the session after 5 s of event-time
// inactivity -> the transactional sink. Deterministic for any parallelism and any restore.
// Args: output dir, events, users, events per second (0: unthrottled).
import {
  type Collector,
  type KeyedProcessContext,
  type ListState,
  ListStateDescriptor,
  type OnTimerContext,
  type RuntimeContext,
  type StreamEnvironment,
  TransactionalJsonLinesSink,
  type ValueState,
  ValueStateDescriptor,
  WatermarkStrategy,
} from 'floe';

const GAP = 5_000;
type Click = { user: string; page: string; time: number };
type Session = { user: string; start: number; end: number; events: number; pages: string[] };

function mix(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

class Sessions {
  private session!: ValueState<{ start: number; last: number; events: number }>;
  private pages!: ListState<string>;

  open(ctx: RuntimeContext): void {
    this.session = ctx.getState(new ValueStateDescriptor<{ start: number; last: number; events: number }>('session'));
    this.pages = ctx.getListState(new ListStateDescriptor<string>('pages'));
  }

  processElement(c: Click, ctx: KeyedProcessContext<string>, _out: Collector<Session>): void {
    const s = this.session.value();
    if (s !== undefined) ctx.timerService().deleteEventTimeTimer(s.last + GAP);
    const next = s === undefined ? { start: c.time, last: c.time, events: 1 } : { start: Math.min(s.start, c.time), last: Math.max(s.last, c.time), events: s.events + 1 };
    this.session.update(next);
    this.pages.add(c.page);
    ctx.timerService().registerEventTimeTimer(next.last + GAP);
  }

  onTimer(_ts: number, ctx: OnTimerContext<string>, out: Collector<Session>): void {
    const s = this.session.value()!;
    out.collect({ user: ctx.getCurrentKey(), start: s.start, end: s.last, events: s.events, pages: [...this.pages.get()].sort() });
    this.session.clear();
    this.pages.clear();
  }
}

export default (env: StreamEnvironment, args: string[]) => {
  const [out, events = '60000', users = '300', rate = '0'] = args;
  env
    .fromGenerator(
      (i): Click => {
        const r = mix(i + 1);
        // Users are active in bursts: the user depends on the event's 10-second slot, so sessions close while the job runs.
        return { user: `u${(r % 40) + 40 * (Math.floor(i / 10_000) % Math.ceil(Number(users) / 40))}`, page: `p${(r >>> 12) % 7}`, time: i - ((r >>> 8) % 300) };
      },
      { count: Number(events), ...(Number(rate) > 0 ? { eventsPerSecond: Number(rate) } : {}) },
    )
    .uid('clicks')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Click>(1_000).withTimestampAssigner((c) => c.time))
    .uid('timestamps')
    .keyBy((c) => c.user)
    .process(new Sessions())
    .uid('sessions')
    .addSink(new TransactionalJsonLinesSink<Session>(out), 'Sessions Sink')
    .uid('sink');
};
