// Delivers inbound events as rows of an inbox table in the HIS's own database:
// Wardline inserts each event once (status 'new'); the HIS picks rows up in its
// own time and sets status to 'applied' or 'rejected'; settle() reads what it
// decided; at the event's TTL withdraw() takes back a row still 'new'.
//
// Failure modes handled:
//  1. A resend of a row already there (after a crash, a lost answer): the insert
//     does nothing (ON CONFLICT DO NOTHING / INSERT IGNORE) and the row's decision,
//     if the HIS made one already, is the outcome at once.
//  2. The database down or unreachable: deliver answers retryable sinkDown;
//     settle and withdraw reject with SinkUnavailableError (asked again later).
//  3. The table missing (createTable off), a column missing, login or permission
//     refused: retryable sinkDown naming WL_A047 and what to fix (no event is
//     quarantined for the hospital's setup).
//  4. withdraw() racing the HIS: the update is conditional on status 'new', so a
//     row the HIS took is never marked expired; withdraw then answers false.
//  5. A status the HIS invents ('processing'…): undecided, the row keeps waiting.
import { decodeHl7 } from '../../hl7/index.js';
import { SinkSetupError, SinkUnavailableError } from './errors.js';
import type { InboundSink, SinkDelivery, SinkOutcome } from './inbound-sink.js';
import { errnoOf, isUnreachable, sinkDownOutcome } from './sink-down.js';
import type { SinkLogger } from './sink-logger.js';

/** Statuses of an inbox row. */
export const INBOX_STATUSES = { waiting: 'new', applied: 'applied', rejected: 'rejected', expired: 'expired' } as const;

/** One event as an inbox row (times in UTC). */
export interface InboxRow {
  id: string;
  channel: string;
  eventKey: string;
  vendor: string;
  contentType: string;
  body: string;
  receivedAt: Date;
  expiresAt: Date;
  deliveredAt: Date;
}

/** A row's status as the HIS left it. */
export interface InboxDecision {
  id: string;
  status: string;
  statusReason: string | null;
  hisReference: string | null;
}

/** What a database must do for the inbox sink; one per dialect. */
export interface InboxDialect {
  readonly name: 'postgres' | 'mysql';
  /** "user@host:port/database", for reasons and logs. */
  readonly where: string;
  /** CREATE TABLE IF NOT EXISTS, with its status index. */
  createTable(): Promise<void>;
  /** Inserts the row unless its id is there; true when this call inserted it. */
  insert(row: InboxRow): Promise<boolean>;
  /** The rows of these ids that exist. */
  decisions(ids: readonly string[]): Promise<InboxDecision[]>;
  /** Sets status 'expired' where the row is still 'new'; true when it did. */
  expire(id: string, at: Date): Promise<boolean>;
  /** Why an error is the hospital's setup to fix (missing table, login, permission), or undefined. */
  setupProblem(error: unknown): string | undefined;
  close(): Promise<void>;
}

export interface InboxSinkOptions {
  dialect: InboxDialect;
  createTable: boolean;
  log: SinkLogger;
  now?: () => Date;
}

export class InboxSink implements InboundSink {
  readonly kind = 'inbox' as const;
  private tableReady: Promise<void> | undefined;

  constructor(private readonly options: InboxSinkOptions) {}

  async deliver(delivery: SinkDelivery): Promise<SinkOutcome> {
    const dialect = this.options.dialect;
    try {
      await this.ensureTable();
      const inserted = await dialect.insert({
        id: delivery.id,
        channel: delivery.channel,
        eventKey: delivery.key,
        vendor: delivery.vendor,
        contentType: delivery.contentType,
        body: bodyText(delivery),
        receivedAt: new Date(delivery.receivedAtMs),
        expiresAt: new Date(delivery.expiresAtMs),
        deliveredAt: this.now(),
      });
      if (!inserted) {
        const [decision] = await dialect.decisions([delivery.id]);
        const decided = decision === undefined ? undefined : decisionOutcome(decision);
        if (decided !== undefined) return decided;
      }
      return { kind: 'awaiting', code: INBOX_STATUSES.waiting };
    } catch (error) {
      return this.failed(error);
    }
  }

