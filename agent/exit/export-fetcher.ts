// The hospital fetches its own signed export from the relay (the Export RPC),
// without the relay operator's cooperation, and checks it before it counts:
// `wardline agent export`, and restore's `--from-relay`.
//
// Failure modes handled:
//  1. A relay older than export-v1 answers UNIMPLEMENTED: ExportRelayTooOldError
//     says to upgrade the relay.
//  2. A relay (or whoever speaks for it) sending paths outside the export
//     ("../x", "/etc/x", an unknown name), a file twice, parts out of order or a
//     gap in offsets: refused before a byte of that part is written
//     (isExportPath; one file at a time, offsets contiguous).
//  3. The stream cut mid-way (line down, relay stopped): the parts went into a
//     temporary sibling directory, removed on failure; --out never holds a half
//     export. A stream that ends without the signature (sent last) is cut too.
//  4. What arrived is checked by verifyExport before it is given --out's name;
//     one that does not verify is kept under that name as evidence, and the
//     fetch fails saying so.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EXPORT_SIGNATURE_FILE, ReplicationService, isExportPath, pb, type ExportPart } from '../../protocol/index.js';
import type { RelayLinkTls } from '../replication/index.js';
import { ExportFetchError, ExportRelayTooOldError } from './errors.js';
import { verifyExport, type ExportVerification } from './export-verifier.js';

/** How long the relay may take to answer at all (it builds the whole export before the first part), in ms. */
export const DEFAULT_EXPORT_DEADLINE_MS = 6 * 60 * 60 * 1000;

export interface FetchExportOptions {
  /** host:port of the relay's gRPC endpoint (relays[].address). */
  address: string;
  /** TLS to the relay as the replication link uses it (relays[].tls read); undefined: plaintext (allowPlaintext). */
  tls: RelayLinkTls | undefined;
  hospitalId: string;
  /** The hospital's secret; "" with mutual TLS, where the client certificate names the hospital. */
  secret: string;
  /** Feeds to export; absent or empty: every feed the relay holds of the hospital. */
  feeds?: readonly string[];
  /** Where the export goes: must not exist, or be an empty directory. */
  outDir: string;
  /** The relay's public key (minisign text) from a source the hospital trusts; absent: the export's own (integrity only). */
  trustedPublicKey?: string;
  trustedPublicKeySource?: string;
  /** Default DEFAULT_EXPORT_DEADLINE_MS. */
  deadlineMs?: number;
}

export interface FetchedExport {
  outDir: string;
  verification: ExportVerification;
  /** File bytes received. */
  bytes: number;
  elapsedMs: number;
}

const ReplicationClient = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');

/**
 * Fetches the hospital's export over the Export RPC into `outDir` and verifies it (see the header).
 * @throws ExportRelayTooOldError, ExportFetchError (refused, cut, bad parts, --out not empty, did not verify).
 */
export async function fetchExport(options: FetchExportOptions): Promise<FetchedExport> {
  const startedMs = performance.now();
  const outDir = resolve(options.outDir);
  await checkOutDir(outDir);
  const scratch = join(dirname(outDir), `.${basename(outDir)}.partial-${randomBytes(6).toString('hex')}`);
  await mkdir(scratch, { mode: 0o700 });
  const { tls } = options;
  const credentials = tls ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
  const client = new ReplicationClient(options.address, credentials, {
    ...(tls?.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }),
    'grpc.enable_retries': 0,
  });
  let bytes = 0;
  try {
    const request = pb.ExportRequest.create({ hospitalId: options.hospitalId, secret: options.secret, feeds: [...(options.feeds ?? [])] });
    const call = (client as unknown as { export(request: unknown, options: grpc.CallOptions): grpc.ClientReadableStream<ExportPart> }).export(request, {
      deadline: Date.now() + (options.deadlineMs ?? DEFAULT_EXPORT_DEADLINE_MS),
    });
    const writer = new PartWriter(scratch);
    try {
      for await (const part of call as AsyncIterable<ExportPart>) bytes += await writer.take(part);
      await writer.finish();
    } catch (error) {
      call.cancel();
      throw asFetchError(error, options.address);
    } finally {
      await writer.close();
    }
    let verification: ExportVerification;
    try {
      verification = await verifyExport(scratch, {
        ...(options.trustedPublicKey === undefined ? {} : { trustedPublicKey: options.trustedPublicKey, trustedPublicKeySource: options.trustedPublicKeySource ?? '--pubkey' }),
      });
    } catch (error) {
      await moveInto(scratch, outDir);
      const code = (error as { code?: string }).code;
      throw new ExportFetchError(`the export the relay sent is in ${outDir} but does not verify${code ? ` [${code}]` : ''}: ${(error as Error).message}`, { cause: error });
    }
    await moveInto(scratch, outDir);
    return { outDir, verification: { ...verification, dir: outDir }, bytes, elapsedMs: performance.now() - startedMs };
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  } finally {
    client.close();
  }
}

