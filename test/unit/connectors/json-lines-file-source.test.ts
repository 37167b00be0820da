// The JSON-lines source over files and directories: one split per file with a byte offset, every
// line read exactly once across restores at other parallelisms, characters split between reads
// kept whole, and a watched directory read file by file as files appear, never twice.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonLinesFileSource } from '../../../src/connectors/file/json-lines-file-source.js';
import type { FileEnumeratorState, FileSplit } from '../../../src/connectors/file/file-split-enumerator.js';
import { StreamEnvironment } from '../../../src/index.js';
import { type SourceHarnessSnapshot, SourceTestHarness } from '../../../src/testing/source-test-harness.js';

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'floe-json-lines-'));
  scratch.push(dir);
  return dir;
};

type Line = { f: number; i: number };
const linesOf = (f: number, n: number): Line[] => Array.from({ length: n }, (_, i) => ({ f, i }));
const sorted = (lines: Line[]) => [...lines].sort((a, b) => a.f - b.f || a.i - b.i);

describe('JSON lines source over a directory', () => {
  it('reads every line of every file exactly once across restores p1 -> p2 -> p3, whatever was read before each', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 0, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.nat(25), { minLength: 8, maxLength: 8 }),
        async (files, parallelisms, amounts) => {
          const dir = tempDir();
          files.forEach((n, f) => writeFileSync(join(dir, `part-${f}.jsonl`), linesOf(f, n).map((l) => JSON.stringify(l) + '\n').join('')));
          writeFileSync(join(dir, '.in-progress.jsonl'), '{"hidden":true}\n');
          const source = () => new JsonLinesFileSource<Line>(dir);
          const seen: Line[] = [];
          let snapshot: SourceHarnessSnapshot<FileSplit, FileEnumeratorState> | undefined;
          let step = 0;
          for (const [run, p] of parallelisms.entries()) {
            const h = await SourceTestHarness.create(source(), { parallelism: p, restore: snapshot });
            for (let i = 0; i < p; i++) seen.push(...(await h.read(i, amounts[step++ % amounts.length])));
            snapshot = h.snapshot(run + 1);
            await h.close();
          }
          const last = await SourceTestHarness.create(source(), { parallelism: parallelisms[2], restore: snapshot });
          seen.push(...(await last.readAll()));
          await last.close();
          expect(sorted(seen)).toEqual(files.flatMap((n, f) => linesOf(f, n)));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('keeps a file position as the byte offset of the first line not read, and a character cut between two reads whole', async () => {
    const dir = tempDir();
    const path = join(dir, 'wide.jsonl');
    // The second line starts 7 bytes before the 1 MiB read boundary: its 'é' (2 bytes, after '{"s":"') straddles it.
    const first = JSON.stringify({ pad: 'x'.repeat((1 << 20) - 18) });
    expect(Buffer.byteLength(first) + 1 + Buffer.byteLength('{"s":"')).toBe((1 << 20) - 1);
    const lines = [first, JSON.stringify({ s: 'é' }), JSON.stringify({ s: '日本' })];
    writeFileSync(path, lines.join('\n') + '\n');
    const h = await SourceTestHarness.create(new JsonLinesFileSource<{ s?: string }>(path), { parallelism: 1 });
    await h.read(0, 1);
    const [[split]] = h.snapshot(1).readers;
    expect(split).toMatchObject({ path, offset: Buffer.byteLength(first) + 1, line: 1 });
    expect((await h.readAll()).slice(1)).toEqual([{ s: 'é' }, { s: '日本' }]);
  });

  it('resumes a file read by Floe 0.1 after the lines that checkpoint counted', async () => {
    const dir = tempDir();
    const path = join(dir, 'old.jsonl');
    writeFileSync(path, ['{"n":1}', '', '{"n":2}', '{"n":3}'].join('\n'));
    const source = new JsonLinesFileSource<{ n: number }>(path);
    const restore = { checkpointId: 1, ...source.restoreLegacyPositions([{ path, line: 3 }]) };
    const h = await SourceTestHarness.create(source, { parallelism: 1, restore });
    expect(await h.readAll()).toEqual([{ n: 3 }]);
  });
});

describe('JSON lines source watching a directory', () => {
  it('reads files as they appear, each once, also after a restore; readers without a file wait', async () => {
    const dir = tempDir();
    const source = () => new JsonLinesFileSource<{ n: number }>(dir, { watch: { intervalMs: 100 } });
    const h = await SourceTestHarness.create(source(), { parallelism: 2 });
    expect(h.poll(0)).toBe('nothing-available');
    expect(h.poll(1)).toBe('nothing-available');

    writeFileSync(join(dir, '_writing.jsonl'), '{"n":1}\n');
    await h.advanceTime(100);
    expect(h.pendingMail(0) + h.pendingMail(1)).toBe(0); // a file being written is not read
    renameSync(join(dir, '_writing.jsonl'), join(dir, 'a.jsonl'));
    await h.advanceTime(100);
    expect(h.pendingMail(0)).toBe(1); // the reader that asked first gets it
    expect(await h.read(0, 1)).toEqual([{ n: 1 }]);
    expect(h.poll(0)).toBe('nothing-available'); // finished its file, asked for another

    const snapshot = h.snapshot(1);
    expect(snapshot.enumerator.seen).toEqual([join(dir, 'a.jsonl')]);
    await h.close();
    const resumed = await SourceTestHarness.create(source(), { parallelism: 3, restore: snapshot });
    writeFileSync(join(dir, 'b.jsonl'), '{"n":2}\n{"n":3}\n');
    await resumed.advanceTime(100);
    // a.jsonl came back to the enumerator (another parallelism) at its end; b.jsonl went to the next reader that asked.
    expect([0, 1, 2].map((i) => resumed.pendingMail(i))).toEqual([1, 1, 0]);
    expect(resumed.poll(0)).toBe('nothing-available');
    await resumed.isAvailable(0);
    expect(resumed.poll(0)).toBe('nothing-available'); // at the end of a.jsonl: nothing read again
    expect(resumed.output[0]).toEqual([]);
    expect(await resumed.read(1, 2)).toEqual([{ n: 2 }, { n: 3 }]);
    await resumed.close();
  });

  it('forgets files that left the directory, so what it remembers stays as large as the directory', async () => {
    const dir = tempDir();
    const h = await SourceTestHarness.create(new JsonLinesFileSource<{ n: number }>(dir, { watch: { intervalMs: 100 } }), { parallelism: 1 });
    expect(h.poll(0)).toBe('nothing-available');
    for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, `${name}.jsonl`), `{"n":${name.charCodeAt(0)}}\n`);
    await h.advanceTime(100);
    expect(await h.read(0, 3)).toEqual([{ n: 97 }, { n: 98 }, { n: 99 }]);
    // The user moves processed files away: the next listing forgets them.
    rmSync(join(dir, 'a.jsonl'));
    rmSync(join(dir, 'b.jsonl'));
    await h.advanceTime(100);
    expect(h.snapshot(1).enumerator.seen).toEqual([join(dir, 'c.jsonl')]);
    // c.jsonl is still there and still not read twice; a new a.jsonl is a new file.
    writeFileSync(join(dir, 'a.jsonl'), '{"n":1}\n');
    await h.advanceTime(100);
    expect(await h.read(0, 1)).toEqual([{ n: 1 }]);
    await h.advanceTime(100);
    expect(h.poll(0)).toBe('nothing-available');
    await h.close();
  });

  it('fails the job when the watched directory goes away, naming it', async () => {
    const dir = join(tempDir(), 'incoming');
    mkdirSync(dir);
    const h = await SourceTestHarness.create(new JsonLinesFileSource(dir, { watch: { intervalMs: 10 } }), { parallelism: 1 });
    rmSync(dir, { recursive: true });
    await expect(h.advanceTime(10)).rejects.toThrow(`cannot open ${dir}`);
  });
});

describe('JSON lines source in a job', () => {
  it('takes checkpoints while it watches an empty directory, then reads the file that appears', async () => {
    const dir = tempDir();
    const incoming = join(dir, 'incoming');
    mkdirSync(incoming);
    const seen: unknown[] = [];
    const env = StreamEnvironment.create({ parallelism: 2, checkpointing: { directory: join(dir, 'chk') }, log: () => {} });
    env.readJsonLines(incoming, { watch: { intervalMs: 20 } }).uid('files').addSink((v) => seen.push(v)).uid('sink');
    const client = env.executeAsync('watch');
    const first = await client.triggerCheckpoint();
    expect(await client.triggerCheckpoint()).toBeGreaterThan(first);
    writeFileSync(join(incoming, 'a.jsonl'), '{"n":1}\n{"n":2}\n');
    while (seen.length < 2) await new Promise((resolve) => setImmediate(resolve));
    await client.stop();
    const result = await client.result;
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(result.stoppedAtCheckpoint).toBeGreaterThan(first);
  });
});
