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
    // One line naming the key, the address, the errno and the file; no stack trace.
    expect(agent.recentOutput).toContain(`wardline: [WL_A022] sources[0].listen: cannot listen on 127.0.0.1:${mllpPort}: the port is already in use`);
    expect(agent.recentOutput).toContain(`(EADDRINUSE); change sources[0].listen or free the address (${config})\n`);
    expect(agent.recentOutput).not.toMatch(/\n\s+at /);
    // Nothing of it is left listening.
    const reached = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      () => true,
      () => false,
    );
    expect(reached).toBe(false);
  });
});

/** A process's exit, or 'still running' after a generous bound (then it is killed). */
async function exitOf(process: WardlineProcess): Promise<{ code: number | null } | 'still running'> {
  const exited = await Promise.race([process.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
  if (exited === 'still running') await process.kill('SIGKILL');
  return exited;
}

describe('start errors name the key, the address and the file', () => {
  const dir = makeTempDir('wardline-start-failure-keys-');
  const blocker = net.createServer();
  let taken = 0;
  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    dir.remove();
  });

  it('an agent whose http.listen port is taken: one line, [WL_A022] http.listen, exit 1', async () => {
    taken = await freePort();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    const config = join(dir.path, 'agent.yaml');
    writeFileSync(
      config,
      `hospital: { id: start-failure }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${taken}" }
relays: [{ name: cloud, address: "127.0.0.1:${await freePort()}", secret: "start-failure-secret-01", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
`,
    );
    const agent = new WardlineProcess(['agent', 'start', '--config', config]);
    expect(await exitOf(agent)).toMatchObject({ code: 1 });
    expect(agent.recentOutput).toContain(`wardline: [WL_A022] http.listen: cannot listen on 127.0.0.1:${taken}: the port is already in use`);
    expect(agent.recentOutput).toContain(`(EADDRINUSE); change http.listen or free the address (${config})\n`);
    expect(agent.recentOutput).not.toMatch(/\n\s+at /);
  });

  for (const key of ['grpc.listen', 'http.listen'] as const) {
    it(`a relay whose ${key} port is taken: one line, [WL_LISTEN_FAILED] ${key}, exit 1`, async () => {
      const other = await freePort();
      const [grpcPort, httpPort] = key === 'grpc.listen' ? [taken, other] : [other, taken];
      const config = join(dir.path, `relay-${key}.yaml`);
      writeFileSync(config, `dataDir: ./relay-data-${key}\nallowPlaintext: true\ngrpc: { listen: "127.0.0.1:${grpcPort}" }\nhttp: { listen: "127.0.0.1:${httpPort}" }\nhospitals: [{ id: h1, secret: h1-secret-0123456789abcdef }]\n`);
      const relay = new WardlineProcess(['relay', 'start', '--config', config]);
      expect(await exitOf(relay)).toMatchObject({ code: 1 });
      expect(relay.recentOutput).toContain(`wardline: [WL_LISTEN_FAILED] ${key}: cannot listen on 127.0.0.1:${taken}: the port is already in use`);
      expect(relay.recentOutput).toContain(`(EADDRINUSE); change ${key} or free the address (${config})\n`);
      expect(relay.recentOutput).not.toMatch(/\n\s+at /);
    });
  }

  it('a bad config: [WL_CONFIG] naming key, value and file, exit 78, no stack', async () => {
    const config = join(dir.path, 'agent-bad.yaml');
    writeFileSync(config, `hospital: { id: start-failure }\ndataDir: ./agent-data\nreplication: { ackTimeoutMs: "ten seconds" }\nrelays: []\nfeeds: []\n`);
    const agent = new WardlineProcess(['agent', 'start', '--config', config]);
    expect(await exitOf(agent)).toMatchObject({ code: 78 });
    expect(agent.recentOutput).toMatch(/^wardline: \[WL_CONFIG\] invalid config:\n/m);
    expect(agent.recentOutput).toContain(`replication.ackTimeoutMs: expected a duration`);
    expect(agent.recentOutput).not.toMatch(/\n\s+at /);
  });
});

