// The interactive mode: the few questions that matter, asked one by one on a
// terminal, giving the same InstallAnswers an answers file would (and checked
// by the same schema). Each answer is checked as it is given: a wrong one gets
// a message saying what was expected and the question again. Streams are
// injectable, so tests type the answers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { parseByteSize, parseHostPort } from '../runtime/index.js';
import { InstallAnswersSchema, listensBeyondLoopback, type InstallAnswers } from './answers.js';

/** The same name rule as the answers schema. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Undefined when the answer is good, else what was expected. */
type Check = (answer: string) => string | undefined;

const nameCheck: Check = (a) => (NAME.test(a) ? undefined : 'expected a name of letters, digits, ".", "_" or "-" (up to 64), starting with a letter or digit');
const hostPortCheck: Check = (a) => (parseHostPort(a) ? undefined : 'expected host:port, such as 0.0.0.0:8480');
const fileCheck: Check = (a) => {
  if (a === '') return 'expected a file name';
  if (!existsSync(a) || !statSync(a).isFile()) return `no such file: ${a}`;
  return undefined;
};
const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);

function parseSources(text: string): { name: string; listen: string }[] {
  return list(text).map((s) => {
    const [name = '', listen = ''] = s.split('=');
    return { name: name.trim(), listen: listen.trim() };
  });
}

function parseFeeds(text: string): { name: string; streams: string[] }[] {
  return list(text).map((f) => {
    const [name = '', streams = ''] = f.split(':');
    return { name: name.trim(), streams: streams.split('+').map((s) => s.trim()).filter(Boolean) };
  });
}

/** The input ended before every question had an answer. */
export class InstallQuestionsEndedError extends Error {
  override name = 'InstallQuestionsEndedError';
}

export async function askInstallAnswers(input: Readable, output: Writable): Promise<InstallAnswers> {
  const rl = createInterface({ input, output, terminal: false });
  // Read every line up front as it arrives: readline drops lines typed before a question when piped.
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  let closed = false;
  rl.on('line', (line) => (waiting.length > 0 ? waiting.shift()!(line) : lines.push(line)));
  rl.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w(undefined);
  });
  const ask = async (question: string, fallback: string, check: Check): Promise<string> => {
    for (;;) {
      output.write(`${question}${fallback ? ` [${fallback}]` : ''}: `);
      const line = lines.length > 0 ? lines.shift() : closed ? undefined : await new Promise<string | undefined>((r) => waiting.push(r));
      if (line === undefined) throw new InstallQuestionsEndedError(`no answer to "${question}": the input ended (use --answers answers.yaml without a terminal)`);
      const answer = line.trim() === '' ? fallback : line.trim();
      const problem = check(answer);
      if (problem === undefined) return answer;
      output.write(`  ${problem}${answer ? ` (got "${answer}")` : ''}; try again.\n`);
    }
  };
  const any: Check = () => undefined;
  try {
    const id = await ask('Hospital id (as the relay knows it)', '', nameCheck);
    const name = await ask('Hospital name', '', any);
    const address = await ask('Relay gRPC address (host:port)', '', hostPortCheck);
    const how = await ask('Relay credentials: enrol with a token, or import certificates (enrol/import)', 'enrol', (a) => (a === 'enrol' || a === 'import' ? undefined : 'expected enrol or import'));
    const relay: Record<string, unknown> = { address };
    if (how === 'import') {
      relay.import = { certFile: await ask('Client certificate file', '', fileCheck), keyFile: await ask('Client key file', '', fileCheck), caFile: await ask('Relay CA file', '', fileCheck) };
    } else {
      const host = parseHostPort(address)!.host;
      relay.enrol = {
        url: await ask('Relay HTTPS address', `https://${host}:7480`, (a) => (URL.canParse(a) && a.startsWith('https://') ? undefined : 'expected an https:// address, such as https://relay.example.org:7480')),
        token: await ask('One-time enrolment token', '', (a) => (a.length >= 8 ? undefined : 'expected the token `wardline relay enrol-token` printed (wlenrol_…)')),
        caFile: await ask('Relay CA file (ca.crt from the relay operator)', '', fileCheck),
      };
    }
    const sources = parseSources(
      await ask('HL7 MLLP listeners, name=host:port, comma-separated', 'lis=0.0.0.0:2575', (a) => {
        const bad = parseSources(a).find((s) => nameCheck(s.name) !== undefined || hostPortCheck(s.listen) !== undefined);
        return bad ? `expected name=host:port, such as lis=0.0.0.0:2575 ("${bad.name}=${bad.listen}" is not)` : undefined;
      }),
    );
    const http = await ask('Dashboard address', '0.0.0.0:8480', hostPortCheck);
    const feeds = parseFeeds(
      await ask('Feeds, name:stream+stream, comma-separated', 'clinical:adt+results', (a) => {
        const parsed = parseFeeds(a);
        if (parsed.length === 0) return 'expected at least one feed';
        const bad = parsed.find((f) => nameCheck(f.name) !== undefined || f.streams.length === 0);
        return bad ? `expected name:stream+stream, such as clinical:adt+results ("${bad.name}" has a bad name or no streams)` : undefined;
      }),
    );
    // Default yes: without a policy the MRN, names and phone numbers leave in clear.
    const applyPolicy = await ask(
      `Apply the proposed policy to ${feeds.map((f) => f.name).join(', ')} (PID-3 and other ids hashed with the pseudonym key, name, phones and national id masked, birth date to the year; README: Policies)? yes/no`,
      'yes',
      (a) => (/^(y|yes|n|no)$/i.test(a) ? undefined : 'expected yes or no'),
    );
    const policy = /^y/i.test(applyPolicy) ? ('proposed' as const) : ('none' as const);
    const needsLogin = listensBeyondLoopback(http);
    const passwordFile = await ask(`File holding the dashboard admin password${needsLogin ? ` (required: ${http} is reachable from the network)` : ' (empty: no login)'}`, '', (a) => {
      if (a === '' && !needsLogin) return undefined;
      const problem = fileCheck(a);
      if (problem) return problem;
      return readFileSync(a, 'utf8').trim() === '' ? `${a} is empty: put the password in it` : undefined;
    });
    const dailyBytes = await ask('Expected data per day', '2GiB', (a) => (parseByteSize(a) === undefined ? 'expected a size such as 500MiB or 2GiB' : undefined));
    const parsed = InstallAnswersSchema.safeParse({
      hospital: { id, name },
      relay,
      sources,
      http: { listen: http },
      feeds: feeds.map((f) => ({ ...f, policy })),
      ...(passwordFile ? { admin: { passwordFile } } : {}),
      volume: { dailyBytes },
    });
    if (!parsed.success) throw new Error(`the answers do not fit together:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
    return parsed.data;
  } finally {
    rl.close();
  }
}
