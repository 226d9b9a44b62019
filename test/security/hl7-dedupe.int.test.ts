// HL7 retransmission dedupe against a real agent process: a retransmission is
// the same message, so a spoofed result that took a sender's next control id, or
// a sender whose counter reset, must not make the agent acknowledge and drop the
// real message; a true retransmission (MSH-7 restamped) is still journaled once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7AttackAgent, Hl7Peer, potassiumResult } from '../support/hl7-attack-agent.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

describe('HL7 dedupe by content (real agent)', () => {
  const dir = makeTempDir('wardline-hl7-dedupe-');
  let agent: Hl7AttackAgent;
  let peer: Hl7Peer;

  beforeAll(async () => {
    agent = await Hl7AttackAgent.start(dir.path);
    peer = await Hl7Peer.connect(agent.mllpPort);
  }, 30_000);

  afterAll(async () => {
    peer?.close();
    await agent?.stop();
    dir.remove();
  });

  it('journals the real critical result after a spoofed one took its control id, and raises control-id-reused', async () => {
    // The attacker guesses the LIS's next MSH-10 and sends a normal potassium first.
    const spoof = await peer.send(potassiumResult({ controlId: 'LAB000101', value: '4.2' }));
    expect(spoof.ack.get('MSA-1')).toBe('AA');
    const real = await peer.send(potassiumResult({ controlId: 'LAB000101', value: '7.9', sentAt: '20260101083005' }));
    expect(real.ack.get('MSA-1')).toBe('AA');
    expect(real.ack.get('MSA-2')).toBe('LAB000101');

    const journaled = agent.journaled('LAB000101');
    expect(journaled).toHaveLength(2);
    expect(journaled[1]!.body).toContain('|7.9|');
    // The local copy shows what the LIS really sent: the critical value.
    expect(agent.localCopy('results', 'ORD-7001')).toContain('|7.9|');

    const [alert] = await until('a control-id-reused alert', () => agent.alerts('control-id-reused'), (alerts) => alerts.length > 0);
    expect(alert!.level).toBe(1);
    expect(alert!.subject).toBe('lis LIS|LAB');
    expect(alert!.message).toContain('LAB000101');
    expect(alert!.message).toContain('LIS|LAB');
    // Never the content: no result value, no patient.
    for (const text of [alert!.message, alert!.details]) {
      expect(text).not.toMatch(/7\.9|4\.2|MRN0042|Li\^Wei/);
    }
    expect(agent.log).toMatch(/control id reused with different content/);
    expect(agent.log).not.toMatch(/MRN0042|\|7\.9\|/);
  });

  it('loses nothing when a sender restarts its control ids from 1', async () => {
    const values = ['3.9', '4.0', '4.1'];
    for (const [i, value] of values.entries()) {
      expect((await peer.send(potassiumResult({ controlId: `RST${i + 1}`, value, order: `ORD-R${i}`, sender: 'LIS2|LAB' }))).ack.get('MSA-1')).toBe('AA');
    }
    // The LIS is reinstalled; its counter starts again at 1 with new results.
    const after = ['5.5', '5.6', '5.7'];
    for (const [i, value] of after.entries()) {
      expect((await peer.send(potassiumResult({ controlId: `RST${i + 1}`, value, order: `ORD-S${i}`, sender: 'LIS2|LAB' }))).ack.get('MSA-1')).toBe('AA');
    }
    for (const [i, value] of after.entries()) {
      const rows = agent.journaled(`RST${i + 1}`);
      expect(rows.map((r) => r.key)).toEqual([`ORD-R${i}`, `ORD-S${i}`]);
      expect(agent.localCopy('results', `ORD-S${i}`)).toContain(`|${value}|`);
    }
  });

  it('still journals a true retransmission once, also when the sender restamped MSH-7', async () => {
    const message = potassiumResult({ controlId: 'LAB000200', value: '4.4', order: 'ORD-7200' });
    expect((await peer.send(message)).ack.get('MSA-1')).toBe('AA');
    // The ACK was lost; the LIS resends the same message, byte for byte, then with a new send time.
    expect((await peer.send(message)).ack.get('MSA-1')).toBe('AA');
    const restamped = potassiumResult({ controlId: 'LAB000200', value: '4.4', order: 'ORD-7200', sentAt: '20260101083100' });
    const resent = await peer.send(restamped);
    expect(resent.ack.get('MSA-1')).toBe('AA');
    expect(resent.ack.get('MSA-2')).toBe('LAB000200');
    expect(agent.journaled('LAB000200')).toHaveLength(1);
    // A retransmission is no reuse: the only alert is the first test's.
    expect(agent.alerts('control-id-reused').filter((a) => a.subject !== 'lis LIS|LAB')).toEqual([]);
  });
});
