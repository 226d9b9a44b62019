import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../support/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('generated protocol code', () => {
  it('matches what `npm run proto` generates from the .proto (regenerate and commit if this fails)', () => {
    const dir = makeTempDir();
    try {
      execFileSync(process.execPath, [join(root, 'scripts/generate-protocol.mjs'), '--out', dir.path], { stdio: 'pipe' });
      for (const file of ['wardline.js', 'wardline.d.ts']) {
        expect(readFileSync(join(dir.path, file), 'utf8'), file).toBe(readFileSync(join(root, 'protocol/generated', file), 'utf8'));
      }
    } finally {
      dir.remove();
    }
  }, 60_000);
});
