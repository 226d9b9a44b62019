// Where a C-STORE's dataset goes while it arrives: straight to a Part-10 file
// under the incoming directory (128-byte preamble, "DICM", the file meta group
// built from the request, then the dataset bytes exactly as received), never a
// memory buffer — an instance can be hundreds of MB. The file is scratch and is
// not fsynced: what makes an instance durable before the C-STORE succeeds is the
// archive's fsynced chunks and the journal's commit. A crash before the answer
// leaves a file DicomSource.start() deletes, and the sender, never answered,
// sends the instance again. (An fsync here wrote every instance to disk twice and
// cost one more fsync per C-STORE; a file removed before writeback costs none.)
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

/** Our Implementation Class UID (0002,0012), under 2.25 (UUID-derived, PS3.5 B.2). */
export const WARDLINE_IMPLEMENTATION_CLASS_UID = '2.25.271156768671979054560912655235200912150';
/** (0002,0013): at most 16 characters. */
export const WARDLINE_IMPLEMENTATION_VERSION = 'WARDLINE';

export interface FileMetaInput {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
}

function element(group: number, elementNumber: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elementNumber, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

/** A text value padded to even length (NUL for UI, space otherwise: PS3.5 6.2). */
function text(value: string, vr: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
}

/**
 * Preamble, "DICM" and the file meta group (explicit VR little endian, PS3.10 7.1).
 * Only what the command and the association say: no Source AE Title, so the same
 * instance from the modality and from the PACS is the same file (one hash, one
 * archive copy, a duplicate the second time).
 */
export function part10Prefix(meta: FileMetaInput): Buffer {
  const elements = [
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 0x0002, 'UI', text(meta.sopClassUid, 'UI')),
    element(0x0002, 0x0003, 'UI', text(meta.sopInstanceUid, 'UI')),
    element(0x0002, 0x0010, 'UI', text(meta.transferSyntaxUid, 'UI')),
    element(0x0002, 0x0012, 'UI', text(WARDLINE_IMPLEMENTATION_CLASS_UID, 'UI')),
    element(0x0002, 0x0013, 'SH', text(WARDLINE_IMPLEMENTATION_VERSION, 'SH')),
  ];
  const body = Buffer.concat(elements);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x0002, 0x0000, 'UL', length), body]);
}

/**
 * A Writable that writes each chunk synchronously (the file is in the page cache;
 * no chunk waits in memory behind another) and closes the file in final(). An error (disk full) is kept in `failure` and the rest of the dataset
 * is read and dropped, so the association stays in step and can be answered.
 */
export class Part10FileWriter extends Writable {
  /** Dataset bytes received (the file is this plus the prefix). */
  datasetBytes = 0;
  /** Why the file is incomplete; undefined while all is well. */
  failure: Error | undefined;
  private fd: number | undefined;

  constructor(
    readonly path: string,
    meta: FileMetaInput,
  ) {
    // A large mark: dcmjs-dimse awaits 'drain' once per dataset when write() says false.
    super({ highWaterMark: 4 * 1024 * 1024 });
    try {
      this.fd = openSync(path, 'wx');
      writeSync(this.fd, part10Prefix(meta));
    } catch (error) {
      this.fail(error);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.datasetBytes += chunk.length;
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, chunk);
      } catch (error) {
        this.fail(error);
      }
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch (error) {
        // A delayed write error (NFS, a full disk) can surface at close: the file is then not whole.
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      }
      this.fd = undefined;
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.closeFile();
    callback(error);
  }

  /** Deletes the file (after archiving, or when the instance is refused). */
  remove(): void {
    this.closeFile();
    rmSync(this.path, { force: true });
  }

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new Error(String(error));
    this.closeFile();
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // already closed by the system; nothing to keep
    }
  }
}

/** Reads a dataset the SCP refuses before it arrives (disk critical): nothing is written. */
export class DiscardWriter extends Writable {
  datasetBytes = 0;

  constructor(readonly refusal: string) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.datasetBytes += chunk.length;
    callback();
  }
}
