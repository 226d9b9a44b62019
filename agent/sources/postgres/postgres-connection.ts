// How a PostgreSQL source connects: the pg client options from the config
// (TimeZone UTC and ISO dates so the stream and the snapshot print values alike;
// the snapshot reads every value as text, TEXT_TYPES), and which connection errors are the DBA's to
// fix (wrong password, unknown role or database: CaptureSetupError) rather than
// an outage to retry.
import pg from 'pg';
import { CaptureSetupError, type DatabaseConnectionConfig } from '../database/index.js';

/** Keep every value as the server's text; postgres-value.ts maps it (the snapshot's queries pass this). */
export const TEXT_TYPES = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

export function clientConfig(connection: DatabaseConnectionConfig, password: string | undefined): pg.ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password,
    connectionTimeoutMillis: connection.connectTimeout * 1000,
    options: '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3',
    application_name: 'wardline',
    keepAlive: true,
  };
}

/** Connects an ordinary client, turning the DBA's problems into a CaptureSetupError. */
export async function connectClient(source: string, connection: DatabaseConnectionConfig, password: string | undefined): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(connection, password));
  client.on('error', () => {}); // a dropped connection rejects the pending query; the session handles that
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw setupErrorOf(source, connection, error) ?? error;
  }
  return client;
}

/** The CaptureSetupError a server error means, or undefined when it is an outage (retry). */
export function setupErrorOf(source: string, connection: DatabaseConnectionConfig, error: unknown): CaptureSetupError | undefined {
  const code = (error as { code?: string }).code;
  const at = `${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
  switch (code) {
    case '28P01':
      return new CaptureSetupError(source, `password authentication failed for ${at}: check connection.passwordFile (and the role's password: ALTER ROLE ${connection.user} PASSWORD '…')`, { cause: error });
    case '28000':
      return new CaptureSetupError(
        source,
        `the server refused ${at} (${(error as Error).message}): create the role (CREATE ROLE ${connection.user} LOGIN REPLICATION PASSWORD '…') and allow it in pg_hba.conf, for replication connections too`,
        { cause: error },
      );
    case '3D000':
      return new CaptureSetupError(source, `database ${connection.database} does not exist on ${connection.host}:${connection.port}: fix connection.database`, { cause: error });
    case '42501':
      if (/replication role/.test((error as Error).message)) {
        return new CaptureSetupError(source, `role ${connection.user} may not replicate: run ALTER ROLE "${connection.user}" REPLICATION;`, { cause: error });
      }
      return new CaptureSetupError(source, `permission denied for ${at}: ${(error as Error).message}; grant it (e.g. GRANT SELECT ON the captured tables TO ${connection.user})`, { cause: error });
    default:
      return undefined;
  }
}
