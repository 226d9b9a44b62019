// Every line the agent and the relay write is one JSON object with no key twice:
// JSON.parse, jq and log shippers keep the last of a repeated key, so an alert
// written with "level" 50 and then its own "level" 1 was read as level 1 and missed.
// A short fault run (traffic, the relay killed, the link-lost alert firing, the
// relay back, the alert resolved) and then every line of both logs is scanned.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duplicateJsonKeys } from '../../runtime/index.js';
import { SimulatedHospital } from '../../simulator/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { WardlinePair } from '../support/wardline-pair.js';

describe('log lines of a fault run (real agent and relay processes)', () => {
  const dir = makeTempDir();
  let pair: WardlinePair | undefined;
  let hospital: SimulatedHospital | undefined;

  afterAll(async () => {
    await hospital?.stop();
    await pair?.stop();
    dir.remove();
  });

  it('repeat no key on any line, the alert lines included', async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: 'log-keys',
      agentSections: { alerts: { linkLostAfter: '1s', settleAfter: '1s' } },
    });
    await pair.startRelay();
    await pair.startAgent();
    hospital = new SimulatedHospital({ mllp: { host: '127.0.0.1', port: pair.ports.mllp }, ratePerSecond: 20, connections: 1, seed: 'log-keys' });
    hospital.start();
    await until('events journaled', () => pair!.agentStatus(), (s) => s.journal.headSeq >= 20, { timeoutMs: 20_000 });

    await pair.relay!.kill('SIGKILL');
    await until('link-lost alert firing', () => pair!.agentStatus(), (s) => (s.alerts?.active.length ?? 0) > 0, { timeoutMs: 20_000 });
    await pair.startRelay();
    await until('alert resolved', () => pair!.agentStatus(), (s) => (s.alerts?.active.length ?? 0) === 0 && s.links[0]!.state === 'streaming', { timeoutMs: 30_000 });
    await hospital.stop();
    await pair.waitForDrain();
    await pair.stop();

    const problems: string[] = [];
    const alertLines: Record<string, unknown>[] = [];
    let lines = 0;
    for (const name of ['agent.log', 'relay.log']) {
      for (const line of readFileSync(join(dir.path, name), 'utf8').split('\n')) {
        // The CLI's one-line banners ("wardline agent running: …") are for a person at a terminal.
        if (!line.startsWith('{')) continue;
        lines++;
        let repeated: string[];
        try {
          repeated = duplicateJsonKeys(line);
        } catch (error) {
          problems.push(`${name}: not one JSON object (${(error as Error).message}): ${line.slice(0, 200)}`);
          continue;
        }
        if (repeated.length > 0) problems.push(`${name}: ${repeated.join(', ')} repeated in ${line.slice(0, 300)}`);
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.msg === 'string' && parsed.msg.startsWith('alert')) alertLines.push(parsed);
      }
    }
    expect(problems).toEqual([]);
    expect(lines).toBeGreaterThan(10);
    // The alert was written at a level a filter on "level >= 40" catches, and then resolved.
    expect(alertLines.some((l) => typeof l.level === 'number' && l.level >= 40 && l.part === 'alerts')).toBe(true);
    expect(alertLines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('alert resolved'))).toBe(true);
  }, 120_000);
});
