// The disk budget end to end: an in-process agent whose data directory sits on a
// real, tiny ext4 filesystem (loop-mounted) that the test fills with ballast until
// the agent turns critical, then empties again. Senders talk real MLLP and HTTP.
// Without root or loop devices the disk's figures come from a probe the test sets
// instead (a full disk cannot be produced otherwise); everything else is the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import type { DiskProbe, DiskReading } from '../../agent/health/index.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { agentStatusCommand } from '../../cli/agent-status-command.js';
import { MllpSender } from '../../simulator/mllp-sender.js';
import { makeTempDir } from '../support/temp-dir.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tiny-filesystem.js';

const quiet = pino({ level: 'silent' });
const TINY_BYTES = 32 * 1024 * 1024;

/** The fallback: a disk whose used percentage the test sets. */
class SetFiguresProbe implements DiskProbe {
  percent = 20;
  read(): Promise<DiskReading> {
    const totalBytes = 100e9;
    const usedBytes = (totalBytes * this.percent) / 100;
    return Promise.resolve({ mount: '/set-by-test', filesystem: 'test', type: 'test', totalBytes, usedBytes, freeBytes: totalBytes - usedBytes });
  }
}

const hl7 = (app: string, controlId: string, patientId: string): Buffer =>
  Buffer.from([`MSH|^~\\&|${app}|HOSP|WL|WL|20240101120000||ADT^A08|${controlId}|P|2.5`, `PID|1||${patientId}^^^H^MR||Li^Lei`].join('\r') + '\r');

