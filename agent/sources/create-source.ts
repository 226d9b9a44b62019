// One place that turns a `sources[]` entry into its Source, by kind, so the
// composition root neither knows every kind's options nor grows a branch per kind.
import type { Source } from './source.js';
import type { SourceConfig } from './source-config.js';
import type { CaptureSourceParts } from './database/index.js';
import { MllpListener, mllpListenerOptions, type MllpListenerOptions } from './mllp/index.js';
import { MysqlSource } from './mysql/index.js';
import { PostgresSource } from './postgres/index.js';
import { SqlPollSource } from './sql-poll/index.js';
import { DicomSource } from './dicom/index.js';
import type { InstanceArchive } from '../imaging/index.js';

/** What the composition root has for sources of every kind. */
export interface SourceBuildParts extends Omit<CaptureSourceParts, 'password'> {
  /** Capture sources' passwords, by source name (loadCapturePasswords). */
  passwords: ReadonlyMap<string, string>;
  /** MLLP only. */
  observeAckLatency: MllpListenerOptions['observeAckLatency'];
  onRejection: MllpListenerOptions['onRejection'];
  /** DICOM only: the archive instances go to, and where they are streamed while arriving. */
  archive: InstanceArchive;
  incomingDir: string;
}

export function createSource(config: SourceConfig, parts: SourceBuildParts): Source {
  const capture: CaptureSourceParts = {
    writer: parts.writer,
    admission: parts.admission,
    localCopy: parts.localCopy,
    log: parts.log,
    clock: parts.clock,
    password: parts.passwords.get(config.name),
  };
  switch (config.kind) {
    case 'mllp':
      return new MllpListener({
        ...mllpListenerOptions(config, { writer: parts.writer, admission: parts.admission, log: parts.log, observeAckLatency: parts.observeAckLatency }),
        onRejection: parts.onRejection,
      });
    case 'postgres':
      return new PostgresSource(config, capture);
    case 'mysql':
      return new MysqlSource(config, capture);
    case 'sql-poll':
      return new SqlPollSource(config, capture);
    case 'dicom':
      return new DicomSource(config, { writer: parts.writer, admission: parts.admission, archive: parts.archive, incomingDir: parts.incomingDir, log: parts.log });
  }
}
