// `wardline agent purge --feed F [--reason R] [--yes] [--receipt-out FILE]`: the
// hospital's purge of one feed at the relay. Asks the running agent
// (POST /v1/admin/feeds/{feed}/purge), which records 'purge' in the egress
// ledger, stops the feed for good and sends the request to the relay; the relay
// deletes every event, blob chunk, position and tree head of the feed, erases the
// bytes from its files and answers with a receipt signed by its key, which the
// agent records as 'purged'. The receipt and its signature are printed (and
// written to FILE and FILE.minisig), with how to check them with minisign.
// Exits 0 with the receipt, 1 while the relay has not answered, 2 when refused.
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { confirmByTyping } from './confirm-prompt.js';
import { postFeedAction } from './feed-action-request.js';

export interface AgentPurgeCommandOptions {
  /** The agent's HTTP address. */
  url: string;
  feed: string;
  reason?: string;
  /** Skip the confirmation (scripts); without it and without a terminal, the command refuses. */
  yes?: boolean;
  /** Also write the receipt here and its signature to `${receiptOut}.minisig`. */
  receiptOut?: string;
  json?: boolean;
  token?: string;
  /** How long to wait for the agent's answer, in ms; default 120 000 (the relay erases before it answers). */
  timeoutMs?: number;
}

export const PURGE_WARNING = (feed: string) =>
  `This purges feed ${feed} at the relay: every event, imaging chunk, position and proof of it is deleted there and overwritten, ` +
  'and the feed stops for good here (nothing of it is sent again). It cannot be undone. ' +
  'The local copy in this hospital is not touched. Copies vendors already took are outside the relay\'s reach.';

export async function agentPurgeCommand(options: AgentPurgeCommandOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (!options.yes && !(await confirmByTyping(PURGE_WARNING(options.feed), options.feed))) {
    process.stderr.write(`${PURGE_WARNING(options.feed)}\nnot confirmed: nothing was purged (type the feed name at the prompt, or pass --yes)\n`);
    return 2;
  }
  const body = JSON.stringify({ ...(options.reason === undefined ? {} : { reason: options.reason }), requestedBy: `cli, ${userInfo().username}` });
  const answer = await postFeedAction({ ...options, timeoutMs: options.timeoutMs ?? 120_000 }, 'purge', body);
  if ('exitCode' in answer) return answer.exitCode;
  const { result } = answer;
  if (options.json) write(`${JSON.stringify(result, null, 2)}\n`);
  else write(`${result.message}\n`);
  const details = result.relayAnswer?.details;
  if (answer.status === 202 || !details) return 1;
  if (details.error) return 2;
  const receipt = String(details.receipt);
  const signature = String(details.receiptSignature);
  if (options.receiptOut) {
    writeFileSync(options.receiptOut, receipt);
    writeFileSync(`${options.receiptOut}.minisig`, signature);
  }
  if (!options.json) {
    write(`\n${receipt}\n${signature}\n`);
    write(`kept in the egress ledger: 'purge' record ${result.ledgerIndex}, 'purged' record ${result.relayAnswer!.ledgerIndex} (wardline audit export prints it)\n`);
    const file = options.receiptOut ?? 'receipt.json';
    write(
      options.receiptOut
        ? `written to ${file} and ${file}.minisig; check it: minisign -Vm ${file} -p relay-signing.pub (the relay's public key, from its operator or an export)\n`
        : `to check it: save the receipt as ${file} and the signature as ${file}.minisig (or pass --receipt-out), then: minisign -Vm ${file} -p relay-signing.pub\n`,
    );
  }
  return 0;
}
