// Sends each alert to the hospital's syslog collector as an RFC 5424 message
// over UDP (RFC 5426): fire and forget, as syslog over UDP always is — the
// alert is kept in agent.db whatever happens to the datagram.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import { formatSyslogMessage, type SyslogHeader } from './syslog-format.js';

export interface SyslogSinkOptions {
  host: string;
  port: number;
  header: SyslogHeader;
}

export class SyslogSink implements AlertSink {
  readonly name = 'syslog';
  private readonly socket: Socket;

  constructor(private readonly options: SyslogSinkOptions) {
    this.socket = createSocket(isIPv6(options.host) ? 'udp6' : 'udp4');
    // An unreachable collector answers with ICMP errors on some systems; they
    // belong to the send that caused them, not to the process.
    this.socket.on('error', () => undefined);
    this.socket.unref();
  }

  deliver(alert: AlertRecord): Promise<void> {
    const message = formatSyslogMessage(alert, this.options.header);
    return new Promise((resolve, reject) => {
      this.socket.send(message, this.options.port, this.options.host, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}
