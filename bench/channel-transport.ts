// channel-transport: a study for running subtasks in worker threads (the workers issue). How many
// small records per second cross from one thread to another, batched, by three transports:
//   clone      postMessage of the batch array (structured clone);
//   msgpack    msgpackr with record structures into a buffer that is transferred, not copied;
//   shared     msgpackr into a SharedArrayBuffer ring that the consumer waits on (Atomics.wait),
//              the ring's size being the producer's credit (it waits when the consumer is behind).
// The baseline in the same process: the same records handed over in-thread (no serialization).
//
//   npm run bench -- channel-transport --json [--records N] [--batch N]
import { Worker } from 'node:worker_threads';
import { Packr } from 'msgpackr';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
}

/** A record of the size a keyed job passes: a key, a number, a short string. */
function record(i: number): { user: string; amount: number; ts: number } {
  return { user: `user-${i % 100_000}`, amount: i % 1000, ts: 1_700_000_000_000 + i };
}

const RING_BYTES = 4 << 20;
/** Ring layout: Int32 [write offset, read offset, closed], then the data; a frame is u32 length + msgpack bytes. */
const HEADER_INTS = 4;

// The consumer: CommonJS, run with `eval` so no loader is needed.
const consumer = `
const { parentPort, workerData } = require('node:worker_threads');
const { Packr } = require('msgpackr');
const packr = new Packr({ useRecords: true });
let records = 0, sum = 0;
function count(batch) { for (let i = 0; i < batch.length; i++) sum += batch[i].amount; records += batch.length; }
if (workerData.mode === 'shared') {
  const ints = new Int32Array(workerData.sab, 0, ${HEADER_INTS});
  const bytes = new Uint8Array(workerData.sab, ${HEADER_INTS * 4});
  const view = new DataView(workerData.sab, ${HEADER_INTS * 4});
  const size = bytes.length;
  for (;;) {
    const write = Atomics.load(ints, 0);
    let read = Atomics.load(ints, 1);
    if (write === read) {
      if (Atomics.load(ints, 2) === 1) break;
      Atomics.wait(ints, 0, write, 50);
      continue;
    }
    while (read !== write) {
      let at = read % size;
      if (at + 4 > size || view.getUint32(at) === 0xffffffff) { read += size - at; continue; } // wrapped
      const n = view.getUint32(at);
      count(packr.unpack(bytes.slice(at + 4, at + 4 + n))); // a copy: msgpackr-extract crashes decoding a view of shared memory
      read += 4 + n;
    }
    Atomics.store(ints, 1, read);
    Atomics.notify(ints, 1);
  }
  parentPort.postMessage({ records, sum });
} else {
  parentPort.on('message', (m) => {
    if (m === 'end') { parentPort.postMessage({ records, sum }); return; }
    count(workerData.mode === 'clone' ? m : packr.unpack(new Uint8Array(m)));
  });
}
`;

async function run(mode: 'clone' | 'msgpack' | 'shared', records: number, batchSize: number): Promise<number> {
  const sab = mode === 'shared' ? new SharedArrayBuffer(HEADER_INTS * 4 + RING_BYTES) : undefined;
  const worker = new Worker(consumer, { eval: true, workerData: { mode, sab } });
  const done = new Promise<{ records: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const packr = new Packr({ useRecords: true });
  const started = performance.now();
  if (mode === 'shared') {
    const ints = new Int32Array(sab!, 0, HEADER_INTS);
    const bytes = new Uint8Array(sab!, HEADER_INTS * 4);
    const view = new DataView(sab!, HEADER_INTS * 4);
    const size = bytes.length;
    let write = 0;
    for (let i = 0; i < records; i += batchSize) {
      const batch = [];
      for (let j = i; j < Math.min(records, i + batchSize); j++) batch.push(record(j));
      const packed = packr.pack(batch);
      const need = 4 + packed.length;
      let at = write % size;
      // A frame that does not fit before the ring's end starts at 0; the rest of the ring is skipped.
      const skip = at + need > size ? size - at : 0;
      // Credit: wait while the consumer has not freed room for this frame (and the skipped end).
      while (write + skip + need - Atomics.load(ints, 1) > size) await new Promise((r) => setImmediate(r));
      if (skip > 0) {
        if (at + 4 <= size) view.setUint32(at, 0xffffffff);
        write += skip;
        at = 0;
      }
      view.setUint32(at, packed.length);
      bytes.set(packed, at + 4);
      write += 4 + packed.length;
      Atomics.store(ints, 0, write);
      Atomics.notify(ints, 0);
    }
    Atomics.store(ints, 2, 1);
    Atomics.notify(ints, 0);
  } else {
    let inFlight = 0;
    for (let i = 0; i < records; i += batchSize) {
      const batch = [];
      for (let j = i; j < Math.min(records, i + batchSize); j++) batch.push(record(j));
      if (mode === 'clone') worker.postMessage(batch);
      else {
        const packed = packr.pack(batch);
        const buffer = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length) as ArrayBuffer;
        worker.postMessage(buffer, [buffer]);
      }
      // Let the consumer run now and then (the real channel bounds what is in flight by credit).
      if (++inFlight % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    worker.postMessage('end');
  }
  const result = await done;
  const seconds = (performance.now() - started) / 1000;
  await worker.terminate();
  if (result.records !== records) throw new Error(`${mode}: ${result.records} of ${records} records arrived`);
  return Math.round(records / seconds);
}

/** The baseline: the same batches built and consumed in one thread. */
function inThread(records: number, batchSize: number): number {
  const started = performance.now();
  let sum = 0;
  for (let i = 0; i < records; i += batchSize) {
    const batch = [];
    for (let j = i; j < Math.min(records, i + batchSize); j++) batch.push(record(j));
    for (const r of batch) sum += r.amount;
  }
  if (sum < 0) throw new Error('unreachable');
  return Math.round(records / ((performance.now() - started) / 1000));
}

export async function channelTransportBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const records = option(args, '--records', 2_000_000);
  const batch = option(args, '--batch', 512);
  inThread(records / 4, batch); // warm-up
  await run('msgpack', records / 4, batch);
  const baseline = inThread(records, batch);
  const only = args.includes('--mode') ? args[args.indexOf('--mode') + 1] : undefined;
  const clone = only === undefined || only === 'clone' ? await run('clone', records, batch) : 0;
  const msgpack = only === undefined || only === 'msgpack' ? await run('msgpack', records, batch) : 0;
  const shared = only === undefined || only === 'shared' ? await run('shared', records, batch) : 0;
  return {
    benchmark: 'channel-transport',
    records,
    batch,
    inThreadRecordsPerSec: baseline,
    cloneRecordsPerSec: clone,
    msgpackRecordsPerSec: msgpack,
    sharedRingRecordsPerSec: shared,
    msgpackToInThreadRatio: Number((msgpack / baseline).toFixed(3)),
    node: process.version,
  };
}
