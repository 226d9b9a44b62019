// What makes `wardline agent status` fail as a monitoring check: a link that is
// not streaming, or a feed whose lag is above its threshold (alerts.lag, shown
// in the status as lagThresholdSeconds). Pure, so the rule has its own tests.
import { feedLagExceeded, type AgentStatus } from '../agent/index.js';

export interface StatusProblem {
  kind: 'link' | 'lag';
  /** The relay or the feed. */
  subject: string;
  message: string;
}

export function statusProblems(status: Pick<AgentStatus, 'links' | 'feeds'>): StatusProblem[] {
  const problems: StatusProblem[] = [];
  for (const link of status.links) {
    if (link.state !== 'streaming') {
      problems.push({ kind: 'link', subject: link.relay, message: `link to ${link.relay} is ${link.state}${link.lastError ? ` (${link.lastError})` : ''}` });
    }
  }
  for (const feed of status.feeds) {
    // An agent older than the threshold field reports none: only the link counts then.
    const threshold = feed.lagThresholdSeconds ?? null;
    if (feedLagExceeded(feed, threshold)) {
      problems.push({ kind: 'lag', subject: feed.feed, message: `feed ${feed.feed} lags ${feed.lagSeconds.toFixed(1)} s, above its threshold of ${threshold} s` });
    }
  }
  return problems;
}
