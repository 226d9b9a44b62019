// `wardline agent hash-password`: turns the dashboard password chosen at install
// time into the scrypt hash http.admin.passwordHash (or passwordFile) holds, so
// the password itself is never written anywhere. Reads it from standard input:
// piped (`… | wardline agent hash-password`), or typed at a terminal without echo.
import { hashPassword } from '../agent/index.js';

/** Passwords shorter than this are refused: the dashboard can pause replication. */
export const MIN_PASSWORD_LENGTH = 10;

export async function agentHashPasswordCommand(): Promise<number> {
  const password = process.stdin.isTTY ? await promptHidden('Dashboard password: ') : await readAll();
  if (password.length < MIN_PASSWORD_LENGTH) {
    process.stderr.write(`wardline: the password must be at least ${MIN_PASSWORD_LENGTH} characters\n`);
    return 1;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is the terminator of the line, not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(text);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}
