// An agent as a child process (the built CLI) for the local-app API's security
// tests: its HTTP section as given, one MLLP source, its log kept in a file the
// test can search for what must never be written there.
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export interface IngestAgent {
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  mllpPort: number;
  /** Everything the agent logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface IngestAgentOptions {
  /** The HTTP listen host; default 127.0.0.1 (0.0.0.0 to be reached from the LAN). */
  listenHost?: string;
  /** More keys of the http section, as YAML lines (indented by the helper). */
  http?: string[];
  /** The data directory; default `data` in dir. */
  dataDir?: string;
  /** More top-level YAML. */
  extra?: string;
}

/** Starts an agent in `dir` with the given HTTP section, one MLLP source and info-level logs. */
export async function startIngestAgent(dir: string, options: IngestAgentOptions = {}): Promise<IngestAgent> {
  const port = await freePort();
  const mllpPort = await freePort();
  const file = join(dir, 'agent.yaml');
  const logFile = join(dir, 'agent.log');
  const http = [`listen: "${options.listenHost ?? '127.0.0.1'}:${port}"`, ...(options.http ?? [])];
  writeFileSync(
    file,
    `hospital: { id: ingest-hospital }
dataDir: ${options.dataDir ?? './data'}
http:
${http.map((line) => `  ${line}`).join('\n')}
sources: [{ kind: mllp, name: his, listen: "127.0.0.1:${mllpPort}" }]
log: { level: info }
${options.extra ?? ''}
`,
  );
  const agent = new WardlineProcess(['agent', 'start', '--config', file], logFile);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, agent);
  return {
    url,
    port,
    mllpPort,
    log: () => readFileSync(logFile, 'utf8'),
    stop: async () => void (await agent.kill('SIGTERM')),
  };
}

/** An address of this machine other than loopback, so a request can come from "the LAN"; undefined when there is none. */
export function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
}

/** POSTs rows as JSON to /v1/ingest/{stream}. */
export function postRows(base: string, stream: string, rows: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/ingest/${stream}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof rows === 'string' ? rows : JSON.stringify(rows) });
}