/** Writes the parts of one export, one file at a time, refusing anything but the next byte of a file of the export. */
class PartWriter {
  private current: { path: string; handle: FileHandle; written: number } | undefined;
  private readonly seen = new Set<string>();
  private last: string | undefined;

  constructor(private readonly dir: string) {}

  /** Writes one part; returns its data's length. */
  async take(part: ExportPart): Promise<number> {
    const path = part.path ?? '';
    const offset = Number(part.offset ?? 0);
    const data = part.data ?? new Uint8Array();
    if (!this.current || this.current.path !== path) {
      if (this.current) throw new ExportFetchError(`the relay started ${JSON.stringify(path)} before ending ${this.current.path}`);
      if (!isExportPath(path)) throw new ExportFetchError(`the relay sent a part for ${JSON.stringify(path)}, which is not a file an export may hold; nothing of it was written`);
      if (this.seen.has(path)) throw new ExportFetchError(`the relay sent ${path} twice`);
      this.seen.add(path);
      if (path.includes('/')) await mkdir(join(this.dir, dirname(path)), { recursive: true, mode: 0o700 });
      this.current = { path, handle: await open(join(this.dir, path), 'wx', 0o600), written: 0 };
    }
    const file = this.current;
    if (offset !== file.written) throw new ExportFetchError(`${path}: the relay sent bytes at offset ${offset}, expected ${file.written}`);
    for (let at = 0; at < data.length; ) at += (await file.handle.write(data, at)).bytesWritten;
    file.written += data.length;
    if (part.lastPart) {
      await file.handle.sync();
      await file.handle.close();
      this.current = undefined;
      this.last = path;
    }
    return data.length;
  }

  /** The stream ended: every file ended, the signature last of all; the directories are fsynced. */
  async finish(): Promise<void> {
    if (this.current) throw new ExportFetchError(`the stream ended in the middle of ${this.current.path}: the export was cut`);
    if (this.last !== EXPORT_SIGNATURE_FILE) throw new ExportFetchError(`the stream ended before ${EXPORT_SIGNATURE_FILE} (sent last): the export was cut`);
    for (const sub of ['feeds', 'blobs', '.']) {
      const handle = await open(join(this.dir, sub), 'r').catch(() => undefined);
      await handle?.sync();
      await handle?.close();
    }
  }

  async close(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    this.current = undefined;
  }
}

function asFetchError(error: unknown, address: string): Error {
  if (error instanceof ExportFetchError) return error;
  const status = error as Partial<grpc.ServiceError>;
  if (status.code === grpc.status.UNIMPLEMENTED) return new ExportRelayTooOldError(address);
  if (typeof status.code === 'number') {
    return new ExportFetchError(`the relay at ${address} refused or ended the export: ${grpc.status[status.code]}: ${status.details ?? status.message}`, { cause: error });
  }
  return new ExportFetchError(`the export from ${address} failed: ${(error as Error).message}`, { cause: error });
}

/** Refuses an output path that exists and is not an empty directory. */
async function checkOutDir(outDir: string): Promise<void> {
  const found = await stat(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!found) return;
  if (!found.isDirectory()) throw new ExportFetchError(`--out ${outDir} exists and is not a directory; name a new or empty directory`);
  if ((await readdir(outDir)).length > 0) throw new ExportFetchError(`--out ${outDir} is not empty; name a new or empty directory`);
}

/** Gives the finished directory its name (replacing the empty directory checkOutDir allowed) and fsyncs the parent. */
async function moveInto(scratch: string, outDir: string): Promise<void> {
  await rmdir(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(scratch, outDir);
  const parent = await open(dirname(outDir), 'r');
  await parent.sync();
  await parent.close();
}
