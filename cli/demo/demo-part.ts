// One part of `wardline demo` in its own process: `node demo-part.js relay <config>`,
// `agent <config>`, `hospital <options JSON>`, `his <options JSON>` (the HIS the
// downlink delivers into) or `internet-hospital <options JSON>` (the vendor app
// that writes bookings at the relay). Separate processes so that a
// newcomer can watch one part lose another (a cut line, a killed agent) as in a
// hospital. It reports its ports (or why it could not start) to the demo over IPC,
// stops cleanly on SIGTERM/SIGINT, and stops by itself when the demo is gone (the
// IPC channel closes), so a demo killed with SIGKILL leaves no part behind.
import { startAgent } from '../../agent/index.js';
import { startRelay } from '../../cloud-relay/index.js';
import { InternetHospital, MllpHis, SimulatedHospital } from '../../simulator/index.js';
import { runUntilSignal } from '../run-until-signal.js';
import { portInUse, type DemoHisArgs, type DemoHospitalArgs, type DemoInternetHospitalArgs, type DemoPartMessage } from './demo-part-message.js';

/** How often the simulated hospital reports its counters to the demo, in ms. */
const STATS_INTERVAL_MS = 1000;

/** Resolves once the message is handed to the IPC channel (so a part that then exits does not lose it). */
function tell(message: DemoPartMessage): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(message, undefined, {}, () => resolve()) : resolve()));
}

async function start(part: string, arg: string): Promise<() => Promise<void>> {
  if (part === 'relay') {
    const relay = await startRelay(arg);
    void tell({ kind: 'ready', ports: { grpc: relay.grpcPort, http: relay.httpPort } });
    return () => relay.stop();
  }
  if (part === 'agent') {
    const agent = await startAgent(arg);
    void tell({ kind: 'ready', ports: { http: agent.httpPort, mllp: agent.mllpPorts.get('his-lis') ?? 0 } });
    return () => agent.stop();
  }
  if (part === 'hospital') {
    const hospital = new SimulatedHospital({ ...(JSON.parse(arg) as DemoHospitalArgs), startTime: new Date() });
    hospital.start();
    const ticker = setInterval(() => void tell({ kind: 'stats', stats: hospital.stats() }), STATS_INTERVAL_MS);
    void tell({ kind: 'ready', ports: {} });
    return async () => {
      clearInterval(ticker);
      await hospital.stop();
    };
  }
  if (part === 'his') {
    const args = JSON.parse(arg) as DemoHisArgs;
    const his = new MllpHis({ host: '127.0.0.1', port: args.port, refuseFraction: args.refuseFraction, seed: args.seed });
    await his.start();
    const ticker = setInterval(() => void tell({ kind: 'his-stats', stats: his.stats() }), STATS_INTERVAL_MS);
    void tell({ kind: 'ready', ports: { mllp: his.port } });
    return async () => {
      clearInterval(ticker);
      await his.stop();
    };
  }
  if (part === 'internet-hospital') {
    const app = new InternetHospital({ ...(JSON.parse(arg) as DemoInternetHospitalArgs), startTime: new Date() });
    app.start();
    const ticker = setInterval(() => void tell({ kind: 'app-stats', stats: app.stats() }), STATS_INTERVAL_MS);
    void tell({ kind: 'ready', ports: {} });
    return async () => {
      clearInterval(ticker);
      await app.stop();
    };
  }
  throw new Error(`unknown demo part "${part}" (relay, agent, hospital, his or internet-hospital)`);
}

const [part = '', arg = ''] = process.argv.slice(2);
try {
  const stop = await start(part, arg);
  let stopping: Promise<void> | undefined;
  const stopOnce = (): Promise<void> => (stopping ??= stop());
  process.once('disconnect', () => {
    void stopOnce().finally(() => process.exit(0));
  });
  await runUntilSignal(stopOnce);
  process.disconnect?.();
} catch (error) {
  const port = portInUse(error);
  await tell({ kind: 'failed', message: (error as Error).message, ...(port === undefined ? {} : { portInUse: port }) });
  process.stderr.write(`wardline demo ${part}: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
  process.disconnect?.();
}
