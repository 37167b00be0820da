import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureUsableDirectory } from '../../../src/state/usable-directory.js';

const purpose = { what: 'checkpoint directory', option: '--checkpoint-dir DIR' };

describe('usable directories', () => {
  it('creates missing levels and returns the absolute path', () => {
    const root = mkdtempSync(join(tmpdir(), 'floe-usable-'));
    expect(ensureUsableDirectory(join(root, 'a', 'b'), purpose)).toBe(join(root, 'a', 'b'));
    expect(existsSync(join(root, 'a', 'b'))).toBe(true);
  });

  it('refuses a directory under /proc at once instead of spinning in mkdir', () => {
    expect(() => ensureUsableDirectory('/proc/floe-x/chk', purpose)).toThrow(
      expect.objectContaining({ code: 'DIRECTORY_UNUSABLE', message: expect.stringMatching(/The checkpoint directory \/proc\/floe-x\/chk cannot be used: cannot create \/proc\/floe-x .*--checkpoint-dir DIR/) }),
    );
  });

  it('refuses a path whose parent is a file', () => {
    const root = mkdtempSync(join(tmpdir(), 'floe-usable-'));
    writeFileSync(join(root, 'file'), '');
    expect(() => ensureUsableDirectory(join(root, 'file', 'chk'), purpose)).toThrow(/cannot be used: .*file/);
  });
});
