// The DICOM Storage SCP in a real agent, with dcmtk as the modality: C-ECHO,
// C-STORE of a small study journaled once per instance, a re-send deduplicated.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { writeDicomStudy } from '../support/dicom-files.js';
import { makeTempDir } from '../support/temp-dir.js';

// Asynchronous: the agent runs in this process and must keep answering while dcmtk waits.
const run = promisify(execFile);

describe('DICOM Storage SCP', () => {
  const dir = makeTempDir('wardline-dicom-scp-');
  const dataDir = join(dir.path, 'data');
  let agent: RunningAgent;
  let port: number;
  const imagingRows = (): { key: string; body: Buffer }[] => {
    const db = new Database(join(dataDir, 'agent.db'), { readonly: true });
    try {
      return db.prepare("SELECT key, body FROM journal WHERE stream = 'imaging' ORDER BY seq").all() as { key: string; body: Buffer }[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: dicom-hospital }
dataDir: ${dataDir}
http: { listen: "127.0.0.1:0" }
sources:
  - { kind: dicom, name: pacs, listen: "127.0.0.1:0", aeTitle: WARDLINE, acceptCallingAeTitles: [MODALITY] }
`,
    );
    agent = await startAgent(file, { logger: pino({ level: 'silent' }) });
    port = agent.sourcePorts.get('pacs')!;
  });

  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('answers C-ECHO and refuses a calling AE it does not know', async () => {
    await run('echoscu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port)]);
    const refused = await run('echoscu', ['-aet', 'INTRUDER', '-aec', 'WARDLINE', '127.0.0.1', String(port)]).then(
      () => '',
      (error: { stderr: string; stdout: string }) => error.stderr + error.stdout,
    );
    expect(refused).toMatch(/Calling AE Title Not Recognized/i);
    expect(agent.status().sources.find((s) => s.name === 'pacs')!.lastRejection?.kind).toBe('unauthorized');
  });

  it('journals each instance of a study once; a re-send is a duplicate', async () => {
    const studyDir = join(dir.path, 'study');
    mkdirSync(studyDir);
    const study = writeDicomStudy(studyDir, { study: 3, series: 2, perSeries: 3 });
    await run('storescu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port), ...study.paths]);
    expect(imagingRows()).toHaveLength(6);
    await run('storescu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port), ...study.paths]);
    expect(imagingRows()).toHaveLength(6);
    const status = agent.status().sources.find((s) => s.name === 'pacs')!;
    expect(status).toMatchObject({ received: 12, acknowledged: 12, duplicates: 6 });
  });
});
