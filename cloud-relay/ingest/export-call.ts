// The Export RPC: the hospital's agent fetches its own signed export, without
// the relay operator's help. The hospital is authenticated exactly as a
// Replicate Hello is (hospital-auth.ts: the verified client certificate, the
// secret, or both); the export is written into a scratch directory by the same
// writer `wardline relay export` uses, streamed as ExportPart messages
// (manifest.json and its signature last) and removed.
//
// Failure modes handled:
//  1. Wrong credentials or a certificate for another hospital: UNAUTHENTICATED /
//     PERMISSION_DENIED before anything is read.
//  2. An unknown feed: NOT_FOUND naming the feeds the relay holds; nothing written.
//  3. A slow agent: each part waits for the stream's 'drain', so relay memory
//     stays at one part per call.
//  4. The agent goes away (cancel, line cut) or the relay stops: the writes stop
//     and the scratch directory is removed either way.
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { EXPORT_MANIFEST_FILE, EXPORT_PUBLIC_KEY_FILE, EXPORT_SIGNATURE_FILE, EXPORT_SUMS_FILE, pb, type ExportPart, type ExportRequest } from '../../protocol/index.js';
import type { MinisignKey } from '../../runtime/index.js';
import { writeExport } from '../exit/index.js';
import { toGrpcStatus, writeMessage } from '../grpc/index.js';
import type { BlobStore, FeedStore } from '../store/index.js';
import { peerIdentity } from '../tls/index.js';
import type { HospitalAuth } from './hospital-auth.js';

/** Bytes of file data per ExportPart: well under gRPC's default 4 MiB message limit on the agent's side. */
export const EXPORT_PART_BYTES = 1024 * 1024;

export type ExportCall = ServerWritableStream<ExportRequest, ExportPart>;

export interface ExportCallDeps {
  store: FeedStore;
  blobs?: BlobStore;
  hospitals: HospitalAuth;
  /** The hospital ids of hospitals[] (an authenticated hospital always is one). */
  knownHospitals: readonly string[];
  signingKey: MinisignKey;
  relayId: string;
  /** Where exports are built before they are streamed (inside the relay's dataDir: the disk that holds the data). */
  scratchDir: string;
  logger: Logger;
}

/** Serves one Export call (see the header); never throws: every failure ends the call with a status. */
export async function serveExportCall(deps: ExportCallDeps, call: ExportCall): Promise<void> {
  const ended = new AbortController();
  const onCancel = (): void => ended.abort(new Error('the agent cancelled the export'));
  call.once('cancelled', onCancel);
  const request = call.request;
  const certificate = peerIdentity(call);
  // With a client certificate the request's hospital_id may be left empty: the certificate names the hospital.
  const hospital = request.hospitalId || (certificate?.describe === undefined ? '' : certificate.hospitalId);
  const log = deps.logger.child({ hospital, rpc: 'Export' });
  let scratch: string | undefined;
  try {
    const authenticatedBy = deps.hospitals.verify(hospital, request.secret ?? '', certificate);
    const feeds = [...(request.feeds ?? [])];
    await mkdir(deps.scratchDir, { recursive: true, mode: 0o700 });
    scratch = await mkdtemp(join(deps.scratchDir, 'export-'));
    const outDir = join(scratch, 'export');
    const summary = await writeExport({
      store: deps.store,
      ...(deps.blobs ? { blobs: deps.blobs } : {}),
      signingKey: deps.signingKey,
      relayId: deps.relayId,
      hospital,
      knownHospitals: deps.knownHospitals,
      feeds,
      outDir,
      request: ['Export RPC from the agent of hospital', hospital, ...feeds.flatMap((f) => ['--feed', f])].join(' '),
    });
    log.info({ authenticatedBy, files: summary.files, events: summary.events, bytes: summary.bytes }, 'export built; streaming it to the agent');
    const files = [...summary.manifest.output.map((o) => o.url), EXPORT_SUMS_FILE, EXPORT_PUBLIC_KEY_FILE, EXPORT_MANIFEST_FILE, EXPORT_SIGNATURE_FILE];
    for (const file of files) await streamFile(call, join(outDir, file), file, ended.signal);
    call.end();
    log.info({ files: files.length, bytes: summary.bytes }, 'export streamed');
  } catch (error) {
    if (ended.signal.aborted) log.warn({ reason: (ended.signal.reason as Error).message }, 'export abandoned');
    else {
      log.warn({ err: error, code: (error as { code?: string }).code }, 'export refused or failed');
      call.emit('error', toGrpcStatus(error));
    }
  } finally {
    call.off('cancelled', onCancel);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** Sends one file as parts of at most EXPORT_PART_BYTES, offsets ascending, the last with last_part (an empty file: one empty part). */
async function streamFile(call: ExportCall, path: string, name: string, signal: AbortSignal): Promise<void> {
  const handle = await open(path, 'r');
  try {
    let offset = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(EXPORT_PART_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, EXPORT_PART_BYTES, offset);
      const data = buffer.subarray(0, bytesRead);
      const lastPart = bytesRead < EXPORT_PART_BYTES;
      await writeMessage(call, pb.ExportPart.create({ path: name, offset, data, lastPart }), signal);
      offset += bytesRead;
      if (lastPart) return;
    }
  } finally {
    await handle.close();
  }
}
