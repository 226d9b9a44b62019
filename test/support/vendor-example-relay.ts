// A real relay process (the built CLI) for the example vendor consumers' tests:
// fixed ports and one data dir, so it can be SIGKILLed and started again where
// vendors expect it, and an agent stream that keeps appending batches. The
// agent's journal is shared by two feeds, so the read feed's seqs skip the way
// real ones do (1, 2, 5, 9, …): its batches cover every journal seq and carry
// only its own events.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createCertificateAuthority, issueServerCertificate } from '../../cloud-relay/index.js';
import { FeedsService, ReplicationService, pb, type AgentMessage, type ConsumerPosition, type ConsumerRequest, type JournalEvent, type RelayMessage } from '../../protocol/index.js';
import { AgentStream, SECRETS, makeBatch, makeEvent } from '../integration/relay-harness.js';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export const EX_HOSPITAL = 'h1';
/** The feed the consumers read. */
export const EX_FEED = 'clinical';
/** The other feed of the same journal: its seqs are the read feed's gaps. */
export const EX_OTHER_FEED = 'billing';
export const EX_READER_KEY = 'reader-key-0123456789abcdef';

/** Whether journal seq `seq` belongs to EX_FEED: about two seqs in three, never a regular pattern of one. */
export function inReadFeed(seq: number): boolean {
  return seq <= 2 || (seq % 4 !== 3 && seq % 7 !== 0 && seq % 11 !== 4);
}

export class VendorExampleRelay {
  private process: WardlineProcess | undefined;
  private agentClient: grpc.Client | undefined;
  private agent: AgentStream | undefined;
  private nextJournalSeq = 1;
  private readonly logFile: string;
  /** Every EX_FEED seq the relay acked, in order. */
  readonly feedSeqs: number[] = [];
  restarts = 0;

  private constructor(
    private readonly configFile: string,
    readonly httpPort: number,
    readonly grpcPort: number,
    dir: string,
    /** The CA file that issued the relay's certificate (for 127.0.0.1) when it serves TLS. */
    readonly caFile: string | undefined,
  ) {
    this.logFile = join(dir, 'relay.log');
  }

  /** @param options.tls serve gRPC and HTTPS with a certificate from a CA made in `dir` (caFile) */
  static async start(dir: string, options: { tls?: boolean } = {}): Promise<VendorExampleRelay> {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    let transport: Record<string, unknown> = { allowPlaintext: true };
    let caFile: string | undefined;
    if (options.tls) {
      const ca = await createCertificateAuthority(join(dir, 'ca'));
      const server = await issueServerCertificate(join(dir, 'ca'), join(dir, 'relay-cert'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
      transport = { tls: { certFile: server.certFile, keyFile: server.keyFile } };
      caFile = ca.certFile;
    }
    const config = {
      dataDir: join(dir, 'relay-data'),
      grpc: { listen: `127.0.0.1:${grpcPort}` },
      http: { listen: `127.0.0.1:${httpPort}` },
      ...transport,
      hospitals: [{ id: EX_HOSPITAL, secret: SECRETS.h1 }],
      vendors: [{ name: 'reader', key: EX_READER_KEY, grants: [{ hospital: EX_HOSPITAL, feeds: [EX_FEED] }] }],
      log: { level: 'warn' },
    };
    const configFile = join(dir, 'relay.yaml');
    // JSON is YAML.
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const relay = new VendorExampleRelay(configFile, httpPort, grpcPort, dir, caFile);
    await relay.launch();
    return relay;
  }

  get grpcTarget(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get httpBase(): string {
    return `${this.caFile ? 'https' : 'http'}://127.0.0.1:${this.httpPort}`;
  }

  private credentials(): grpc.ChannelCredentials {
    return this.caFile ? grpc.credentials.createSsl(readFileSync(this.caFile)) : grpc.credentials.createInsecure();
  }

  /** The certificate also names localhost: checked by that name, as Node will not send an IP address as the TLS server name. */
  private channelOptions(): grpc.ChannelOptions {
    return this.caFile ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
  }

  private async launch(): Promise<void> {
    this.process = new WardlineProcess(['relay', 'start', '--config', this.configFile], this.logFile);
    // /healthz over HTTPS would need the CA in fetch: the gRPC port answering is as good a sign.
    if (this.caFile) await this.waitForGrpc();
    else await waitForHttp(`${this.httpBase}/healthz`, this.process);
  }

  private async waitForGrpc(timeoutMs = 20_000): Promise<void> {
    const client = new grpc.Client(this.grpcTarget, this.credentials(), this.channelOptions());
    try {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(new Error(`the relay's gRPC port did not come up: ${error.message}\n${this.process!.recentOutput}`)) : resolve())),
      );
    } finally {
      client.close();
    }
  }

