// Drops a user's repeated event within 10 minutes: a keyed flag with a TTL, so state for quiet
// users expires instead of growing forever. TTL runs on processing time (the wall clock, or the
// environment's injected clock), never on event time.
// Run: npx floe run examples/guide/dedup-with-ttl.ts
import { StateTtlConfig, type StreamEnvironment, type ValueState, ValueStateDescriptor } from 'floe';

type Click = { user: string; page: string };

export default (env: StreamEnvironment) => {
  const seenFor10Minutes = new ValueStateDescriptor<boolean>('seen', { ttl: StateTtlConfig.newBuilder(10 * 60_000).build() });
  env
    .fromElements<Click>({ user: 'ann', page: '/a' }, { user: 'ann', page: '/a' }, { user: 'bob', page: '/a' }, { user: 'ann', page: '/b' })
    .keyBy((c) => `${c.user} ${c.page}`)
    .filter({
      seen: undefined as ValueState<boolean> | undefined,
      open(ctx) {
        this.seen = ctx.getState(seenFor10Minutes);
      },
      filter(): boolean {
        if (this.seen!.value() === true) return false;
        this.seen!.update(true);
        return true;
      },
    })
    .uid('dedup')
    .print();
};
