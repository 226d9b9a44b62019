// A feed's sink as one explicit state, and the one guarded transition between
// states (the grpc-js pattern, as agent/replicator/link-state.ts): the status
// page, the metrics and the logs all read this, never a set of flags.

export const SINK_STATES = ['starting', 'standby', 'reconciling', 'publishing', 'caught-up', 'backoff', 'halted', 'revoked', 'stopped'] as const;
/**
 * - starting: not yet asked for the lease.
 * - standby: another relay process holds the feed's lease (it publishes); retried every ttl/3.
 * - reconciling: reading the subject's last message to learn what the stream holds.
 * - publishing: events behind the feed's visible seq are being published.
 * - caught-up: everything visible is published; waiting for the feed to advance.
 * - backoff: NATS did not answer or refused; retried after a growing wait.
 * - halted: the subject's last message is not the feed's (WL_SINK_FOREIGN_MESSAGE); retried slowly, nothing is published.
 * - revoked: the hospital revoked the feed; nothing is read or published until it is reinstated.
 * - stopped: the relay is stopping.
 */
export type SinkState = (typeof SINK_STATES)[number];

const ALLOWED: Record<SinkState, readonly SinkState[]> = {
  starting: ['standby', 'reconciling', 'backoff', 'revoked', 'halted', 'stopped'],
  standby: ['reconciling', 'backoff', 'stopped'],
  reconciling: ['publishing', 'caught-up', 'standby', 'backoff', 'halted', 'revoked', 'stopped'],
  publishing: ['caught-up', 'reconciling', 'standby', 'backoff', 'halted', 'revoked', 'stopped'],
  'caught-up': ['publishing', 'reconciling', 'standby', 'backoff', 'halted', 'revoked', 'stopped'],
  backoff: ['reconciling', 'standby', 'revoked', 'halted', 'stopped'],
  halted: ['reconciling', 'standby', 'backoff', 'stopped'],
  revoked: ['reconciling', 'standby', 'backoff', 'stopped'],
  stopped: [],
};

/** True when a feed's sink may move from `from` to `to` (staying put is always allowed). */
export function canTransition(from: SinkState, to: SinkState): boolean {
  return from === to || ALLOWED[from].includes(to);
}
