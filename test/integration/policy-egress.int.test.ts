// What leaves the hospital under a strict policy, proved on the relay's own files.
//
// A simulated hospital's corpus (names, resident IDs, mobiles, addresses, MRNs,
// visit numbers, in UTF-8 and GB18030) goes in over MLLP and HTTP; one in-process
// agent replicates it to relay A through a feed with a strict policy, and to relay B
// through a pass-through feed. Once both relays have acknowledged everything, every
// file in each relay's data directory (the database, its WAL and shared memory,
// while running and again after a clean stop) is searched byte for byte for every
// raw identifier of the corpus, as UTF-8 and as GB18030: relay A must hold none of
// them, and relay B, the control, must hold every one (or the search proves nothing).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { isPseudonym, rotateKey } from '../../agent/policy/index.js';
import { Hl7Message } from '../../agent/hl7/index.js';
import { parseRelayConfig, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { ConfigError } from '../../runtime/index.js';
import { Hl7Corpus, MllpSender, type JsonRow } from '../../simulator/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';

const HOSPITAL = 'policy-hospital';
const SECRET = 'policy-hospital-secret-0001';
const VENDOR_KEY = 'policy-vendor-key-00000001';
const HL7_MESSAGES = 400;
const JSON_ROWS = 200;
const quiet = pino({ level: 'silent' });

/** A regional-platform feed: what it needs for statistics and follow-up, nothing that names a patient. */
const STRICT_POLICY = `
      default: drop
      key: hash
      scan: true
      streams:
        adt:
          fields:
            EVN-1: keep
            PID-3.1: hash
            "PID-3[2]": drop
            PID-5: mask
            PID-7: generalize-year
            PID-8: keep
            PID-11: generalize
            PID-13: mask
            PV1-2: keep
            PV1-3.1: keep
            PV1-19.1: hash
            DG1-3: keep
            OBX-3: keep
            OBX-5: keep
            OBX-6: keep
        results:
          key: keep
          fields:
            PID-3.1: hash
            OBR-4: keep
            OBR-25: keep
            OBX: keep
            OBX-16: drop
            NTE-3: encrypt
        orders:
          key: keep
          fields:
            PID-3.1: hash
            ORC-1: keep
            OBR-4: keep
            NTE-3: encrypt
        his.patient:
          fields:
            $.mrn: hash
            $.name: mask
            $.residentId: mask
            $.mobile: encrypt
            $.address: generalize
            $.birthDate: generalize-year
            $.sex: keep
            $.ethnicGroup: keep
        appointments:
          key: keep
          fields:
            $.mrn: hash
            $.patientName: mask
            $.mobile: mask
            $.department: keep
            $.scheduledAt: keep
            $.status: keep`;

/**
 * Every identifier the corpus put in a message or row, with what it is: `all` as
 * written there (the control relay must hold each), `derived` in other forms that
 * must not appear either (an HL7 name FAMILY^GIVEN written as one word).
 */
class Identifiers {
  readonly all = new Map<string, string>();
  readonly derived = new Map<string, string>();

  add(kind: string, value: string | undefined, into = this.all): void {
    if (value && value !== '""') into.set(value, kind);
  }

  fromHl7(text: string): void {
    const m = Hl7Message.parse(text);
    this.add('mrn', m.get('PID-3[1].1'));
    this.add('resident id', m.get('PID-3[2].1'));
    for (let rep = 1; rep <= 3; rep++) this.add('mobile', m.get(`PID-13[${rep}].1`));
    this.name(m.get('PID-5.1'), m.get('PID-5.2'));
    this.add('street address', m.get('PID-11.1'));
    this.add('visit number', m.get('PV1-19.1'));
    for (let n = 1; n <= m.segmentCount('NK1'); n++) {
      this.name(m.get(`NK1[${n}]-2.1`), m.get(`NK1[${n}]-2.2`));
      this.add('mobile', m.get(`NK1[${n}]-5.1`));
    }
  }

  fromRow({ stream, row }: JsonRow): void {
    const r = row as Record<string, string | undefined>;
    this.add('mrn', r.mrn);
    this.add('mobile', r.mobile);
    if (stream === 'his.patient') {
      this.add('name', r.name);
      this.add('resident id', r.residentId);
      this.add('address', r.address);
    } else {
      this.add('name', r.patientName);
    }
  }

  private name(family: string, given: string): void {
    if (!family || !given) return;
    this.add('name (HL7)', `${family}^${given}`);
    this.add('name', family + given, this.derived);
  }
}

/** Every file under a directory, recursively, as bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, bytes: readFileSync(path) }];
  });
}

/** For each identifier, the files (and encoding) it was found in. */
function search(dir: string, identifiers: Map<string, string>): Map<string, string[]> {
  const files = filesUnder(dir);
  const hits = new Map<string, string[]>();
  for (const value of identifiers.keys()) {
    const forms: [string, Buffer][] = [['utf8', Buffer.from(value, 'utf8')]];
    const gb = iconv.encode(value, 'gb18030');
    if (!gb.equals(forms[0]![1])) forms.push(['gb18030', gb]);
    for (const file of files) {
      for (const [encoding, pattern] of forms) {
        if (file.bytes.includes(pattern)) hits.set(value, [...(hits.get(value) ?? []), `${file.path.split('/').pop()} (${encoding})`]);
      }
    }
  }
  return hits;
}

describe('policy-shaped egress', () => {
  const dir = makeTempDir('wardline-policy-');
  let strictRelay: RelayHandle;
  let controlRelay: RelayHandle;
  let agent: RunningAgent;
  const identifiers = new Identifiers();
  const slipped = { residentId: '11010519491231002X', mobile: '139 1234 5678' };

  const relayConfig = (name: string, feeds: string[]) =>
    parseRelayConfig({
      relayId: name,
      dataDir: join(dir.path, `${name}-data`),
      allowPlaintext: true,
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      hospitals: [{ id: HOSPITAL, secret: SECRET }],
      vendors: [{ name: 'vendor', key: VENDOR_KEY, grants: [{ hospital: HOSPITAL, feeds }] }],
      log: { level: 'silent' },
    });

  const relayEntry = (name: string, relay: RelayHandle) => `{ name: ${name}, address: "127.0.0.1:${relay.grpcPort}", secret: "${SECRET}", allowPlaintext: true }`;

  beforeAll(async () => {
    strictRelay = await startRelay(relayConfig('relay-a', ['strict']), { logger: quiet });
    controlRelay = await startRelay(relayConfig('relay-b', ['control', 'research']), { logger: quiet });
    const keysDir = join(dir.path, 'keys');
    rotateKey({ dir: keysDir, kind: 'pseudonym', retainRetiredMs: 86_400_000 });
    rotateKey({ dir: keysDir, kind: 'encryption', retainRetiredMs: 86_400_000 });
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: ${HOSPITAL} }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
keys: { dir: ./keys }
sources:
  - kind: mllp
    name: his-lis
    listen: "127.0.0.1:0"
    mapping: [{ messageType: MDM, stream: notes, keyPaths: [MSH-10] }]
relays: [${relayEntry('relay-a', strictRelay)}, ${relayEntry('relay-b', controlRelay)}]
feeds:
  - name: strict
    relay: relay-a
    streams: [adt, results, orders, his.patient, appointments]
    policy:${STRICT_POLICY}
  - name: control
    relay: relay-b
    streams: [adt, results, orders, his.patient, appointments]
  - name: research
    relay: relay-b
    streams: [notes]
    policy: { default: drop, scan: true, streams: { notes: { fields: { OBX-5: keep, NTE-3: keep, TXA-2: keep } } } }
replication: { backoff: { initialMs: 100, maxMs: 500 }, emptyBatchIntervalMs: 200 }
`,
    );
    agent = await startAgent(file, { logger: quiet });

    const corpus = new Hl7Corpus({ seed: 'policy-egress', gb18030Share: 0.3, patients: 400 });
    const sender = new MllpSender({ host: '127.0.0.1', port: agent.mllpPorts.get('his-lis')!, pipeline: 8 });
    const acks: Promise<{ code: string }>[] = [];
    for (let i = 0; i < HL7_MESSAGES; i++) {
      const message = corpus.next();
      identifiers.fromHl7(message.text);
      acks.push(sender.send(message.bytes, message.controlId));
    }
    // A note with identifiers where the hospital's research policy did not expect them.
    const note = [
      'MSH|^~\\&|EMR|WARDLINE-DEMO-HOSPITAL|WARDLINE|WARDLINE-DEMO-HOSPITAL|20240301120000+0800||MDM^T02|SLIP-1|P|2.5',
      'TXA|1|CN',
      `OBX|1|TX|NOTE^随访备注^L||家属手机 ${slipped.mobile}，请回电`,
      `NTE|1|L|患者身份证号 ${slipped.residentId} 已核对`,
    ].join('\r');
    acks.push(sender.send(Buffer.from(`${note}\r`, 'utf8'), 'SLIP-1'));
    expect((await Promise.all(acks)).every((a) => a.code === 'AA')).toBe(true);
    await sender.close();

    const byStream = new Map<string, object[]>();
    for (let i = 0; i < JSON_ROWS; i++) {
      const row = corpus.nextJsonRow();
      identifiers.fromRow(row);
      byStream.set(row.stream, [...(byStream.get(row.stream) ?? []), row.row]);
    }
    for (const [stream, rows] of byStream) {
      const response = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/ingest/${stream}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rows) });
      expect(response.status).toBe(200);
    }

    // Until every feed's relay has acknowledged the whole journal.
    const deadline = Date.now() + 45_000;
    for (;;) {
      const status = agent.status();
      if (status.feeds.every((f) => f.ackedSeq >= status.journal.headSeq)) break;
      if (Date.now() > deadline) throw new Error(`feeds not drained: ${JSON.stringify(status.feeds.map((f) => [f.feed, f.ackedSeq, status.journal.headSeq]))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await strictRelay?.stop();
    await controlRelay?.stop();
    dir.remove();
  });

  it('collected a corpus worth searching for', () => {
    const kinds = new Set(identifiers.all.values());
    expect([...kinds].sort()).toEqual(['address', 'mobile', 'mrn', 'name', 'name (HL7)', 'resident id', 'street address', 'visit number']);
    expect(identifiers.all.size).toBeGreaterThan(700);
  });

  it('serves the vendor shaped events: pseudonymised keys, masked names, the policy version in status', async () => {
    const events = await readWholeFeed(`http://127.0.0.1:${strictRelay.httpPort}`, 'strict', VENDOR_KEY);
    expect(events.length).toBe(HL7_MESSAGES + JSON_ROWS);
    const adt = events.find((e) => e.stream === 'adt')!;
    expect(isPseudonym(adt.key)).toBe(true);
    expect(Hl7Message.parse(adt.body as string).get('PID-5.2')).toMatch(/^\*+$/);
    const patient = events.find((e) => e.stream === 'his.patient')!;
    expect((patient.body as { residentId: string }).residentId).toMatch(/^\d{6}\*{8}\d{3}[\dX]$/);
    const feeds = new Map(agent.status().feeds.map((f) => [f.feed, f]));
    expect(feeds.get('strict')!.policyVersion).toBeGreaterThan(0);
    expect(feeds.get('control')!.policyVersion).toBe(0);
    expect(feeds.get('control')!.identifiers).toBeNull();
  });

  it('reports identifiers slipped into free text where the policy keeps it, by kind and field, never the identifier', () => {
    const feeds = new Map(agent.status().feeds.map((f) => [f.feed, f]));
    const research = feeds.get('research')!.identifiers!;
    expect(research.found).toEqual({ residentId: 1, mobile: 1 });
    expect(research.lastSeenByKind.residentId).toMatchObject({ stream: 'notes', path: 'NTE-3' });
    expect(research.lastSeenByKind.mobile).toMatchObject({ stream: 'notes', path: 'OBX-5' });
    // The strict policy has no such hole: every identifier field is transformed.
    expect(feeds.get('strict')!.identifiers!.found).toEqual({ residentId: 0, mobile: 0 });
    expect(JSON.stringify(agent.status())).not.toContain(slipped.residentId);
  });

  it('leaves no raw identifier anywhere in the strict relay\'s files, and every one in the control relay\'s', async () => {
    const all = new Map([...identifiers.derived, ...identifiers.all, [slipped.residentId, 'resident id']]);
    // While the relay runs, what it stored is mostly still in its write-ahead log.
    expect(filesUnder(join(dir.path, 'relay-a-data')).find((f) => f.path.endsWith('relay.db-wal'))?.bytes.length).toBeGreaterThan(0);
    const whileRunning = search(join(dir.path, 'relay-a-data'), all);
    expect([...whileRunning].map(([value, where]) => `${all.get(value)} ${value}: ${where.join(', ')}`)).toEqual([]);

    await strictRelay.stop();
    await controlRelay.stop();
    const strictFiles = filesUnder(join(dir.path, 'relay-a-data'));
    expect(strictFiles.map((f) => f.path.split('/').pop())).toContain('relay.db');
    const afterStop = search(join(dir.path, 'relay-a-data'), all);
    expect([...afterStop].map(([value, where]) => `${all.get(value)} ${value}: ${where.join(', ')}`)).toEqual([]);

    // The control: the same search finds every identifier in the pass-through relay.
    const control = search(join(dir.path, 'relay-b-data'), identifiers.all);
    const missing = [...identifiers.all.keys()].filter((value) => !control.has(value));
    expect(missing).toEqual([]);
  });

  it('refuses to start a feed that would send a local-only stream or field, naming the feed and the field', async () => {
    const file = join(dir.path, 'local-only.yaml');
    writeFileSync(
      file,
      `hospital: { id: ${HOSPITAL} }
dataDir: ./local-only-data
keys: { dir: ./keys }
relays: [{ name: relay-a, address: "127.0.0.1:1", secret: "${SECRET}", allowPlaintext: true }]
localOnly: { streams: [his.patient], fields: { adt: [PID-19, "PID-3[2]"] } }
feeds:
  - name: analytics
    relay: relay-a
    streams: [adt, his.patient]
    policy: { default: keep, streams: { adt: { fields: { "PID-3[2]": drop, PID-19: mask } } } }
`,
    );
    const error = await startAgent(file, { logger: quiet }).then(
      async (started) => {
        await started.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `feeds[0].streams[1]: feed "analytics" would send local-only stream his.patient; a local-only stream can be in no feed (${file})`,
      `feeds[0].policy.streams.adt.fields.PID-19: feed "analytics" would send local-only field PID-19 of stream adt: rule PID-19 says mask; a local-only field must be dropped (${file})`,
    ]);
  });
});
