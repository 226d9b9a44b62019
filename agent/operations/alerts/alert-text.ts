// The English line each alert carries (logs, webhook, syslog). The dashboard
// words alerts itself, in the reader's language, from the record's fields.
import type { AlertRule } from './alert.js';

/** "45 s", "12 min", "3.5 h", "2.1 days". */
export function formatAlertDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

export interface AlertTextInput {
  rule: AlertRule;
  subject: string;
  level: number;
  previousLevel: number;
  value: number | null;
  threshold: number | null;
  details: Record<string, string | number | null>;
}

export function alertMessage(a: AlertTextInput): string {
  const value = a.value ?? 0;
  const threshold = a.threshold ?? 0;
  switch (a.rule) {
    case 'link': {
      if (a.level === 0) return `link to relay ${a.subject} restored`;
      const error = a.details.lastError ? `; last error: ${a.details.lastError}` : '';
      return `link to relay ${a.subject} lost: ${a.details.state ?? 'not streaming'}${error}`;
    }
    case 'lag':
      return a.level === 0
        ? `feed ${a.subject} caught up: lag ${formatAlertDuration(value)} (threshold ${formatAlertDuration(threshold)})`
        : `feed ${a.subject} is ${formatAlertDuration(value)} behind (threshold ${formatAlertDuration(threshold)})`;
    case 'backlog-age':
      return a.level === 0
        ? `feed ${a.subject} backlog fresh again: oldest waiting event ${formatAlertDuration(value)} old`
        : `feed ${a.subject} backlog stale: oldest waiting event ${formatAlertDuration(value)} old (threshold ${formatAlertDuration(threshold)}), ${a.details.backlogEvents ?? 0} events waiting`;
    case 'disk': {
      const state = a.level === 2 ? 'critical' : a.level === 1 ? 'warning' : 'ok';
      const forecast = typeof a.details.forecastFullInSeconds === 'number' ? `; full in ${formatAlertDuration(a.details.forecastFullInSeconds)}` : '';
      const reason = a.details.reason ? `: ${a.details.reason}` : ` (${value.toFixed(1)}% used)`;
      return `disk holding ${a.subject} ${state}${reason}${a.level > 0 ? forecast : ''}`;
    }
    case 'control-id-reused':
      return a.level === 0
        ? `no more reused HL7 control ids from ${a.subject}`
        : `HL7 sender ${a.subject} reused control id ${a.details.controlId ?? '?'} for a message with different content (journaled as seq ${a.details.seq ?? '?'}; ${value} reuse(s) so far): a spoofed message, or a sender whose counter reset`;
    case 'feed-integrity':
      return a.level === 0
        ? `feed ${a.subject}: the relay's mark is consistent with the journal again`
        : `feed ${a.subject} stopped: the relay holds it up to seq ${a.details.relayMarkSeq}, beyond the journal head ${a.details.journalHeadSeq}; its next events would be dropped`;
    case 'source-silent':
      return a.level === 0
        ? `source ${a.subject} is receiving messages again`
        : `source ${a.subject} silent for ${formatAlertDuration(value)} (quiet period ${formatAlertDuration(threshold)})`;
  }
}
