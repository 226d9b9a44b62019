// A relay started as systemd starts a service, with stdout on the journal's stream
// and JOURNAL_STREAM naming it, writes the text format with syslog priority
// prefixes without being told (log.format absent); the same variable inherited
// by a process whose stdout is something else leaves it writing JSON. The
// journal's stream is stood in for by a file: journald is not running here, and
// the check is the one systemd.exec(5) describes, device and inode of stdout.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { WardlinePair } from '../support/wardline-pair.js';
import { CLI_PATH } from '../support/wardline-process.js';

/** The CLI's own lines to a person ("wardline relay running: …", "SIGTERM: stopping"), on stderr; journald files them at info. */
const CLI_LINE = /^(?:wardline |SIG[A-Z]+: )/;

async function runRelay(dir: string, pair: WardlinePair, out: string, journalStream: (stdout: { dev: number; ino: number }) => string): Promise<string> {
  const fd = openSync(join(dir, out), 'w');
  const stat = fstatSync(fd);
  const child = spawn(process.execPath, [CLI_PATH, 'relay', 'start', '--config', join(dir, 'relay.yaml')], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, JOURNAL_STREAM: journalStream(stat) },
  });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await until('relay started', () => readFileSync(join(dir, out), 'utf8'), (text) => text.includes('wardline relay running'), { timeoutMs: 30_000 });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return readFileSync(join(dir, out), 'utf8');
}

describe('the log format a relay picks when its config names none (real process)', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  it('is text with priority prefixes on the journal stream systemd named, JSON elsewhere', async () => {
    const pair = await WardlinePair.create(dir.path, { hospital: 'journald' });

    const journal = await runRelay(dir.path, pair, 'journal-stream.log', (s) => `${s.dev}:${s.ino}`);
    const records = journal.split('\n').filter((l) => l !== '' && !CLI_LINE.test(l));
    expect(records.length).toBeGreaterThan(2);
    for (const line of records) expect(line, journal).toMatch(/^<[2-7]>\S/);
    // The plaintext warning is a warning to journald (priority 4), the start an info (6).
    expect(journal).toMatch(/^<4>.*plaintext|^<4>.*clear/im);
    expect(journal).toMatch(/^<6>/m);

    const elsewhere = await runRelay(dir.path, pair, 'inherited.log', (s) => `${s.dev}:${s.ino + 1}`);
    const lines = elsewhere.split('\n').filter((l) => l !== '' && !CLI_LINE.test(l));
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  }, 90_000);
});
