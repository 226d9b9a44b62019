// `wardline agent restore` refuses clearly on bad input and leaves the data
// directory as it found it: a data dir in use (unless --force), a tampered export,
// wrong keys (another keyring, or a key file swapped under the same id), an
// export of another hospital, a config without a backup feed; --from-relay without
// the fetch says what to do instead. A good restore's ledger verifies through
// `wardline audit verify`, which says it starts from a restore base. Real SQLite
// files: a relay store filled through storeBatch with sealed events, the export
// writer, the verifier; the CLI command functions as `wardline` runs them.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { ExportSignatureError, ExportTamperedError, restoreAgent, RestoreDataDirInUseError, RestoreExportUnusableError, RestoreFromRelayError, RestoreWrongKeysError, sealBackupRecord } from '../../agent/exit/index.js';
import { exportLedger, openLedgerForAudit, verifyLedgerFile } from '../../agent/audit/index.js';
import { loadKeyring, rotateKey } from '../../agent/policy/index.js';
import { writeExport } from '../../cloud-relay/exit/index.js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { generateMinisignKey, publicKeyText } from '../../runtime/index.js';
import { agentRestoreCommand } from '../../cli/agent-restore-command.js';
import { auditVerifyCommand } from '../../cli/audit-verify-command.js';
import { makeTempDir } from '../support/temp-dir.js';

const HOSPITAL = 'h1';
const EVENTS = 300;

