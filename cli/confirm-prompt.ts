// The confirmation an irreversible command asks for (purge, key destruction):
// the operator types the name of what is destroyed. Without a terminal the
// command refuses unless --yes was given, so a script never destroys by accident.
import { createInterface } from 'node:readline/promises';

/**
 * True when the operator typed `expected` at the terminal after reading
 * `warning`; false when they typed anything else or there is no terminal.
 */
export async function confirmByTyping(warning: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  process.stderr.write(`${warning}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await prompt.question(`type ${JSON.stringify(expected)} to confirm: `)).trim() === expected;
  } finally {
    prompt.close();
  }
}
