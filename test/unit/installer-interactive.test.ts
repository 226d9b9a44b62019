// The interactive mode gives the same answers an answers file would.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askInstallAnswers } from '../../installer/index.js';

describe('interactive install questions', () => {
  it('turns typed answers (and defaults) into InstallAnswers', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let asked = '';
    output.on('data', (d: Buffer) => (asked += d.toString()));
    const typed = ['h1', 'First Hospital', 'relay.example:7443', '', '', 'wlenrol_abcdefgh', '/etc/relay-ca.crt', 'lis=0.0.0.0:2575,ris=0.0.0.0:2576', '', 'clinical:adt+results,backup:adt', '', '10GiB'];
    input.end(`${typed.join('\n')}\n`);
    const answers = await askInstallAnswers(input, output);
    expect(answers.hospital).toEqual({ id: 'h1', name: 'First Hospital' });
    expect(answers.relay.enrol).toEqual({ url: 'https://relay.example:7480', token: 'wlenrol_abcdefgh', caFile: '/etc/relay-ca.crt' });
    expect(answers.sources.map((s) => s.listen)).toEqual(['0.0.0.0:2575', '0.0.0.0:2576']);
    expect(answers.http.listen).toBe('0.0.0.0:8480');
    expect(answers.feeds).toEqual([{ name: 'clinical', streams: ['adt', 'results'] }, { name: 'backup', streams: ['adt'] }]);
    expect(answers.admin).toBeUndefined();
    expect(answers.volume.dailyBytes).toBe(10 * 1024 ** 3);
    expect(asked).toContain('Hospital id');
  });
});
