// Every line the agent and the relay write is one JSON object with no key twice:
// JSON.parse, jq and log shippers keep the last of a repeated key, so an alert
// written with "level" 50 and then its own "level" 1 was read as level 1 and missed.
// A short fault run (traffic, the relay killed, the link-lost alert firing, the
// relay back, the alert resolved) and then every line of both logs is scanned.
// The same run in the text format (log.format: text, for journald): every line
// opens with its syslog priority prefix, carries each key once, and the alert
// is at a priority `journalctl -p warning` shows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duplicateJsonKeys } from '../../runtime/index.js';
import { SimulatedHospital } from '../../simulator/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { WardlinePair } from '../support/wardline-pair.js';

/** The key=value fields of a text line, in order (a message word with `=` in it counts too). */
function textKeys(line: string): string[] {
  return [...line.matchAll(/(?:^|\s)([A-Za-z_][\w.]*)=(?:"(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => m[1]!);
}

describe.each(['json', 'text'] as const)('%s log lines of a fault run (real agent and relay processes)', (format) => {
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
      ...(format === 'text' ? { logFormat: 'text' as const } : {}),
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
        // The CLI's own lines ("wardline agent running: …", "SIGTERM: stopping", on stderr) are for a person at a terminal.
        if (line === '' || /^(?:wardline |SIG[A-Z]+: )/.test(line)) continue;
        lines++;
        if (format === 'text') {
          const prefix = /^<([0-7])>(.*)$/.exec(line);
          if (!prefix) {
            problems.push(`${name}: no syslog priority prefix: ${line.slice(0, 200)}`);
            continue;
          }
          const keys = textKeys(prefix[2]!);
          const repeatedKeys = keys.filter((k, i) => keys.indexOf(k) !== i);
          if (repeatedKeys.length > 0) problems.push(`${name}: ${repeatedKeys.join(', ')} repeated in ${line.slice(0, 300)}`);
          if (prefix[2]!.startsWith('alert')) alertLines.push({ priority: Number(prefix[1]), msg: prefix[2], part: keys.includes('part') ? /(?:^|\s)part=(\S+)/.exec(prefix[2]!)![1] : undefined });
          continue;
        }
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
    // The alert was written at a level a filter on "level >= 40" (or `journalctl -p warning`) catches, and then resolved.
    if (format === 'json') expect(alertLines.some((l) => typeof l.level === 'number' && l.level >= 40 && l.part === 'alerts')).toBe(true);
    else expect(alertLines.some((l) => typeof l.priority === 'number' && l.priority <= 4 && l.part === 'alerts')).toBe(true);
    expect(alertLines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('alert resolved'))).toBe(true);
  }, 120_000);
});
