// A keyed job whose state is larger than the Node heap, for the larger-than-memory test (run it
// with the disk state backend). Records 0..3K-1; record i is for key i mod K, in pass 1 + floor(i / K).
//  - pass 1: the key must have no state yet; it stores a payload derived from the key (1 KiB).
//  - pass 2: the key's payload must be there and equal to the derived one.
//  - pass 3: the same check, then the state is cleared.
// So after pass 1 the state holds K payloads (K = 1.1M: ~1.1 GiB) until pass 3 clears them, and
// the job ends with no state. A run killed in pass 1 or 2 and restored checks every key's state
// from the checkpoint in pass 3 at the latest.
// Any state that is missing, unexpected or wrong (a lost or duplicated update across a restore)
// emits an error record; besides those, every `sample`-th record emits a small summary. Output
// goes through the transactional (exactly-once) JSON-lines sink, so it stays a few hundred KB.
// Each pass can be paced (records per second, 0 = as fast as possible): a slow pass 2 leaves the
// task's loop time to write a checkpoint of the whole state while the state is complete.
// Args: <out dir> <keys K> [payload bytes = 1024] [sample = 1000] [rates = "0,0,0"]
import {
  type Clock,
  type Collector,
  type InputStatus,
  type RuntimeContext,
  type Source,
  type SourceOutput,
  type SourceReader,
  type SourceReaderContext,
  type SplitEnumeratorContext,
  StaticSplitEnumerator,
  type StaticSplitEnumeratorState,
  type StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';

/** What the job emits (the test recomputes the expected records with {@link expectedSamples}). */
export interface LargeStateRecord {
  i: number;
  key: number;
  pass: 1 | 2 | 3;
  /** Present only when the state was not what exactly-once processing implies. */
  error?: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
/** A fixed pseudo-random text; payloads are windows of it, so neighbouring keys differ everywhere. */
const TEXT = (() => {
  let x = 0x9e3779b9;
  let s = '';
  for (let n = 0; n < 8192; n++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += ALPHABET[(x >>> 0) & 63];
  }
  return s;
})();

/** The payload of a key: its number, then a window of TEXT chosen by the key (exactly `bytes` long, bytes <= 4096). */
export function payload(key: number, bytes: number): string {
  const head = `${key}:`;
  const offset = (key * 2654435761) % (TEXT.length - bytes);
  return head + TEXT.slice(offset, offset + bytes - head.length);
}

function passOf(i: number, keys: number): 1 | 2 | 3 {
  return i < keys ? 1 : i < 2 * keys ? 2 : 3;
}

/** The records a correct (exactly-once) run commits, in index order. */
export function expectedSamples(keys: number, sample: number): LargeStateRecord[] {
  const out: LargeStateRecord[] = [];
  for (let i = 0; i < 3 * keys; i += sample) out.push({ i, key: i % keys, pass: passOf(i, keys) });
  return out;
}

/** The split of the indices: the next one. */
export interface IndicesSplit {
  id: string;
  next: number;
}

/** The indices 0..3K-1 (parallelism 1), each pass at its own rate; one split, whose position is the next index. */
class PacedIndices implements Source<number, IndicesSplit, StaticSplitEnumeratorState<IndicesSplit>> {
  readonly name = 'Paced Indices';
  readonly bounded = true;
  readonly maxParallelism = 1;

  constructor(
    private readonly keys: number,
    private readonly rates: number[],
  ) {}

  createEnumerator(ctx: SplitEnumeratorContext<IndicesSplit>, restored?: StaticSplitEnumeratorState<IndicesSplit>): StaticSplitEnumerator<IndicesSplit> {
    return new StaticSplitEnumerator(ctx, restored ?? { pending: [{ id: 'indices', next: 0 }] });
  }

  createReader(ctx: SourceReaderContext): SourceReader<number, IndicesSplit> {
    return new PacedReader(this.keys, this.rates, ctx.clock);
  }
}

const NEVER = new Promise<void>(() => {});

class PacedReader implements SourceReader<number, IndicesSplit> {
  private split: IndicesSplit | undefined;
  private noMoreSplits = false;
  private pass = 0;
  private passStartedAt = 0;
  private passEmitted = 0;
  /** While the pass's rate holds the reader back: resolves when it may go on. */
  private wait: Promise<void> | undefined;

  constructor(
    private readonly keys: number,
    private readonly rates: number[],
    private readonly clock: Clock,
  ) {}

  addSplits(splits: IndicesSplit[]): void {
    this.split = splits[0];
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  snapshotState(): IndicesSplit[] {
    return this.split === undefined ? [] : [this.split];
  }

  isAvailable(): Promise<void> {
    return this.wait ?? (this.split === undefined ? NEVER : Promise.resolve());
  }

  pollNext(output: SourceOutput<number>, max: number): InputStatus {
    const split = this.split;
    const count = 3 * this.keys;
    if (split === undefined || split.next >= count) return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
    const pass = passOf(split.next, this.keys);
    const now = this.clock.now();
    if (pass !== this.pass) {
      this.pass = pass;
      this.passStartedAt = now;
      this.passEmitted = 0;
    }
    const rate = this.rates[pass - 1] ?? 0;
    let budget = max;
    if (rate > 0) {
      const due = Math.floor(((now - this.passStartedAt) / 1000) * rate) - this.passEmitted;
      if (due <= 0) {
        this.wait ??= new Promise<void>((resolve) =>
          setTimeout(
            () => {
              this.wait = undefined;
              resolve();
            },
            Math.max(1, Math.min(20, Math.ceil(1000 / rate))),
          ),
        );
        return 'nothing-available';
      }
      budget = Math.min(budget, due);
    }
    const end = Math.min(split.next + budget, pass * this.keys);
    this.passEmitted += end - split.next;
    while (split.next < end) output.collect(split.next++);
    if (split.next < count) return 'more-available';
    return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
  }
}

class CheckAndStore {
  private state!: ValueState<string>;

  constructor(
    private readonly keys: number,
    private readonly bytes: number,
    private readonly sample: number,
  ) {}

  open(ctx: RuntimeContext): void {
    this.state = ctx.getState(new ValueStateDescriptor<string>('payload'));
  }

  flatMap(i: number, out: Collector<LargeStateRecord>): void {
    const key = i % this.keys;
    const pass = passOf(i, this.keys);
    const stored = this.state.value();
    let error: string | undefined;
    if (pass === 1) {
      if (stored !== undefined) error = `state present before the first visit (${stored.length} chars)`;
      this.state.update(payload(key, this.bytes));
    } else {
      if (stored === undefined) error = `state missing in pass ${pass}`;
      else if (stored !== payload(key, this.bytes)) error = `wrong payload in pass ${pass}: ${stored.slice(0, 40)}...`;
      if (pass === 3) this.state.clear();
    }
    if (error !== undefined) out.collect({ i, key, pass, error });
    else if (i % this.sample === 0) out.collect({ i, key, pass });
  }
}

export default (env: StreamEnvironment, args: string[]) => {
  const [out, keysArg, bytesArg, sampleArg, ratesArg] = args;
  if (out === undefined || keysArg === undefined) throw new Error('usage: large-state.ts <out dir> <keys> [payload bytes] [sample] [rates "r1,r2,r3"]');
  const keys = Number(keysArg);
  const bytes = Number(bytesArg ?? 1024);
  const sample = Number(sampleArg ?? 1000);
  const rates = (ratesArg ?? '0,0,0').split(',').map(Number);
  if (!(keys > 0) || !(bytes > 0 && bytes <= 4096) || !(sample > 0) || rates.some((r) => !(r >= 0))) throw new Error(`large-state.ts: bad arguments ${args.join(' ')}`);
  env
    .fromSource(new PacedIndices(keys, rates))
    .uid('indices')
    .keyBy((i) => i % keys)
    .flatMap(new CheckAndStore(keys, bytes, sample))
    .uid('check-and-store')
    .addSink(new TransactionalJsonLinesSink<LargeStateRecord>(out), 'Transactional Sink')
    .uid('sink');
};
