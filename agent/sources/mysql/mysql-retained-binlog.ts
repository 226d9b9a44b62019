// What the server keeps for the agent: the binlog bytes after the saved position,
// from SHOW BINARY LOGS (the rest of the file the agent is in, plus every later
// file). The server purges by age (binlog_expire_logs_seconds), not for a replica,
// so this is the backlog the agent still has to read, not a budget.
import type { RetainedLog } from '../database/index.js';

export function retainedBinlog(logs: readonly { Log_name: string; File_size: number | string }[], file: string | null, pos: number | null): RetainedLog | null {
  if (file === null) return null;
  let bytes = 0;
  let seen = false;
  for (const log of logs) {
    const size = Number(log.File_size);
    if (log.Log_name === file) {
      seen = true;
      bytes += Math.max(0, size - (pos ?? 0));
    } else if (seen || log.Log_name > file) {
      bytes += size;
    }
  }
  return { bytes, budgetBytes: null, status: file, secondsToBudget: null };
}
