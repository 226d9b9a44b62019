// The interactive mode: the few questions that matter, asked one by one on a
// terminal, giving the same InstallAnswers an answers file would (and checked
// by the same schema). Streams are injectable, so tests type the answers.
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { InstallAnswersSchema, type InstallAnswers } from './answers.js';

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
  const ask = async (question: string, fallback = ''): Promise<string> => {
    output.write(`${question}${fallback ? ` [${fallback}]` : ''}: `);
    const line = lines.length > 0 ? lines.shift() : closed ? undefined : await new Promise<string | undefined>((r) => waiting.push(r));
    const answer = (line ?? '').trim();
    return answer === '' ? fallback : answer;
  };
  const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    const id = await ask('Hospital id (as the relay knows it)');
    const name = await ask('Hospital name');
    const address = await ask("Relay gRPC address (host:port)");
    const how = await ask('Relay credentials: enrol with a token, or import certificates (enrol/import)', 'enrol');
    const relay: Record<string, unknown> = { address };
    if (how === 'import') {
      relay.import = { certFile: await ask('Client certificate file'), keyFile: await ask('Client key file'), caFile: await ask("Relay CA file") };
    } else {
      const host = address.replace(/:\d+$/, '');
      relay.enrol = { url: await ask('Relay HTTPS address', `https://${host}:7480`), token: await ask('One-time enrolment token'), caFile: await ask("Relay CA file (ca.crt from the relay operator)") };
    }
    const sources = list(await ask('HL7 MLLP listeners, name=host:port, comma-separated', 'lis=0.0.0.0:2575')).map((s) => {
      const [sourceName, listen] = s.split('=');
      return { name: sourceName, listen };
    });
    const http = await ask('Dashboard address', '0.0.0.0:8480');
    const feeds = list(await ask('Feeds, name:stream+stream, comma-separated', 'clinical:adt+results')).map((f) => {
      const [feedName, streams = ''] = f.split(':');
      return { name: feedName, streams: streams.split('+').filter(Boolean) };
    });
    const passwordFile = await ask('File holding the dashboard admin password (empty: no login)');
    const dailyBytes = await ask('Expected data per day', '2GiB');
    return InstallAnswersSchema.parse({
      hospital: { id, name },
      relay,
      sources,
      http: { listen: http },
      feeds,
      ...(passwordFile ? { admin: { passwordFile } } : {}),
      volume: { dailyBytes },
    });
  } finally {
    rl.close();
  }
}
