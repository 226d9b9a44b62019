// Records a key rotation (`wardline keys rotate`) in the agent's egress ledger:
// who holds which key decides what the relay can read, so the ledger says when
// it changed. The agent also records the policy change the new key makes, at its
// next start.
import { recordAdminAction, type KeyRotation } from '../agent/index.js';
import { auditSource } from './audit-source.js';

/** Appends a key-rotation record; returns the exit code (0 recorded, 1 rotated but not recorded). */
export async function recordKeyRotation(configFile: string, rotation: KeyRotation, note: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  let dbFile = '(unknown)';
  try {
    dbFile = auditSource({ config: configFile }).dbFile;
    const record = await recordAdminAction(dbFile, 'key-rotation', {
      kind: rotation.kind,
      keyId: rotation.keyId,
      retiredKeyId: rotation.retiredKeyId,
      purgedKeyIds: rotation.purgedKeyIds,
      rotatedAt: rotation.at,
    });
    note(`key rotation recorded in the egress ledger (record ${record.index})\n`);
    return 0;
  } catch (error) {
    note(`the key was rotated, but the rotation could not be recorded in the egress ledger ${dbFile}: ${(error as Error).message} (run as the agent's service user)\n`);
    return 1;
  }
}
