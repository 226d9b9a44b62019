/**
 * The logging a sink needs; a pino logger fits. Sinks log connections and their
 * failures (address, id, code), never an event's key or body: they are patient data.
 */
export interface SinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