  async settle(ids: readonly string[]): Promise<Map<string, SinkOutcome>> {
    const outcomes = new Map<string, SinkOutcome>();
    if (ids.length === 0) return outcomes;
    let decisions: InboxDecision[];
    try {
      decisions = await this.options.dialect.decisions(ids);
    } catch (error) {
      throw this.unavailable('read the HIS decisions', error);
    }
    for (const decision of decisions) {
      const outcome = decisionOutcome(decision);
      if (outcome !== undefined) outcomes.set(decision.id, outcome);
    }
    return outcomes;
  }

  async withdraw(id: string): Promise<boolean> {
    const dialect = this.options.dialect;
    try {
      if (await dialect.expire(id, this.now())) return true;
      const [decision] = await dialect.decisions([id]);
      // Never inserted, or withdrawn already: nothing the HIS could still take.
      return decision === undefined || decision.status === INBOX_STATUSES.expired;
    } catch (error) {
      throw this.unavailable('withdraw an expired row', error);
    }
  }

  async close(): Promise<void> {
    await this.options.dialect.close();
  }

  private ensureTable(): Promise<void> {
    if (!this.options.createTable) return Promise.resolve();
    this.tableReady ??= this.options.dialect.createTable().catch((error: unknown) => {
      this.tableReady = undefined; // try again at the next delivery
      throw error;
    });
    return this.tableReady;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private failed(error: unknown): SinkOutcome {
    const dialect = this.options.dialect;
    const problem = dialect.setupProblem(error);
    if (problem !== undefined) {
      const setup = new SinkSetupError('inbox', `the inbox at ${dialect.where}: ${problem}`, { cause: error });
      this.options.log.error({ sink: 'inbox', code: setup.code, err: setup.message }, 'the inbox table cannot be written');
      return { kind: 'retryable', code: setup.code, reason: setup.message, sinkDown: true };
    }
    const code = errnoOf(error, 'database-error');
    if (isUnreachable(error) || isConnectionLoss(error)) return sinkDownOutcome(`the inbox database at ${dialect.where}`, error);
    return { kind: 'retryable', code, reason: `the inbox insert failed: ${(error as Error).message}`, sinkDown: false };
  }

  private unavailable(what: string, error: unknown): Error {
    const where = this.options.dialect.where;
    const problem = this.options.dialect.setupProblem(error);
    if (problem !== undefined) return new SinkSetupError('inbox', `cannot ${what} at ${where}: ${problem}`, { cause: error });
    return new SinkUnavailableError('inbox', `cannot ${what} at ${where}: ${(error as Error).message}`, { cause: error });
  }
}

/** applied → accepted, rejected → refused; any other status is undecided. */
export function decisionOutcome(decision: InboxDecision): SinkOutcome | undefined {
  if (decision.status === INBOX_STATUSES.applied) {
    const reference = decision.hisReference ?? '';
    return reference === '' ? { kind: 'accepted', code: 'applied' } : { kind: 'accepted', code: 'applied', reference };
  }
  if (decision.status === INBOX_STATUSES.rejected) {
    const reason = (decision.statusReason ?? '').trim();
    return { kind: 'refused', code: 'rejected', reason: reason === '' ? 'rejected by the HIS without a reason' : reason.slice(0, 500) };
  }
  return undefined;
}

function bodyText(delivery: SinkDelivery): string {
  if (delivery.contentType !== 'hl7v2') return delivery.body.toString('utf8');
  try {
    return decodeHl7(delivery.body).text;
  } catch {
    return delivery.body.toString('utf8');
  }
}

/** Drivers that report a lost connection by message only (pg's "Connection terminated…"). */
function isConnectionLoss(error: unknown): boolean {
  const message = (error as Error | undefined)?.message ?? '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Pool is closed|Connection lost|closed state/i.test(message) || errnoOf(error, '') === '57P01' || errnoOf(error, '') === 'PROTOCOL_CONNECTION_LOST';
}
