import { expect } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';

/** Parses agent YAML as if read from "agent.yaml". */
export const parseAgentYaml = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);

/** The problems a refused agent config reports; fails the test if the config is accepted. */
export function agentConfigProblems(text: string): string[] {
  try {
    parseAgentYaml(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}
