// A relay and an agent started by hand, in a shell whose umask is 022, must still
// keep their data to the service account: data directories 0700, relay.db,
// agent.db and their -wal/-shm 0600. A secret file others can read stops the start
// with the file, its mode and the fix, unless secretFilePermissions says warn.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_SECRET, WardlinePair } from '../support/wardline-pair.js';
import { WardlineProcess } from '../support/wardline-process.js';

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** Runs `wardline <args>` to its exit; what it printed. */
async function runToExit(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = new WardlineProcess(args);
  const { code } = await child.exited;
  return { code, output: child.recentOutput };
}

describe('file modes and secret files (real relay and agent processes, umask 022)', () => {
  const dir = makeTempDir();
  let pair: WardlinePair | undefined;
  let umask: number;

  beforeAll(() => {
    // As an operator's shell has it; the children inherit it.
    umask = process.umask(0o022);
  });
  afterAll(async () => {
    await pair?.stop();
    process.umask(umask);
    dir.remove();
  });

  it('creates the data directories 0700 and the databases with their -wal and -shm 0600', async () => {
    pair = await WardlinePair.create(dir.path, { hospital: 'modes' });
    await pair.startRelay();
    await pair.startAgent();
    // Something journaled and replicated, so both WALs are in use.
    const ingest = await fetch(`${pair.agentHttp}/v1/ingest/adt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: 'P1', ward: '3B' }]) });
    expect(ingest.status).toBeLessThan(300);
    await pair.waitForDrain(20_000);

    const modes: Record<string, string> = {};
    for (const [data, db] of [['relay-data', 'relay.db'], ['agent-data', 'agent.db']] as const) {
      modes[data] = modeOf(join(dir.path, data));
      for (const suffix of ['', '-wal', '-shm']) {
        const file = join(dir.path, data, db + suffix);
        if (existsSync(file)) modes[`${data}/${db}${suffix}`] = modeOf(file);
      }
    }
    expect(modes).toEqual({
      'relay-data': '0700',
      'relay-data/relay.db': '0600',
      'relay-data/relay.db-wal': '0600',
      'relay-data/relay.db-shm': '0600',
      'agent-data': '0700',
      'agent-data/agent.db': '0600',
      'agent-data/agent.db-wal': '0600',
      'agent-data/agent.db-shm': '0600',
    });
  });

  it('narrows a database an earlier run left readable by others, and says so of an open data directory', async () => {
    await pair!.agent!.kill('SIGTERM');
    const dataDir = join(dir.path, 'agent-data');
    const db = join(dataDir, 'agent.db');
    chmodSync(db, 0o644);
    chmodSync(dataDir, 0o755);
    await pair!.startAgent();
    expect(modeOf(db)).toBe('0600');
    expect(pair!.agent!.recentOutput).toContain(`is mode 0755: other users can list it; run chmod 700 ${dataDir}`);
    chmodSync(dataDir, 0o700);
  });

  it('refuses to start with a secret file others can read, naming the file, its mode and the fix', async () => {
    await pair!.stop();
    const secretFile = join(dir.path, 'hospital.secret');
    writeFileSync(secretFile, `${PAIR_SECRET}\n`, { mode: 0o644 });
    chmodSync(secretFile, 0o644);
    const relayYaml = join(dir.path, 'relay-secret-file.yaml');
    const relayConfig = readFileSync(join(dir.path, 'relay.yaml'), 'utf8').replace(`secret: "${PAIR_SECRET}"`, `secretFile: ${JSON.stringify(secretFile)}`);
    writeFileSync(relayYaml, relayConfig);
    const agentYaml = join(dir.path, 'agent-secret-file.yaml');
    writeFileSync(agentYaml, readFileSync(join(dir.path, 'agent.yaml'), 'utf8').replace(`"secret":"${PAIR_SECRET}"`, `"secretFile":${JSON.stringify(secretFile)}`));

    const relay = await runToExit(['relay', 'start', '--config', relayYaml]);
    expect(relay.code).not.toBe(0);
    expect(relay.output).toContain(`hospitals[0].secretFile: "${secretFile}" can be read by other users (mode 0644); run chmod 600 ${secretFile}, or set secretFilePermissions: warn to start anyway (${relayYaml})`);
    const agent = await runToExit(['agent', 'start', '--config', agentYaml]);
    expect(agent.code).not.toBe(0);
    expect(agent.output).toContain(`relays[0].secretFile: "${secretFile}" can be read by other users (mode 0644); run chmod 600 ${secretFile}`);
    // Neither echoes the secret.
    expect(relay.output + agent.output).not.toContain(PAIR_SECRET);

    // Downgraded to a warning by config: it starts, and says so in its log.
    writeFileSync(relayYaml, `${relayConfig}secretFilePermissions: warn\n`);
    const warned = new WardlineProcess(['relay', 'start', '--config', relayYaml]);
    try {
      const deadline = Date.now() + 20_000;
      while (!warned.recentOutput.includes('wardline relay running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const warning = warned.recentOutput.split('\n').find((l) => l.includes('secretFilePermissions is warn'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 40 });
      expect(warning).toContain(`"${secretFile}" can be read by other users (mode 0644)`.replace(/"/g, '\\"'));
    } finally {
      await warned.kill('SIGTERM');
    }

    // Once private, used without a word.
    chmodSync(secretFile, 0o600);
    writeFileSync(relayYaml, relayConfig);
    const ok = new WardlineProcess(['relay', 'start', '--config', relayYaml]);
    try {
      const deadline = Date.now() + 20_000;
      while (!ok.recentOutput.includes('wardline relay running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(ok.recentOutput).toContain('wardline relay running');
      expect(ok.recentOutput).not.toContain('secretFilePermissions');
    } finally {
      await ok.kill('SIGTERM');
    }
  });
});
