// Errors of change-capture sources. Each says which source, which table or server
// setting, and the fix, because the person reading it is the hospital's DBA.
import { AgentError, AgentErrorCode } from '../../errors.js';

/**
 * The database is not set up for this source (wal_level, binlog format, a missing
 * publication or privilege, a table without a primary key, an unsupported column
 * type, a wrong password): the source stops with this, nothing else does.
 */
export class CaptureSetupError extends AgentError {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`source ${source}: ${message}`, AgentErrorCode.CAPTURE_SETUP, options);
  }
}

/**
 * The server no longer holds the changes after the agent's saved position (a
 * replication slot invalidated, a binlog purged): the source alerts and takes a new
 * snapshot rather than resume with a silent gap.
 */
export class CapturePositionLostError extends AgentError {
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`source ${source}: ${message}`, AgentErrorCode.CAPTURE_POSITION_LOST, options);
  }
}
