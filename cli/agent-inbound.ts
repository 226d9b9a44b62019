// `wardline agent inbound list|pause|resume|replay|refuse`: the operator's view and
// controls of inbound channels on a running agent (GET /v1/inbound, POST
// /v1/inbound/{channel}/pause|resume, /v1/inbound/events/{id}/replay|refuse). Each
// action goes into the agent's egress ledger with the operator (this login's name,
// or --operator). Exits 0 when done, 2 when the agent is unreachable or refused.
import { userInfo } from 'node:os';
import type { InboundStatusView } from '../agent/index.js';
import { adminActionHeaders, adminHeaders, LOGIN_REQUIRED_HINT } from './admin-token.js';

export type InboundAction = 'pause' | 'resume' | 'replay' | 'refuse';

export interface AgentInboundOptions {
  /** The agent's HTTP address, e.g. http://127.0.0.1:8480. */
  url: string;
  /** The agent's http.admin token; default WARDLINE_ADMIN_TOKEN. */
  token?: string;
  json?: boolean;
  /** How long to wait for the agent's answer, in ms; default 30 000. */
  timeoutMs?: number;
}

export interface AgentInboundActionOptions extends AgentInboundOptions {
  /** The channel (pause, resume) or the event id (replay, refuse). */
  subject: string;
  reason?: string;
  operator?: string;
}

type Write = (text: string) => void;
const stdout: Write = (t) => process.stdout.write(t);

export async function agentInboundList(options: AgentInboundOptions, write: Write = stdout): Promise<number> {
  const answer = await request(options, '/v1/inbound', async () => ({ method: 'GET', headers: adminHeaders(options.token) }), 'list the inbound channels');
  if ('exitCode' in answer) return answer.exitCode;
  const view = answer.body as InboundStatusView;
  if (options.json) {
    write(`${JSON.stringify(view, null, 2)}\n`);
    return 0;
  }
  if (view.channels.length === 0) write('no inbound channels are configured (inbound: in agent.yaml)\n');
  for (const c of view.channels) {
    const sink = c.sinkState.state === 'down' ? `down since ${new Date(c.sinkState.sinceMs).toISOString()}` : c.sinkState.state;
    const atRelay = c.atRelay ? `${c.atRelay.waiting} waiting at the relay (as reported ${new Date(c.atRelay.reportedAtMs).toISOString()})` : 'relay has not reported';
    write(`${c.channel}  relay ${c.relay}  ${c.sinkKind} sink ${sink}${c.paused ? '  PAUSED' : ''}\n`);
    write(`  received ${c.received}, accepted ${c.accepted}, refused ${c.refused}, expired ${c.expired}; pending ${c.pending}, retrying ${c.retrying}, awaiting ${c.awaiting}, quarantined ${c.quarantined}; ${atRelay}\n`);
    if (c.problem) write(`  problem: ${c.problem}\n`);
  }
  if (view.quarantined.length > 0) {
    write('quarantined (replay after a fix, or refuse with a reason):\n');
    for (const q of view.quarantined) write(`  ${q.id}  ${q.channel}  ${q.attempts} attempt(s)  since ${new Date(q.sinceMs).toISOString()}  ${q.reason}\n`);
  }
  return 0;
}

export async function agentInboundAction(action: InboundAction, options: AgentInboundActionOptions, write: Write = stdout): Promise<number> {
  const path =
    action === 'pause' || action === 'resume'
      ? `/v1/inbound/${encodeURIComponent(options.subject)}/${action}`
      : `/v1/inbound/events/${encodeURIComponent(options.subject)}/${action}`;
  const body = JSON.stringify({ ...(options.reason === undefined ? {} : { reason: options.reason }), operator: options.operator ?? userInfo().username });
  const answer = await request(options, path, async () => ({ method: 'POST', headers: await adminActionHeaders(options.url, options.token), body }), `${action} ${options.subject}`);
  if ('exitCode' in answer) return answer.exitCode;
  if (options.json) write(`${JSON.stringify(answer.body, null, 2)}\n`);
  else write(`${action}: done (${JSON.stringify(answer.body)})\n`);
  return 0;
}

/** `init` is made inside the same try as the request: an action's headers fetch the agent's CSRF token, which fails the same way when the agent is unreachable. */
async function request(options: AgentInboundOptions, path: string, init: () => Promise<RequestInit>, what: string): Promise<{ body: unknown } | { exitCode: 2 }> {
  let response: Response;
  try {
    response = await fetch(new URL(path, options.url), { ...(await init()), signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
  } catch (error) {
    process.stderr.write(`cannot reach the agent at ${options.url}: ${(error as Error).message}\n`);
    return { exitCode: 2 };
  }
  const text = await response.text();
  if (response.status === 401) {
    process.stderr.write(`the agent at ${options.url} refused to ${what}: ${LOGIN_REQUIRED_HINT}\n`);
    return { exitCode: 2 };
  }
  if (response.status !== 200) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not our JSON error: print it as it came
    }
    process.stderr.write(`the agent refused to ${what}: HTTP ${response.status}: ${message}\n`);
    return { exitCode: 2 };
  }
  return { body: JSON.parse(text) as unknown };
}
