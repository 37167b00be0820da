import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FloeError, StreamEnvironment } from '../../../src/index.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'floe-file-'));

describe('JSON lines file source and sink', () => {
  it('round-trips records through a file', async () => {
    const dir = tmp();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, ['{"user":"a","n":1}', '', '{"user":"b","n":2}\r', '{"user":"a","n":3}'].join('\n'));
    const env = StreamEnvironment.create({ parallelism: 2 });
    env
      .readJsonLines<{ user: string; n: number }>(input)
      .keyBy((r) => r.user)
      .sum('n')
      .writeAsJsonLines(join(dir, 'out.jsonl'));
    await env.execute();
    const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((r) => r.user === 'a').map((r) => r.n)).toEqual([1, 4]);
    expect(lines).toHaveLength(3);
  });

  it('fails on a malformed line, naming the file and the line number', async () => {
    const dir = tmp();
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"ok":1}\n{not json}\n{"ok":2}\n');
    const env = StreamEnvironment.create();
    env.readJsonLines(input).print();
    const error = await env.execute().catch((e) => e);
    expect(error).toBeInstanceOf(FloeError);
    expect(error.code).toBe('MALFORMED_RECORD');
    expect(error.message).toContain(`${input}:2`);
    expect(error.message).toContain("onMalformed: 'skip'");
  });

  it('skips and logs malformed lines when asked, losing none of the good ones', async () => {
    const dir = tmp();
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"ok":1}\n{not json}\n{"ok":2}\n');
    const logs: string[] = [];
    const env = StreamEnvironment.create({ log: (m) => logs.push(m) });
    const out = await env.readJsonLines(input, { onMalformed: 'skip' }).executeAndCollect();
    expect(out).toEqual([{ ok: 1 }, { ok: 2 }]);
    expect(logs.join('\n')).toMatch(/bad\.jsonl:2/);
  });

  it('reports a missing input file clearly', async () => {
    const env = StreamEnvironment.create();
    env.readJsonLines('/nonexistent/floe/input.jsonl').print();
    await expect(env.execute()).rejects.toThrow(/cannot open \/nonexistent\/floe\/input\.jsonl/);
  });
});

describe('generator and collection sources', () => {
  it('produces the same records at any parallelism', async () => {
    const run = async (p: number) => {
      const env = StreamEnvironment.create({ parallelism: p });
      const out = await env.fromGenerator((i) => i * 7, { count: 1000 }).executeAndCollect();
      return out.sort((a, b) => a - b);
    };
    const one = await run(1);
    expect(one).toHaveLength(1000);
    expect(await run(3)).toEqual(one);
  });

  it('honours a rate limit on a small bounded run', async () => {
    const env = StreamEnvironment.create();
    const out = await env.fromGenerator((i) => i, { count: 50, eventsPerSecond: 2000 }).executeAndCollect();
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reads async iterables', async () => {
    async function* gen() {
      for (let i = 0; i < 5; i++) {
        await Promise.resolve();
        yield i;
      }
    }
    const env = StreamEnvironment.create();
    expect(await env.fromCollection(gen()).map((x) => x + 1).executeAndCollect()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('JSON lines file sink with checkpoints', () => {
  it('keeps what was written before a failure and appends after the restore (at-least-once)', async () => {
    const dir = tmp();
    let failed = false;
    const env = StreamEnvironment.create({
      checkpointing: { directory: join(dir, 'chk'), intervalMs: 20 },
      restartStrategy: { type: 'fixed-delay', attempts: 2, delayMs: 1 },
      log: () => {},
    });
    env
      .fromGenerator((i) => i, { count: 3000, eventsPerSecond: 6000 })
      .uid('numbers')
      .map((i: number) => {
        if (i === 2000 && !failed) {
          failed = true;
          throw new Error('injected');
        }
        return i;
      })
      .uid('flaky')
      .writeAsJsonLines(join(dir, 'out.jsonl'))
      .uid('sink');
    const result = await env.execute();
    expect(result.restarts).toBe(1);
    const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map(Number);
    expect(new Set(lines).size).toBe(3000);
  });
});
