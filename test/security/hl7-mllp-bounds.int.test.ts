// MLLP floods against a real agent process: connections holding unfinished 15 MB
// frames, thousands of idle connections, and one 15 MB message of 4 million
// segments. The agent's memory (VmRSS from /proc/<pid>/status) must stay bounded,
// every refusal is logged with the peer, and a real sender's ACKs stay fast.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Hl7AttackAgent, Hl7Peer, MllpFlood, potassiumResult } from '../support/hl7-attack-agent.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const MB = 1024 * 1024;

/** A raw connection that writes `bytes` and reports whether the agent closed it. */
function flooder(port: number, bytes: Buffer | undefined): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      if (bytes) socket.write(bytes);
      resolve({ socket, closed });
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

/** ACK times of `count` messages sent one after another by a fresh sender, in ms. */
async function ackTimes(port: number, count: number, tag: string): Promise<number[]> {
  const peer = await Hl7Peer.connect(port);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const { ack, ms } = await peer.send(potassiumResult({ controlId: `${tag}-${i}`, value: '4.1', order: `ORD-${tag}-${i}` }), 30_000);
      expect(ack.get('MSA-1')).toBe('AA');
      times.push(ms);
    }
  } finally {
    peer.close();
  }
  return times;
}

const max = (values: number[]) => Math.max(...values);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mb = (bytes: number) => Math.round(bytes / MB);

