// The DICOM Storage SCP source (kind: dicom): modalities and the PACS send to it
// as they already send to any archive (C-ECHO, C-STORE). Each instance is
// streamed to a file under the incoming directory, archived (content-addressed
// chunks), and journaled as one blob-ref event in its stream, keyed by SOP
// Instance UID; the C-STORE succeeds only once both are durable.
//
// The listener is our own net.Server (dcmjs-dimse's Server binds every address
// and cannot report the bound port); each connection gets a StorageScp.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { InstanceArchive } from '../../imaging/index.js';
import type { AdmissionCheck, Source, SourceAddress, SourceStatus } from '../source.js';
import type { JournalWriter } from '../../store/index.js';
import type { CaptureLogger } from '../database/index.js';
import { AgentErrorCode } from '../../errors.js';
import type { RejectionKind } from '../rejection-kind.js';
import type { DicomSourceConfig } from './dicom-source-config.js';
import { DicomStatus, dicomRejectionKind, type DicomRefusal } from './dicom-status.js';
import { InstanceIntake, type StoreCommand } from './instance-intake.js';
import { DiscardWriter, Part10FileWriter } from './part10-file-writer.js';
import { StorageScp, type StorageScpHandler } from './storage-scp.js';

export interface DicomSourceParts {
  writer: JournalWriter;
  admission?: AdmissionCheck;
  archive: InstanceArchive;
  /** Where instances are streamed while they arrive (under the data dir, same file system as the archive). */
  incomingDir: string;
  log: CaptureLogger;
  /** Milliseconds since the epoch; injected so tests can pin time. */
  clock?: () => number;
}

/** How long a peer may stay silent inside an association (dcmjs-dimse's PDU timeout). */
export const DICOM_PDU_TIMEOUT_MS = 5 * 60 * 1000;

type State = 'stopped' | 'listening' | 'stopping';

export class DicomSource implements Source {
  readonly kind = 'dicom' as const;
  readonly name: string;
  private server: Server | undefined;
  private address: SourceAddress | undefined;
  private state: State = 'stopped';
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly intake: InstanceIntake;
  private readonly clock: () => number;
  private counts = { received: 0, acknowledged: 0, rejected: 0, duplicates: 0, associationsRefused: 0 };
  private lastRejection: SourceStatus['lastRejection'] = null;
  private lastMessageAtMs: number | null = null;
  private incomingDir: string;

  constructor(
    private readonly config: DicomSourceConfig,
    private readonly parts: DicomSourceParts,
  ) {
    this.name = config.name;
    this.clock = parts.clock ?? Date.now;
    // One directory per source: a source clears only its own leftovers at start.
    this.incomingDir = join(parts.incomingDir, config.name);
    this.intake = new InstanceIntake({ source: config.name, stream: config.stream, writer: parts.writer, archive: parts.archive, log: parts.log });
  }

  async start(): Promise<SourceAddress | null> {
    if (this.server) return this.address ?? null;
    mkdirSync(this.incomingDir, { recursive: true });
    // Files left by a crash were never answered with success: the sender sends them again.
    for (const name of readdirSync(this.incomingDir)) rmSync(join(this.incomingDir, name), { force: true });
    const server = createServer((socket) => this.connected(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.listen.port, this.config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.parts.log.error({ err: error, source: this.name }, 'DICOM listener error'));
    const bound = server.address();
    this.server = server;
    this.address = { host: this.config.listen.host, port: typeof bound === 'object' && bound ? bound.port : this.config.listen.port };
    this.state = 'listening';
    this.parts.log.info({ source: this.name, host: this.address.host, port: this.address.port, aeTitle: this.config.aeTitle }, 'DICOM Storage SCP listening');
    return this.address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.state = 'stopping';
    // No new associations; stores already received are archived, journaled and answered first.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.server = undefined;
    this.state = 'stopped';
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: 'dicom',
      state: this.state,
      listen: `${this.config.listen.host}:${this.address?.port ?? this.config.listen.port}`,
      received: this.counts.received,
      acknowledged: this.counts.acknowledged,
      rejected: this.counts.rejected,
      duplicates: this.counts.duplicates,
      lastRejection: this.lastRejection,
      lastMessageAtMs: this.lastMessageAtMs,
      dicom: { aeTitle: this.config.aeTitle, associationsOpen: this.sockets.size, associationsRefused: this.counts.associationsRefused, storesInFlight: this.inFlight.size },
    };
  }

