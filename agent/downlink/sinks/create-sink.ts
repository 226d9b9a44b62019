// The one place a sink kind is chosen: a channel's `sink:` config, and the
// secrets loadSinkSecrets read for it, become its InboundSink.
import { SinkSetupError } from './errors.js';
import { Hl7MessageBuilder } from './hl7-message-builder.js';
import { mysqlInboxDialect } from './inbox-dialect-mysql.js';
import { postgresInboxDialect } from './inbox-dialect-postgres.js';
import { InboxSink } from './inbox-sink.js';
import type { InboundSink } from './inbound-sink.js';
import { MllpSink } from './mllp-sink.js';
import type { SinkConfig } from './sink-config.js';
import type { SinkLogger } from './sink-logger.js';
import type { SinkSecrets } from './sink-secrets.js';
import { WebhookSink } from './webhook-sink.js';

export interface SinkDeps {
  /** MSH-4 of the messages an MLLP sink builds. */
  hospitalId: string;
  log: SinkLogger;
  /** From loadSinkSecrets; a webhook sink needs its secret. */
  secrets?: SinkSecrets;
  /** The clock of MSH-7, webhook-timestamp and the inbox's delivered_at; default the system's. */
  now?: () => Date;
}

/**
 * Builds a channel's sink. Opens nothing: connections are made at the first delivery.
 * @throws SinkSetupError when a webhook sink is given no secret.
 */
export function createSink(config: SinkConfig, deps: SinkDeps): InboundSink {
  const secrets = deps.secrets ?? {};
  const now = deps.now;
  switch (config.kind) {
    case 'mllp':
      return new MllpSink({
        address: config.address,
        connections: config.connections,
        ackTimeoutMs: config.ackTimeoutMs,
        connectTimeoutMs: config.connectTimeoutMs,
        tls: config.tls === undefined ? undefined : { ca: secrets.caPem, serverName: config.tls.serverName },
        builder: Hl7MessageBuilder.fromConfig(config, deps.hospitalId),
        log: deps.log,
        ...(now === undefined ? {} : { now }),
      });
    case 'webhook':
      if (secrets.webhookSecret === undefined) throw new SinkSetupError('webhook', 'the webhook sink has no secret: load it with loadSinkSecrets (sink.secretFile)');
      return new WebhookSink({
        url: new URL(config.url),
        secret: secrets.webhookSecret,
        timeoutMs: config.timeoutMs,
        ca: secrets.caPem,
        serverName: config.tls?.serverName,
        log: deps.log,
        ...(now === undefined ? {} : { now }),
      });
    case 'inbox': {
      const dialect = (config.dialect === 'postgres' ? postgresInboxDialect : mysqlInboxDialect)(config.connection, secrets.databasePassword, config.table, config.columns);
      return new InboxSink({ dialect, createTable: config.createTable, log: deps.log, ...(now === undefined ? {} : { now }) });
    }
  }
}