describe('disk budget: refusing input at critical, accepting again after recovery', () => {
  const dir = makeTempDir('wardline-disk-');
  let tiny: TinyFilesystem | undefined;
  let setProbe: SetFiguresProbe | undefined;
  let agent: RunningAgent;
  let url: string;
  let his: MllpSender;
  let lis: MllpSender;

  const status = async (): Promise<AgentStatus> => (await (await fetch(`${url}/v1/status`)).json()) as AgentStatus;
  const waitForDiskState = async (state: string): Promise<AgentStatus> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const s = await status();
      if (s.disk?.state === state) return s;
      if (Date.now() > deadline) throw new Error(`disk never became ${state}: ${JSON.stringify(s.disk)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Fills the disk to about `percent` used: real ballast on the tiny filesystem, or set figures. */
  const fillTo = async (percent: number): Promise<void> => {
    if (setProbe) {
      setProbe.percent = percent;
      return;
    }
    tiny!.ballast(0);
    const disk = (await waitForFresh()).disk!;
    const capacity = disk.usedBytes! + disk.freeBytes!;
    tiny!.ballast(Math.max(0, Math.round((capacity * percent) / 100 - disk.usedBytes!)));
  };
  /** A status whose disk reading was taken after this call. */
  const waitForFresh = async (): Promise<AgentStatus> => {
    const after = Date.now();
    for (;;) {
      const s = await status();
      if ((s.disk?.sampledAtMs ?? 0) > after) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const ingest = (key: string) =>
    fetch(`${url}/v1/ingest/appointments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, at: '2026-11-22T09:00' }) });
  const record = (stream: string, key: string) => fetch(`${url}/v1/records/${stream}/${key}`);

  beforeAll(async () => {
    const mounted = mountTinyFilesystem(dir.path, TINY_BYTES);
    tiny = mounted.fs;
    if (!tiny) {
      setProbe = new SetFiguresProbe();
      console.warn(`disk-budget.int.test: ${mounted.why}; using set disk figures instead of a real full disk`);
    }
    const dataDir = tiny ? join(tiny.path, 'data') : join(dir.path, 'data');
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: disk-hospital }
dataDir: ${dataDir}
http: { listen: "127.0.0.1:0" }
sources:
  - { kind: mllp, name: his, listen: "127.0.0.1:0" }
  - { kind: mllp, name: lis, listen: "127.0.0.1:0", critical: true }
disk: { warnAtPercent: 60, criticalAtPercent: 80, hysteresisPercent: 5, sampleIntervalMs: 100 }
`,
    );
    agent = await startAgent(file, { logger: quiet, diskProbe: setProbe });
    url = `http://127.0.0.1:${agent.httpPort}`;
    his = new MllpSender({ host: '127.0.0.1', port: agent.mllpPorts.get('his')!, ackTimeoutMs: 5_000, maxAttempts: 1 });
    lis = new MllpSender({ host: '127.0.0.1', port: agent.mllpPorts.get('lis')!, ackTimeoutMs: 5_000, maxAttempts: 1 });
  });

  afterAll(async () => {
    await his?.close();
    await lis?.close();
    await agent?.stop();
    tiny?.remove();
    dir.remove();
  });

  it('reports the data directory’s disk in status and metrics while it is ok', async () => {
    const s = await waitForDiskState('ok');
    expect(s.disk).toMatchObject({ state: 'ok', reason: null, probeError: null, journalRows: 0, oldestRetainedSeq: null });
    if (tiny) {
      expect(s.disk!.mount).toBe(tiny.path);
      expect(s.disk!.totalBytes).toBeGreaterThan(TINY_BYTES * 0.7); // ext4 keeps some for itself
      expect(s.disk!.totalBytes).toBeLessThanOrEqual(TINY_BYTES);
    }
    expect(s.disk!.journalBytes).toBeGreaterThan(0);
    expect((await his.send(hl7('HIS', 'HIS-OK-1', 'P-OK-1'), 'HIS-OK-1')).code).toBe('AA');
    expect((await ingest('APT-OK-1')).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^wardline_agent_disk_state 0$/m);
    expect(metrics).toMatch(/^wardline_agent_disk_free_bytes \d+$/m);
    expect(metrics).toMatch(/^wardline_agent_journal_trimmed_events_total 0$/m);
  });

  it('at critical answers HL7 AR and HTTP 507 with a reason, accepts the critical source, and journals nothing refused', async () => {
    await fillTo(90);
    const critical = await waitForDiskState('critical');
    const headBefore = critical.journal.headSeq;
    expect(critical.disk!.reason).toMatch(/^\d+\.\d% used \(threshold 80%\)$/);

    const refused = await his.send(hl7('HIS', 'HIS-FULL-1', 'P-FULL-1'), 'HIS-FULL-1');
    expect(refused.code).toBe('AR');
    expect(refused.controlId).toBe('HIS-FULL-1');
    // ERR-8 carries the whole reason; MSA-3 the first 80 characters of it.
    expect(refused.raw).toMatch(/\rERR\|[^\r]*\|disk critically full on the Wardline agent: \d+\.\d% used \(threshold 80%\); message not accepted, retry later(\r|$)/);
    expect(refused.raw).toMatch(/\rMSA\|AR\|HIS-FULL-1\|disk critically full on the Wardline agent: /);

    const http = await ingest('APT-FULL-1');
    expect(http.status).toBe(507);
    const body = (await http.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toMatch(/^disk critically full on the Wardline agent: \d+\.\d% used \(threshold 80%\); message not accepted, retry later$/);

    const accepted = await lis.send(hl7('LIS', 'LIS-FULL-1', 'P-LIS-1'), 'LIS-FULL-1');
    expect(accepted.code).toBe('AA');
    expect((await record('adt', 'P-LIS-1')).status).toBe(200);

    // Nothing of the refused input was written: one new event, the critical source's.
    const after = await status();
    expect(after.journal.headSeq).toBe(headBefore + 1);
    expect((await record('adt', 'P-FULL-1')).status).toBe(404);
    expect((await record('appointments', 'APT-FULL-1')).status).toBe(404);
    const sources = new Map(after.sources.map((s) => [s.name, s]));
    expect(sources.get('his')!.lastRejection?.reason).toMatch(/^disk critically full/);
    expect(sources.get('http')!.lastRejection?.reason).toMatch(/^disk critically full/);
    // The codes the dashboard translates, beside the English texts.
    expect(sources.get('his')!.lastRejection?.kind).toBe('disk-full');
    expect(sources.get('http')!.lastRejection?.kind).toBe('disk-full');
    expect(after.disk).toMatchObject({ state: 'critical', reasonKind: 'used-percent' });

    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^wardline_agent_disk_state 2$/m);

    // The operator's view.
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(chunk), true)) as typeof process.stdout.write;
    try {
      await agentStatusCommand({ url });
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toMatch(/\ndisk\n {2}.*\n {2}CRITICAL \(\d+\.\d% used \(threshold 80%\)\)/);
  });

  it('at a truly full disk answers even the critical source AR, and keeps everything it acknowledged', async (ctx) => {
    if (!tiny) return ctx.skip('needs a real filesystem to fill to the last block');
    tiny.ballast(Number.POSITIVE_INFINITY);
    await waitForDiskState('critical');
    // 8 KiB messages: the first few may still fit in the WAL's slack (AA); then the commit fails.
    const big = (i: number): Buffer =>
      Buffer.from([`MSH|^~\\&|LIS|HOSP|WL|WL|20240101120000||ADT^A08|LIS-BIG-${i}|P|2.5`, `PID|1||P-BIG-${i}^^^H^MR||${'X'.repeat(8 * 1024)}`].join('\r') + '\r');
    const acked: number[] = [];
    let refusedAt: number | undefined;
    for (let i = 0; i < 2000 && refusedAt === undefined; i++) {
      const ack = await lis.send(big(i), `LIS-BIG-${i}`);
      if (ack.code === 'AA') acked.push(i);
      else {
        expect(ack.code).toBe('AR');
        expect(ack.text).toMatch(/could not store the message; resend it later/);
        refusedAt = i;
      }
    }
    expect(refusedAt).toBeDefined();
    // The agent keeps serving, and every message it acknowledged is there.
    for (const i of acked) expect((await record('adt', `P-BIG-${i}`)).status).toBe(200);
    expect((await record('adt', `P-BIG-${refusedAt}`)).status).toBe(404);

    tiny.ballast(0);
    await waitForDiskState('ok');
    expect((await lis.send(big(refusedAt!), `LIS-BIG-${refusedAt}`)).code).toBe('AA');
    expect((await record('adt', `P-BIG-${refusedAt}`)).status).toBe(200);
  });

  it('accepts everything again once the disk has room, and the refused sender’s retry is journaled', async () => {
    await fillTo(0);
    await waitForDiskState('ok');
    const retry = await his.send(hl7('HIS', 'HIS-FULL-1', 'P-FULL-1'), 'HIS-FULL-1');
    expect(retry.code).toBe('AA');
    expect((await record('adt', 'P-FULL-1')).status).toBe(200);
    expect((await ingest('APT-FULL-1')).status).toBe(200);
    expect((await record('appointments', 'APT-FULL-1')).status).toBe(200);
  });
});
