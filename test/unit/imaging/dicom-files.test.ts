// The test generator's files are DICOM that dcmtk reads, GB18030 names included:
// every imaging test trusts them, so they are checked against a peer first.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testUids, writeDicomFile } from '../../support/dicom-files.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('test DICOM files', () => {
  it('are read by dcmdump with their UIDs, a GB18030 name and a private tag', () => {
    const tmp = makeTempDir('dicom-files-');
    const dir = tmp.path;
    const uids = testUids(7);
    const path = join(dir, 'one.dcm');
    const size = writeDicomFile(path, {
      studyUid: uids.studyUid,
      seriesUid: uids.seriesUid(1),
      sopInstanceUid: uids.sopInstanceUid(1, 1),
      patientName: '张三^先生',
      charset: 'GB18030',
      extra: [
        { tag: '00090010', vr: 'LO', value: 'ACME 1.0' },
        { tag: '00091001', vr: 'LO', value: 'secret' },
      ],
    });
    expect(size).toBeGreaterThan(64 * 64 * 2);
    const dump = execFileSync('dcmdump', ['+U8', path], { encoding: 'utf8' });
    expect(dump).toContain(uids.sopInstanceUid(1, 1));
    expect(dump).toContain('张三^先生');
    expect(dump).toContain('ACME 1.0');
    expect(dump).toMatch(/\(7fe0,0010\) OW/);
    tmp.remove();
  });
});
