// `wardline keys rotate` records the rotation in the agent's egress ledger,
// from the CLI process, whether or not the agent runs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedgerForAudit, type LedgerRecord } from '../../agent/audit/index.js';
import { recordKeyRotation } from '../../cli/key-rotation-record.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('key rotation record', () => {
  it('appends a key-rotation record naming the new, retired and purged keys', async () => {
    const dir = makeTempDir();
    try {
      const config = join(dir.path, 'agent.yaml');
      writeFileSync(config, 'hospital: { id: h1 }\ndataDir: ./data\n');
      const notes: string[] = [];
      const rotation = { kind: 'pseudonym' as const, keyId: 'p-20261121-a1b2c3', retiredKeyId: 'p-20250101-000000', purgedKeyIds: ['p-20230101-ffffff'], at: '2026-11-21T08:00:00.000Z' };
      expect(await recordKeyRotation(config, rotation, (t) => notes.push(t))).toBe(0);
      expect(notes).toEqual(['key rotation recorded in the egress ledger (record 1)\n']);
      const audit = openLedgerForAudit(join(dir.path, 'data', 'agent.db'));
      try {
        const [record] = [...audit.ledger.records()] as LedgerRecord[];
        expect(record).toMatchObject({
          index: 1,
          type: 'key-rotation',
          feed: null,
          details: { kind: 'pseudonym', keyId: 'p-20261121-a1b2c3', retiredKeyId: 'p-20250101-000000', purgedKeyIds: ['p-20230101-ffffff'], rotatedAt: '2026-11-21T08:00:00.000Z' },
        });
      } finally {
        audit.close();
      }
      expect(await recordKeyRotation(join(dir.path, 'missing.yaml'), rotation, (t) => notes.push(t))).toBe(1);
      expect(notes.at(-1)).toMatch(/^the key was rotated, but the rotation could not be recorded/);
    } finally {
      dir.remove();
    }
  });
});
