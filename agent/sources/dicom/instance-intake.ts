// What happens to one received instance once its file is written: read its
// header, check it, archive it, journal one blob-ref event, and decide the
// C-STORE status. Success only after the archive's chunks and the journal append
// are durable; anything refused leaves nothing behind (the incoming file is
// removed whatever the outcome — the archive holds its own copy).
import { statSync } from 'node:fs';
import { BLOB_REF_CONTENT_TYPE, DicomUidSchema, type ImagingInstanceBody } from '../../../protocol/index.js';
import { DicomHeaderError, readDicomHeader, type DicomHeader, type InstanceArchive } from '../../imaging/index.js';
import type { AppendResult, JournalWriter } from '../../store/index.js';
import type { CaptureLogger } from '../database/index.js';
import { AgentError, AgentErrorCode } from '../../errors.js';
import { DicomStatus, type DicomRefusal, type DicomStatusCode } from './dicom-status.js';
import type { Part10FileWriter } from './part10-file-writer.js';

export interface InstanceIntakeOptions {
  /** The source's name: recorded on every event. */
  source: string;
  stream: string;
  writer: JournalWriter;
  archive: InstanceArchive;
  log: CaptureLogger;
}

/** What the command said about the instance it carries. */
export interface StoreCommand {
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  callingAeTitle: string;
}

export type StoreOutcome =
  | { status: typeof DicomStatus.SUCCESS; duplicate: boolean; sopInstanceUid: string; seq: number | undefined }
  | { status: Exclude<DicomStatusCode, typeof DicomStatus.SUCCESS>; refusal: DicomRefusal; reason: string };

/** The dataset is not something the SCP can keep: answered 0xC000 with the reason (logged with WL_A027). */
export class DicomRefusedError extends AgentError {
  constructor(
    readonly refusal: 'unparseable' | 'uid-mismatch',
    message: string,
  ) {
    super(message, AgentErrorCode.DICOM_REFUSED);
  }
}

export class InstanceIntake {
  constructor(private readonly options: InstanceIntakeOptions) {}

  /** Takes the written file into the archive and the journal. Never rejects. */
  async store(file: Part10FileWriter, command: StoreCommand): Promise<StoreOutcome> {
    try {
      return await this.storeFile(file, command);
    } finally {
      try {
        file.remove();
      } catch (error) {
        this.options.log.warn({ err: error, path: file.path }, 'could not remove an incoming DICOM file');
      }
    }
  }

  private async storeFile(file: Part10FileWriter, command: StoreCommand): Promise<StoreOutcome> {
    const { log, source } = this.options;
    if (file.failure) {
      log.error({ err: file.failure, source, sopInstanceUid: command.affectedSopInstanceUid }, 'could not write a received DICOM instance to disk');
      return { status: DicomStatus.OUT_OF_RESOURCES, refusal: 'write-failed', reason: `the agent could not write the instance to disk: ${file.failure.message}` };
    }
    let body: Omit<ImagingInstanceBody, 'sha256' | 'size' | 'chunks'>;
    try {
      body = describe(await readDicomHeader(file.path), command, statSync(file.path).size);
    } catch (error) {
      if (error instanceof DicomRefusedError) return { status: DicomStatus.CANNOT_UNDERSTAND, refusal: error.refusal, reason: error.message };
      if (error instanceof DicomHeaderError) return { status: DicomStatus.CANNOT_UNDERSTAND, refusal: 'unparseable', reason: `the dataset cannot be parsed: ${error.message.replace(`${file.path}: `, '')}` };
      throw error;
    }

    let manifest;
    try {
      manifest = await this.options.archive.ingestFile(file.path);
    } catch (error) {
      log.error({ err: error, source, sopInstanceUid: body.sopInstanceUid }, 'could not archive a received DICOM instance');
      return { status: DicomStatus.OUT_OF_RESOURCES, refusal: 'archive-failed', reason: `the agent could not archive the instance: ${(error as Error).message}` };
    }

    const event: ImagingInstanceBody = { ...manifest, ...body };
    let result: AppendResult;
    try {
      result = await this.options.writer.append({
        source,
        events: [{ stream: this.options.stream, key: event.sopInstanceUid, op: 'upsert', contentType: BLOB_REF_CONTENT_TYPE, body: Buffer.from(JSON.stringify(event), 'utf8'), headers: {} }],
        // The same bytes again (a modality or PACS re-sending a study) are the same instance.
        dedupe: { scope: `dicom:${this.options.stream}`, id: manifest.sha256 },
      });
    } catch (error) {
      log.error({ err: error, source, sopInstanceUid: event.sopInstanceUid }, 'journal append failed for a DICOM instance; answering Processing Failure');
      return { status: DicomStatus.PROCESSING_FAILURE, refusal: 'journal-failed', reason: 'the agent could not record the instance; send it again later' };
    }
    return { status: DicomStatus.SUCCESS, duplicate: result.duplicate, sopInstanceUid: event.sopInstanceUid, seq: result.seqs[0] };
  }
}

/** The event body's DICOM fields from the header, checked against the command. */
function describe(header: DicomHeader, command: StoreCommand, fileSize: number): Omit<ImagingInstanceBody, 'sha256' | 'size' | 'chunks'> {
  if (header.pixelDataEnd !== null && header.pixelDataEnd > fileSize) {
    throw new DicomRefusedError('unparseable', `the dataset is truncated: its Pixel Data needs ${header.pixelDataEnd - fileSize} more bytes than were received`);
  }
  const uid = (tag: string, name: string, fallback?: string): string => {
    const value = header.text(tag) || fallback;
    if (!value) throw new DicomRefusedError('unparseable', `the dataset has no ${name} (${tag.slice(0, 4)},${tag.slice(4)})`);
    if (!DicomUidSchema.safeParse(value).success) throw new DicomRefusedError('unparseable', `the dataset's ${name} (${tag.slice(0, 4)},${tag.slice(4)}) "${value.slice(0, 70)}" is not a UID`);
    return value;
  };
  const sopInstanceUid = uid('00080018', 'SOP Instance UID');
  if (command.affectedSopInstanceUid && sopInstanceUid !== command.affectedSopInstanceUid) {
    throw new DicomRefusedError('uid-mismatch', `the dataset's SOP Instance UID ${sopInstanceUid} is not the command's Affected SOP Instance UID ${command.affectedSopInstanceUid}`);
  }
  return {
    studyUid: uid('0020000D', 'Study Instance UID'),
    seriesUid: uid('0020000E', 'Series Instance UID'),
    sopInstanceUid,
    sopClassUid: uid('00080016', 'SOP Class UID', command.affectedSopClassUid),
    transferSyntaxUid: header.transferSyntaxUid,
    patientId: header.text('00100020') ?? '',
    modality: header.text('00080060') ?? '',
    studyDate: header.text('00080020') ?? '',
  };
}