describe('MLLP bounds (real agent)', () => {
  const dir = makeTempDir('wardline-mllp-bounds-');
  let agent: Hl7AttackAgent | undefined;
  const sockets: net.Socket[] = [];
  const floods: MllpFlood[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const flood of floods.splice(0)) flood.stop();
    await agent?.stop();
    agent = undefined;
  });

  afterAll(() => dir.remove());
  /** A directory of its own for each test's agent: its database and log start empty. */
  const ownDir = () => mkdtempSync(join(dir.path, 'agent-'));

  it('holds 40 connections with unfinished 15 MB frames within maxBufferedBytes, closing the excess, while a sender gets its ACKs', async () => {
    agent = await Hl7AttackAgent.start(ownDir());
    const port = agent.mllpPort;
    const baseline = await ackTimes(port, 20, 'BASE');
    const rssBefore = agent.rssBytes();

    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, agent!.rssBytes())), 50);
    const flood = MllpFlood.start(port, 40, 15 * MB);
    floods.push(flood);
    await flood.opened;
    const during = await ackTimes(port, 20, 'FLOOD');
    const closedByAgent = await until('the agent to close flood connections over its budget', () => flood.closed, (n) => n >= 10, { timeoutMs: 20_000 }).catch(() => flood.closed);
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(sampler);
    peakRss = Math.max(peakRss, agent.rssBytes());

    console.log(
      `unfinished-frame flood: RSS ${mb(rssBefore)} MB -> peak ${mb(peakRss)} MB (+${mb(peakRss - rssBefore)} MB); ` +
        `ACK median/max ${median(baseline).toFixed(1)}/${max(baseline).toFixed(1)} ms before, ${median(during).toFixed(1)}/${max(during).toFixed(1)} ms during; ` +
        `${flood.closed} of 40 flood connections closed by the agent; each ACK during: ${during.map((t) => t.toFixed(0)).join(' ')} ms`,
    );
    expect(peakRss - rssBefore).toBeLessThan(250 * MB);
    expect(closedByAgent).toBeGreaterThanOrEqual(10);
    // Timing is noisy on a shared machine (the figures are printed); a stalled listener would not answer at all.
    expect(max(during)).toBeLessThan(2000);
    expect(agent.log).toMatch(/"peer":"127\.0\.0\.1:\d+".*MLLP refused: unfinished MLLP frames across connections/);
  }, 120_000);

  it('keeps at most maxConnections of 2,000 idle connections, lets a new sender in, and closes idle ones after idleTimeout', async () => {
    agent = await Hl7AttackAgent.start(ownDir(), { source: { idleTimeout: '3s' } });
    const port = agent.mllpPort;
    const idle: { socket: net.Socket; closed: Promise<void> }[] = [];
    for (let i = 0; i < 2000; i += 100) {
      idle.push(...(await Promise.all(Array.from({ length: 100 }, () => flooder(port, undefined)))));
    }
    sockets.push(...idle.map((c) => c.socket));
    // A sender arriving after the flood still gets in (the connection idle longest makes room).
    const during = await ackTimes(port, 5, 'IDLE');
    const open = await until('the agent to close all but maxConnections', () => idle.filter((c) => !c.socket.destroyed).length, (n) => n <= 100, { timeoutMs: 10_000 });
    console.log(`idle flood: ${open} of 2000 idle connections open after the flood; new sender's ACK max ${max(during).toFixed(1)} ms`);
    // The rest go once idle for idleTimeout.
    await until('every idle connection closed', () => idle.filter((c) => !c.socket.destroyed).length, (n) => n === 0, { timeoutMs: 15_000 });
    expect(agent.log).toMatch(/MLLP refused: maxConnections \(100\) open; closed the connection idle longest/);
    expect(agent.log).toMatch(/"peer":"127\.0\.0\.1:\d+".*Closing idle MLLP connection/);
  }, 120_000);

  it('journals a valid 15 MB message (a PDF report in one OBX) in slices while another sender gets its ACKs', async () => {
    agent = await Hl7AttackAgent.start(ownDir());
    const port = agent.mllpPort;
    const report = potassiumResult({ controlId: 'PDF-1', value: '4.3', order: 'ORD-PDF' }).replace(/\r$/, `\rOBX|2|ED|PDF^Report||^AP^PDF^Base64^${'QUJD'.repeat((15 * MB) / 4)}|||||F\r`);
    const sender = await Hl7Peer.connect(port);
    const other = await Hl7Peer.connect(port);
    const pending = sender.send(report, 60_000);
    let answered = false;
    void pending.then(() => (answered = true));
    const times: number[] = [];
    for (let i = 0; !answered || times.length < 10; i++) {
      times.push((await other.send(potassiumResult({ controlId: `PDF-SIDE-${i}`, value: '4.0', order: `ORD-PDF-SIDE-${i}` }), 30_000)).ms);
      await new Promise((r) => setTimeout(r, 10));
    }
    const { ack, ms } = await pending;
    sender.close();
    other.close();
    console.log(`valid 15 MB message: answered ${ack.get('MSA-1')} in ${ms.toFixed(0)} ms; other sender's ACK median/max ${median(times).toFixed(1)}/${max(times).toFixed(1)} ms over ${times.length} messages`);
    expect(ack.get('MSA-1')).toBe('AA');
    expect(agent.journaled('PDF-1')).toHaveLength(1);
  }, 120_000);

  it('refuses a 15 MB message of 4 million segments with AR while another sender stays fast', async () => {
    agent = await Hl7AttackAgent.start(ownDir());
    const port = agent.mllpPort;
    const rssBefore = agent.rssBytes();
    const header = 'MSH|^~\\&|EVIL|NET|WL|AGENT|20260101||ORU^R01|SEG4M|P|2.5\rPID|1||MRN1\rOBR|1|ORD-SEG|ORD-SEG\r';
    const segments = Buffer.concat([Buffer.from(header), Buffer.alloc(4_000_000 * 4, 'ZZZ\r')]);
    expect(segments.length).toBeGreaterThan(15 * MB);

    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, agent!.rssBytes())), 50);
    const attacker = await Hl7Peer.connect(port);
    const refused = attacker.send(segments, 60_000);
    const times: number[] = [];
    const other = await Hl7Peer.connect(port);
    const started = performance.now();
    let answer: Awaited<typeof refused> | undefined;
    void refused.then((a) => (answer = a));
    for (let i = 0; (answer === undefined || times.length < 20) && performance.now() - started < 60_000; i++) {
      const { ack, ms } = await other.send(potassiumResult({ controlId: `SIDE-${i}`, value: '4.0', order: `ORD-SIDE-${i}` }), 30_000);
      expect(ack.get('MSA-1')).toBe('AA');
      times.push(ms);
      await new Promise((r) => setTimeout(r, 10));
    }
    const { ack } = await refused;
    clearInterval(sampler);
    attacker.close();
    other.close();
    console.log(
      `4M-segment message: answered ${ack.get('MSA-1')}; RSS ${mb(rssBefore)} MB -> peak ${mb(peakRss)} MB (+${mb(peakRss - rssBefore)} MB); ` +
        `other sender's ACK median/max ${median(times).toFixed(1)}/${max(times).toFixed(1)} ms over ${times.length} messages`,
    );
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('MSA-2')).toBe('SEG4M');
    expect(ack.get('MSA-3')).toMatch(/maxSegments/);
    expect(max(times)).toBeLessThan(500);
    expect(peakRss - rssBefore).toBeLessThan(150 * MB);
    expect(agent.journaled('SEG4M')).toEqual([]);
    expect(agent.log).toMatch(/"peer":"127\.0\.0\.1:\d+".*MLLP refused: HL7 message of more than maxSegments/);
  }, 120_000);
});

