// A relay as a bare child process: `node dist/test/support/relay-child.js <relay.yaml>`
// starts it from the config and runs until killed. Lighter than the CLI (which loads
// every subcommand's modules), so a test that SIGKILLs a relay many times spends its
// time on the relay, not on start-up; prints "ready" on stderr once it listens.
import { startRelay } from '../../cloud-relay/index.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: relay-child <relay.yaml>\n');
  process.exit(2);
}
const relay = await startRelay(file);
process.stderr.write(`ready grpc=${relay.grpcPort} http=${relay.httpPort}\n`);
process.once('SIGTERM', () => void relay.stop().then(() => process.exit(0)));
