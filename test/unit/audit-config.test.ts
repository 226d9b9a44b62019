// audit.retentionDays: 180 by default, and never accepted below 180.
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';

const minimal = `
hospital: { id: demo-hospital }
dataDir: ./data
`;
const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);

describe('audit config', () => {
  it('keeps ledger records 180 days by default', () => {
    expect(parse(minimal).audit).toEqual({ retentionDays: 180 });
    expect(parse(`${minimal}audit: { retentionDays: 400 }\n`).audit.retentionDays).toBe(400);
  });

  it('refuses less than 180 days, naming the key and the file', () => {
    let error: unknown;
    try {
      parse(`${minimal}audit: { retentionDays: 90 }\n`);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^audit\.retentionDays: expected at least 180 days: egress records are kept at least six months.*\(agent\.yaml\)$/)]);
  });
});
