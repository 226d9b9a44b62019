// A reader that stops early (`wardline audit verify | head`) closes the pipe under
// the command. Every command must then stop quietly: no EPIPE stack trace, exit
// code 141 (128 + SIGPIPE, as `cat` or `grep` would), whichever stream was closed.
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson, chainNext, GENESIS_HEAD, toLedgerLine, type LedgerRecord } from '../../agent/audit/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

/** Runs the CLI with stdout and stderr piped, the test's end of `close` closed at once (before the command writes). */
function runClosing(args: string[], close: 'stdout' | 'stderr'): Promise<{ code: number | null; signal: string | null; other: string }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  (close === 'stdout' ? child.stdout : child.stderr).destroy();
  let other = '';
  (close === 'stdout' ? child.stderr : child.stdout).on('data', (chunk: Buffer) => (other += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, other })));
}

describe('a CLI command whose reader closes the pipe', () => {
  const dir = makeTempDir('wardline-closed-pipe-');
  afterAll(() => dir.remove());

  // An export of 300 records of which every other one was tampered with: `audit verify`
  // then writes a line per problem (the first 100) and a count of the rest.
  const exportFile = join(dir.path, 'ledger.jsonl');
  const lines: string[] = [];
  let head = GENESIS_HEAD;
  for (let i = 0; i < 300; i++) {
    const record: LedgerRecord = chainNext(head, { type: 'batch', feed: 'clinical', details: { relay: 'cloud', firstSeq: i + 1, lastSeq: i + 1, events: 1, bytes: 900 } }, Date.parse('2026-11-21T08:00:00Z') + i);
    head = record;
    lines.push(canonicalJson(toLedgerLine(i % 2 ? { ...record, details: { ...record.details, bytes: 1 } } : record)));
  }
  writeFileSync(exportFile, `${lines.join('\n')}\n`);

  // The reader is gone before the command writes: deterministic, where closing after the
  // first line would race a command whose whole output fits in the pipe.
  it('audit verify | head: stdout closed before it writes, exit 141, nothing on stderr', async () => {
    const result = await runClosing(['audit', 'verify', '--file', exportFile], 'stdout');
    expect(result.other).toBe('');
    expect(result).toMatchObject({ code: 141, signal: null });
  });

  it('a command whose stderr is closed (relay enrol-token writes its note there): exit 141, the token still on stdout', async () => {
    const config = join(dir.path, 'relay.yaml');
    writeFileSync(config, `dataDir: ./relay-data\nallowPlaintext: true\nhospitals: [{ id: h1, secret: h1-secret-0123456789abcdef }]\n`);
    const result = await runClosing(['relay', 'enrol-token', '-c', config, '--hospital', 'h1'], 'stderr');
    expect(result.other).toMatch(/^wlenrol_\S+\n$/);
    expect(result).toMatchObject({ code: 141, signal: null });
  });
});

describe('audit export --out', () => {
  const dir = makeTempDir('wardline-export-out-');
  afterAll(() => dir.remove());

  // The export is renamed into place: a device or pipe given as --out (/dev/stdout) would be replaced by a file.
  it('refuses a path that is not a regular file (a directory here, as /dev/stdout would be a device), exit 2, nothing replaced', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'audit', 'export', '--db', join(dir.path, 'agent.db'), '--out', dir.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain(`--out: ${dir.path} is not a regular file`);
    expect(statSync(dir.path).isDirectory()).toBe(true);
  });
});
