// The interactive mode gives the same answers an answers file would, and checks
// each answer as it is given: a wrong one is explained and asked again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { askInstallAnswers, InstallQuestionsEndedError } from '../../installer/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wardline-interactive-'));
const caFile = join(dir, 'relay-ca.crt');
const passwordFile = join(dir, 'admin-password');
writeFileSync(caFile, 'not checked here\n');
writeFileSync(passwordFile, 'correct horse battery staple\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function typeAnswers(typed: string[]) {
  const input = new PassThrough();
  const output = new PassThrough();
  let asked = '';
  output.on('data', (d: Buffer) => (asked += d.toString()));
  input.end(`${typed.join('\n')}\n`);
  const answers = await askInstallAnswers(input, output).catch((error: Error) => error);
  return { answers, asked };
}

describe('interactive install questions', () => {
  it('turns typed answers (and defaults) into InstallAnswers', async () => {
    const { answers, asked } = await typeAnswers(['h1', 'First Hospital', 'relay.example:7443', '', '', 'wlenrol_abcdefgh', caFile, 'lis=0.0.0.0:2575,ris=0.0.0.0:2576', '', 'clinical:adt+results,backup:adt', '', passwordFile, '10GiB']);
    if (answers instanceof Error) throw answers;
    expect(answers.hospital).toEqual({ id: 'h1', name: 'First Hospital' });
    expect(answers.relay.enrol).toEqual({ url: 'https://relay.example:7480', token: 'wlenrol_abcdefgh', caFile });
    expect(answers.sources.map((s) => s.listen)).toEqual(['0.0.0.0:2575', '0.0.0.0:2576']);
    expect(answers.http.listen).toBe('0.0.0.0:8480');
    // The proposed policy is the default answer.
    expect(answers.feeds).toEqual([{ name: 'clinical', streams: ['adt', 'results'], policy: 'proposed' }, { name: 'backup', streams: ['adt'], policy: 'proposed' }]);
    expect(answers.admin).toEqual({ passwordFile });
    expect(answers.volume.dailyBytes).toBe(10 * 1024 ** 3);
    expect(asked).toContain('Hospital id');
    expect(asked).not.toContain('try again');
  });

  it('explains a wrong answer and asks the same question again', async () => {
    const { answers, asked } = await typeAnswers([
      'h 1', 'h1', '', 'relay.example', 'relay.example:7443', 'maybe', 'enrol', '', 'wlenrol_abcdefgh', join(dir, 'missing.crt'), caFile,
      'lis=0.0.0.0', 'lis=127.0.0.1:2575', '127.0.0.1:8480', 'clinical', 'clinical:adt', 'maybe', 'no', '', 'lots', '1GiB',
    ]);
    if (answers instanceof Error) throw answers;
    expect(asked).toContain('expected a name of letters, digits, ".", "_" or "-" (up to 64), starting with a letter or digit (got "h 1"); try again.');
    expect(asked).toContain('expected host:port, such as 0.0.0.0:8480 (got "relay.example"); try again.');
    expect(asked).toContain('expected enrol or import (got "maybe")');
    expect(asked).toContain(`no such file: ${join(dir, 'missing.crt')}`);
    expect(asked).toContain('expected name=host:port, such as lis=0.0.0.0:2575 ("lis=0.0.0.0" is not)');
    expect(asked).toContain('("clinical" has a bad name or no streams)');
    expect(asked).toContain('expected yes or no (got "maybe")');
    expect(answers.feeds).toEqual([{ name: 'clinical', streams: ['adt'], policy: 'none' }]);
    expect(asked).toContain('expected a size such as 500MiB or 2GiB (got "lots")');
    // On 127.0.0.1 the dashboard is this machine's only: no password needed.
    expect(answers.admin).toBeUndefined();
    expect(answers.hospital.id).toBe('h1');
  });

  it('requires the admin password file when the dashboard listens on the network', async () => {
    const { answers, asked } = await typeAnswers(['h1', '', 'relay.example:7443', 'enrol', '', 'wlenrol_abcdefgh', caFile, '', '0.0.0.0:8480', '', '', '', passwordFile, '']);
    if (answers instanceof Error) throw answers;
    expect(asked).toContain('(required: 0.0.0.0:8480 is reachable from the network)');
    expect(asked).toContain('expected a file name; try again.');
    expect(answers.admin).toEqual({ passwordFile });
  });

  it('says which question had no answer when the input ends', async () => {
    const { answers } = await typeAnswers(['h1', 'First Hospital']);
    expect(answers).toBeInstanceOf(InstallQuestionsEndedError);
    expect((answers as Error).message).toContain('no answer to "Relay gRPC address (host:port)"');
  });
});
