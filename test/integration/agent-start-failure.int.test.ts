// An agent that cannot bind one of its ports must not start at all: a process left
// half up would answer /v1/status (and look alive to monitoring) while an HL7
// source is deaf and nothing replicates.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlineProcess } from '../support/wardline-process.js';

describe('an agent whose MLLP port is taken', () => {
  const dir = makeTempDir('wardline-start-failure-');
  const blocker = net.createServer();
  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    dir.remove();
  });

  it('exits non-zero naming the port, and leaves its HTTP port free', async () => {
    const mllpPort = await freePort();
    await new Promise<void>((resolve) => blocker.listen(mllpPort, '127.0.0.1', resolve));
    const httpPort = await freePort();
    const config = join(dir.path, 'agent.yaml');
    writeFileSync(
      config,
      `hospital: { id: start-failure }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:${mllpPort}" }]
relays: [{ name: cloud, address: "127.0.0.1:${await freePort()}", secret: "start-failure-secret-01", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
`,
    );
    const agent = new WardlineProcess(['agent', 'start', '--config', config]);
    const exited = await Promise.race([agent.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    if (exited === 'still running') await agent.kill('SIGKILL');
    expect(exited).toMatchObject({ code: 1 });
    expect(agent.recentOutput).toMatch(new RegExp(`EADDRINUSE.*${mllpPort}|${mllpPort}.*EADDRINUSE`));
    // Nothing of it is left listening.
    const reached = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      () => true,
      () => false,
    );
    expect(reached).toBe(false);
  });
});
