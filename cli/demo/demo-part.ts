// One part of `wardline demo` in its own process: `node demo-part.js relay <config>`,
// `agent <config>` or `hospital <options JSON>`. Separate processes so that a
// newcomer can watch one part lose another (a cut line, a killed agent) as in a
// hospital. It reports its ports (or why it could not start) to the demo over IPC,
// stops cleanly on SIGTERM/SIGINT, and stops by itself when the demo is gone (the
// IPC channel closes), so a demo killed with SIGKILL leaves no part behind.
import { startAgent } from '../../agent/index.js';
import { startRelay } from '../../cloud-relay/index.js';
import { SimulatedHospital } from '../../simulator/index.js';
import { runUntilSignal } from '../run-until-signal.js';
import { portInUse, type DemoHospitalArgs, type DemoPartMessage } from './demo-part-message.js';

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
  throw new Error(`unknown demo part "${part}" (relay, agent or hospital)`);
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