describe('wardline agent restore refusals', () => {
  const dir = makeTempDir('wardline-restore-refusals-');
  const exportDir = join(dir.path, 'export');
  const keysDir = join(dir.path, 'keys');
  let n = 0;
  const signingKey = generateMinisignKey();

  /** An agent config in its own folder: its dataDir, and the keys dir given (default the hospital's). */
  const agentYaml = (options: { keys?: string; hospital?: string; backup?: boolean } = {}): string => {
    const folder = join(dir.path, `agent-${++n}`);
    mkdirSync(folder);
    const file = join(folder, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: ${options.hospital ?? HOSPITAL} }
dataDir: ./data
keys: { dir: ${options.keys ?? keysDir} }
relays: [{ name: relay-1, address: "127.0.0.1:1", secret: s, allowPlaintext: true }]
feeds:
${options.backup === false ? '' : '  - { name: backup, relay: relay-1, backup: true }\n'}  - { name: clinical, relay: relay-1, streams: [adt] }
`,
    );
    return file;
  };
  const dataDirOf = (file: string) => join(file, '..', 'data');
  const leftIn = (file: string) => (existsSync(dataDirOf(file)) ? readdirSync(dataDirOf(file)) : []);

  beforeAll(async () => {
    rotateKey({ dir: keysDir, kind: 'encryption', retainRetiredMs: 86_400_000 });
    const key = loadKeyring(keysDir, { retainRetiredMs: 86_400_000 }).active.encryption!;
    const store = SqliteFeedStore.open({ file: join(dir.path, 'relay.db') });
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      seq: i + 1,
      stream: 'adt',
      key: `P${i % 50}`,
      op: 'upsert' as const,
      tsMs: 1_764_000_000_000 + i,
      source: 'mllp',
      contentType: 'hl7v2',
      body: Buffer.from(`MSH|^~\\&|HIS|H1|||20261203||ADT^A08|M${i}|P|2.5\r`),
      headers: { controlId: `M${i}` },
    }));
    await store.storeBatch({ hospital: HOSPITAL, feed: 'backup', firstSeq: 1, lastSeq: EVENTS, events: events.map((event) => sealBackupRecord({ event }, key)), ledgerHead: { index: 9, hash: Buffer.alloc(32, 0xcd) } });
    await store.storeBatch({ hospital: HOSPITAL, feed: 'clinical', firstSeq: 1, lastSeq: EVENTS, events });
    await writeExport({ store, signingKey, relayId: 'relay-1', hospital: HOSPITAL, knownHospitals: [HOSPITAL], outDir: exportDir });
    await store.close();
  });
  afterAll(() => dir.remove());

  it('restores into an empty data dir, and its ledger verifies from the restore base', async () => {
    const file = agentYaml();
    const out: string[] = [];
    const warnings: string[] = [];
    expect(await agentRestoreCommand({ config: file, from: exportDir }, (t) => out.push(t), undefined, (t) => warnings.push(t))).toBe(0);
    // No --pubkey: the signature was checked against the export's own key, and the operator is told so.
    expect(warnings.join('')).toMatch(/^warning: .*relay-signing\.pub/);
    expect(out.join('')).toMatch(/restored .*: 300 events \(seq 1\.\.300\) from backup feed backup, 50 records in the local copy/);
    expect(out.join('')).toContain('next journal seq 301; feeds resume after: backup 300, clinical 300');
    expect(out.join('')).toContain(`egress ledger continues the relay's head 9 ${'cd'.repeat(32)} with restore record 10`);
    expect(leftIn(file)).toEqual(['agent.db']);
    const verified: string[] = [];
    expect(await auditVerifyCommand({ db: join(dataDirOf(file), 'agent.db') }, (t) => verified.push(t))).toBe(0);
    expect(verified.join('')).toMatch(/^ledger OK: .*: 1 records, 10\.\.10, head [0-9a-f]{64}; starts from a restore base: record 10 \(restore\) continues head 9 (cd){32} as the relay exported it\n$/);
    // And so does its export (`wardline audit export`), checked without the database.
    const audit = openLedgerForAudit(join(dataDirOf(file), 'agent.db'));
    const ledgerFile = join(dataDirOf(file), '..', 'ledger.jsonl');
    try {
      await exportLedger(audit.ledger.records(), ledgerFile);
    } finally {
      audit.close();
    }
    expect(await verifyLedgerFile(ledgerFile)).toMatchObject({ ok: true, records: 1, restoreBase: { index: 9, hash: 'cd'.repeat(32) } });
  });

  it('refuses a data dir in use, leaves it untouched, and replaces its agent.db with --force', async () => {
    const file = agentYaml();
    mkdirSync(dataDirOf(file));
    writeFileSync(join(dataDirOf(file), 'agent.db'), 'the running agent');
    const config = loadAgentConfig(file);
    const refused = restoreAgent({ config, from: exportDir });
    await expect(refused).rejects.toThrow(RestoreDataDirInUseError);
    await expect(refused).rejects.toThrow(/is not empty \(agent\.db\): restoring there would mix two agents; give an empty dataDir, or --force/);
    expect(readFileSync(join(dataDirOf(file), 'agent.db'), 'utf8')).toBe('the running agent');
    // --force with an export that does not verify keeps the old agent.db.
    await expect(restoreAgent({ config, from: join(dir.path, 'no-such-export'), force: true })).rejects.toThrow(ExportTamperedError);
    expect(readFileSync(join(dataDirOf(file), 'agent.db'), 'utf8')).toBe('the running agent');
    writeFileSync(join(dataDirOf(file), 'agent.db-wal'), 'the old WAL');
    const summary = await restoreAgent({ config, from: exportDir, force: true });
    expect(summary.events).toBe(EVENTS);
    expect(readdirSync(dataDirOf(file)).sort()).toEqual(['agent.db']);
  });

  it('refuses a tampered export naming the file, and writes nothing', async () => {
    const tampered = join(dir.path, 'tampered');
    cpSync(exportDir, tampered, { recursive: true });
    const feedFile = join(tampered, 'feeds', 'backup.ndjson');
    const bytes = readFileSync(feedFile);
    bytes[bytes.length - 200] = bytes[bytes.length - 200]! ^ 0x01;
    writeFileSync(feedFile, bytes);
    const file = agentYaml();
    await expect(restoreAgent({ config: loadAgentConfig(file), from: tampered })).rejects.toThrow(ExportTamperedError);
    await expect(restoreAgent({ config: loadAgentConfig(file), from: tampered })).rejects.toThrow(/feeds\/backup\.ndjson/);
    expect(leftIn(file)).toEqual([]);
  });

  it('refuses another keyring, and a key file swapped under the same id, naming the key id, and writes nothing', async () => {
    const hospitalKeyId = loadKeyring(keysDir, { retainRetiredMs: 86_400_000 }).active.encryption!.id;
    const otherKeys = join(dir.path, 'other-keys');
    rotateKey({ dir: otherKeys, kind: 'encryption', retainRetiredMs: 86_400_000, randomBytes: (size) => Buffer.alloc(size, 7) });
    const other = agentYaml({ keys: otherKeys });
    await expect(restoreAgent({ config: loadAgentConfig(other), from: exportDir })).rejects.toThrow(RestoreWrongKeysError);
    await expect(restoreAgent({ config: loadAgentConfig(other), from: exportDir })).rejects.toThrow(`encrypted with key ${hospitalKeyId}, which the keyring in keys.dir does not hold: nothing was restored`);
    expect(leftIn(other)).toEqual([]);

    const swappedKeys = join(dir.path, 'swapped-keys');
    cpSync(keysDir, swappedKeys, { recursive: true });
    for (const name of readdirSync(swappedKeys).filter((f) => f.endsWith('.key'))) writeFileSync(join(swappedKeys, name), `${Buffer.alloc(32, 9).toString('base64')}\n`, { mode: 0o600 });
    const swapped = agentYaml({ keys: swappedKeys });
    await expect(restoreAgent({ config: loadAgentConfig(swapped), from: exportDir })).rejects.toThrow(`encrypted with key ${hospitalKeyId}, which does not decrypt with the key of that id in keys.dir`);
    expect(leftIn(swapped)).toEqual([]);
  });

  it("checks the signature against the relay key the hospital trusts (--pubkey), and refuses another relay's key", async () => {
    const file = agentYaml();
    const config = loadAgentConfig(file);
    await expect(restoreAgent({ config, from: exportDir, trustedPublicKey: publicKeyText(generateMinisignKey()) })).rejects.toThrow(ExportSignatureError);
    expect(leftIn(file)).toEqual([]);
    const summary = await restoreAgent({ config, from: exportDir, trustedPublicKey: publicKeyText(signingKey) });
    expect(summary.warnings).toEqual([]);
  });

  it("refuses another hospital's export and a config without a backup feed", async () => {
    const elsewhere = agentYaml({ hospital: 'h2' });
    await expect(restoreAgent({ config: loadAgentConfig(elsewhere), from: exportDir })).rejects.toThrow(/is hospital h1's, and .* is hospital h2's/);
    const noBackup = agentYaml({ backup: false });
    await expect(restoreAgent({ config: loadAgentConfig(noBackup), from: exportDir })).rejects.toThrow(RestoreExportUnusableError);
    await expect(restoreAgent({ config: loadAgentConfig(noBackup), from: exportDir })).rejects.toThrow(/has no feed with backup: true/);
    expect(leftIn(elsewhere)).toEqual([]);
  });

  it('--from-relay with the relay unreachable says so, and --from with --from-relay is refused', async () => {
    const file = agentYaml();
    const refused = agentRestoreCommand({ config: file, fromRelay: true }, () => undefined);
    await expect(refused).rejects.toThrow(RestoreFromRelayError);
    await expect(refused).rejects.toThrow(/^fetching the export from relay relay-1 failed: /);
    await expect(agentRestoreCommand({ config: file, fromRelay: true, from: exportDir }, () => undefined)).rejects.toThrow(/give --from DIR .* or --from-relay, one of them/);
    expect(leftIn(file)).toEqual([]);
    expect(readdirSync(join(file, '..')).filter((name) => name.startsWith('.wardline-restore-'))).toEqual([]);
  });

  it('--from-relay restores from what the fetch brings, and removes the fetched copy', async () => {
    const file = agentYaml();
    const out: string[] = [];
    let fetchedInto = '';
    const fetch = async ({ outDir }: { relay: string; outDir: string }) => {
      fetchedInto = outDir;
      cpSync(exportDir, outDir, { recursive: true });
    };
    expect(await agentRestoreCommand({ config: file, fromRelay: true }, (t) => out.push(t), fetch)).toBe(0);
    expect(out.join('')).toContain('300 events');
    expect(existsSync(fetchedInto)).toBe(false);
  });
});
