// `wardline agent check-config` (the unit's ExecStartPre): 0 for a config that
// would start, 78 (RestartPreventExitStatus) naming key, value and file for one that would not.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const exec = promisify(execFile);
const temp = makeTempDir('wardline-check-config-');
afterAll(() => temp.remove());

async function checkConfig(text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(temp.path, 'agent.yaml');
  writeFileSync(file, text);
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI_PATH, 'agent', 'check-config', '--config', file], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const config = (listen: string) => `hospital: { id: h1 }
dataDir: ${join(temp.path, 'data')}
http: { listen: "${listen}" }
relays: [{ name: cloud, address: "127.0.0.1:1", secretFile: ${join(temp.path, 'secret')}, allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
`;

describe('wardline agent check-config', () => {
  it('says OK for a config that would start and exits 78 naming key, value and file otherwise', async () => {
    writeFileSync(join(temp.path, 'secret'), 'a-shared-secret-of-enough-length\n', { mode: 0o600 });
    const ok = await checkConfig(config('127.0.0.1:8480'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('agent.yaml: OK (hospital h1');
    const bad = await checkConfig(config('127.0.0.1:99999'));
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('http.listen');
    expect(bad.stderr).toContain('99999');
    expect(bad.stderr).toContain(join(temp.path, 'agent.yaml'));
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
