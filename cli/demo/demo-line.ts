// The line between the demo's agent and its relay: a TCP fault proxy the demo cuts
// and restores (a key, or --cut-line-at / --restore-line-at), saying each time what
// to look at on the dashboard. A cut refuses and resets every connection, as when
// the far end of the leased line is unreachable: the agent notices at once, keeps
// accepting HL7 into its journal, and retries with backoff.
import { FaultProxy } from '../../simulator/index.js';

export class DemoLine {
  private cut = false;

  private constructor(private readonly proxy: FaultProxy, private readonly dashboardUrl: () => string, private readonly say: (line: string) => void) {}

  /** Listens on a free port on 127.0.0.1 and forwards to the relay's gRPC port. */
  static async start(relayGrpcPort: number, dashboardUrl: () => string, say: (line: string) => void): Promise<DemoLine> {
    return new DemoLine(await FaultProxy.start({ target: { host: '127.0.0.1', port: relayGrpcPort } }), dashboardUrl, say);
  }

  /** The port the agent dials. */
  get port(): number {
    return this.proxy.port;
  }

  get isCut(): boolean {
    return this.cut;
  }

  cutLine(): void {
    if (this.cut) return this.say('The line is already cut: press r to restore it.');
    this.cut = true;
    this.proxy.refuse();
    this.say('');
    this.say(`[${clock()}] LINE CUT between the agent and the relay.`);
    this.say(`  On the dashboard (${this.dashboardUrl()}): the link turns red and says since when it is down;`);
    this.say('  HL7 is still accepted (AA) into the local journal, and the backlog of each feed grows.');
    this.say('  The agent retries with backoff; the vendor stops receiving new events.');
  }

  async restoreLine(): Promise<void> {
    if (!this.cut) return this.say('The line is not cut: press c to cut it.');
    this.cut = false;
    await this.proxy.heal();
    this.say('');
    this.say(`[${clock()}] LINE RESTORED.`);
    this.say(`  On the dashboard (${this.dashboardUrl()}): the agent reconnects at its next retry (a few seconds),`);
    this.say('  shows amber "catching up" while the backlog drains, then green once every feed is current.');
    this.say('  Nothing is lost or duplicated: the vendor receives the backlog in order.');
  }

  stop(): Promise<void> {
    return this.proxy.stop();
  }
}

function clock(): string {
  return new Date().toLocaleTimeString();
}