  private connected(socket: Socket): void {
    if (this.state !== 'listening') return void socket.destroy();
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const scp = new StorageScp(socket, { pduTimeout: DICOM_PDU_TIMEOUT_MS }, this.handler);
    // What dcmjs-dimse's Server does for each client: without these the association is never served.
    (scp as unknown as { connected: boolean }).connected = true;
    scp.on('networkError', (error: Error) => {
      this.parts.log.debug({ err: error, source: this.name }, 'DICOM association ended on a network error');
      socket.destroy();
    });
  }

  private readonly handler: StorageScpHandler = {
    checkAssociation: (called, calling) => {
      if (called !== this.config.aeTitle) {
        return { refusal: 'called-ae', reason: `called AE title "${called}" is not this agent's "${this.config.aeTitle}" (sources: ${this.name}.aeTitle)` };
      }
      const allowed = this.config.acceptCallingAeTitles;
      if (allowed.length > 0 && !allowed.includes(calling)) {
        return { refusal: 'calling-ae', reason: `calling AE title "${calling}" is not in acceptCallingAeTitles of source ${this.name}` };
      }
      return undefined;
    },
    associationRefused: (refusal, reason, calling) => {
      this.counts.associationsRefused++;
      this.rejected(refusal, reason);
      this.parts.log.warn({ code: AgentErrorCode.DICOM_REFUSED, source: this.name, callingAeTitle: calling, reason }, `DICOM association refused: ${reason}`);
    },
    openDataset: (command, transferSyntaxUid) => {
      const refusal = this.parts.admission?.(this.name);
      if (refusal !== undefined) return new DiscardWriter(refusal);
      return new Part10FileWriter(join(this.incomingDir, `${randomUUID()}.dcm`), {
        sopClassUid: command.affectedSopClassUid,
        sopInstanceUid: command.affectedSopInstanceUid,
        transferSyntaxUid,
      });
    },
    completeStore: (writer, command) => {
      const work = this.complete(writer, command);
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
      return work;
    },
  };

  private async complete(writer: Part10FileWriter | DiscardWriter, command: StoreCommand): Promise<{ status: number; reason?: string }> {
    this.counts.received++;
    this.lastMessageAtMs = this.clock();
    if (writer instanceof DiscardWriter) {
      this.refusedInstance('disk-critical', writer.refusal, command);
      return { status: DicomStatus.OUT_OF_RESOURCES, reason: writer.refusal };
    }
    const outcome = await this.intake.store(writer, command);
    if (outcome.status === DicomStatus.SUCCESS) {
      this.counts.acknowledged++;
      if (outcome.duplicate) this.counts.duplicates++;
      this.parts.log.debug({ source: this.name, sopInstanceUid: outcome.sopInstanceUid, seq: outcome.seq, duplicate: outcome.duplicate }, 'DICOM instance journaled');
      return { status: DicomStatus.SUCCESS };
    }
    this.refusedInstance(outcome.refusal, outcome.reason, command);
    return { status: outcome.status, reason: outcome.reason };
  }

  private refusedInstance(refusal: DicomRefusal, reason: string, command: StoreCommand): void {
    this.rejected(refusal, reason);
    this.parts.log.warn(
      { code: AgentErrorCode.DICOM_REFUSED, source: this.name, callingAeTitle: command.callingAeTitle, sopInstanceUid: command.affectedSopInstanceUid, reason },
      `DICOM instance refused: ${reason}`,
    );
  }

  private rejected(refusal: DicomRefusal, reason: string): void {
    this.counts.rejected++;
    const kind: RejectionKind = dicomRejectionKind(refusal);
    this.lastRejection = { atMs: this.clock(), reason, kind };
  }
}