  /** kill -9 the relay, then start it again on the same data dir and ports. */
  async killAndRestart(downMs = 500): Promise<void> {
    this.dropAgent();
    await this.process!.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.launch();
    this.restarts += 1;
  }

  /**
   * Journals `journalSeqs` more seqs, in batches of `batchSeqs`, and has the relay
   * store each feed's share (EX_FEED's events, the rest EX_OTHER_FEED's).
   * Resolves once every batch was acked; returns the EX_FEED seqs added.
   */
  async append(journalSeqs: number, batchSeqs = 100): Promise<number[]> {
    const added: number[] = [];
    const end = this.nextJournalSeq + journalSeqs - 1;
    while (this.nextJournalSeq <= end) {
      const first = this.nextJournalSeq;
      const last = Math.min(end, first + batchSeqs - 1);
      const mine: JournalEvent[] = [];
      const other: JournalEvent[] = [];
      for (let seq = first; seq <= last; seq++) {
        if (inReadFeed(seq)) mine.push(makeEvent(seq, { stream: seq % 5 === 0 ? 'lab' : 'adt', op: seq % 13 === 0 ? 'delete' : 'upsert' }));
        else other.push(makeEvent(seq, { stream: 'charges', key: `C${seq}` }));
      }
      await this.store(EX_FEED, first, last, mine);
      await this.store(EX_OTHER_FEED, first, last, other);
      this.nextJournalSeq = last + 1;
      const seqs = mine.map((event) => event.seq);
      this.feedSeqs.push(...seqs);
      added.push(...seqs);
    }
    return added;
  }

  /** The feed's head: the last journal seq stored. */
  get highWater(): number {
    return this.nextJournalSeq - 1;
  }

  /** A named consumer's committed position, as Feeds.GetConsumer answers it. */
  async consumerPosition(consumer: string): Promise<ConsumerPosition> {
    const Client = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');
    const client = new Client(this.grpcTarget, this.credentials(), this.channelOptions()) as unknown as grpc.Client & {
      getConsumer(r: ConsumerRequest, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v?: ConsumerPosition) => void): void;
    };
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${EX_READER_KEY}`);
    try {
      return await new Promise((resolve, reject) =>
        client.getConsumer(pb.ConsumerRequest.create({ feed: EX_FEED, consumer }), metadata, (error, position) => (error ? reject(error) : resolve(position!))),
      );
    } finally {
      client.close();
    }
  }

  private async store(feed: string, firstSeq: number, lastSeq: number, events: JournalEvent[]): Promise<void> {
    const agent = await this.connectedAgent();
    agent.sendBatch(makeBatch(feed, firstSeq, lastSeq, events));
    for (;;) {
      const answer = await agent.next(10_000);
      if (answer.body === 'ack' && answer.ack!.feed === feed) return;
      if (answer.body === 'nack') throw new Error(`the relay refused ${feed} [${firstSeq}, ${lastSeq}]: ${JSON.stringify(answer.nack)}`);
      // Anything else (vendor progress, a welcome's followers) is not an answer to the batch.
    }
  }

  private async connectedAgent(): Promise<AgentStream> {
    if (this.agent) return this.agent;
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    this.agentClient = new Client(this.grpcTarget, this.credentials(), this.channelOptions());
    const agent = new AgentStream((this.agentClient as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate());
    agent.hello('h1', [EX_FEED, EX_OTHER_FEED]);
    const welcome = await agent.next(10_000);
    if (welcome.body !== 'welcome') throw new Error(`expected Welcome, got ${welcome.body}`);
    this.agent = agent;
    return agent;
  }

  private dropAgent(): void {
    this.agent?.end();
    this.agentClient?.close();
    this.agent = undefined;
    this.agentClient = undefined;
  }

  async stop(): Promise<void> {
    this.dropAgent();
    await this.process?.kill('SIGTERM');
  }
}
