import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';

describe('JSON lines sink output directory', () => {
  it('fails at once with DIRECTORY_UNUSABLE naming the directory when it cannot be created (no recursive mkdir spin under /proc)', async () => {
    const env = StreamEnvironment.create({ log: () => {} });
    env.fromElements(1, 2).writeAsJsonLines('/proc/floe-nope/out.jsonl');
    const error = await env.execute('unusable-output').catch((e) => e);
    expect(error.code).toBe('DIRECTORY_UNUSABLE');
    expect(error.message).toMatch(/output directory of the JSON lines sink \/proc\/floe-nope cannot be used: .*writeAsJsonLines\(path\)/);
  });
});
