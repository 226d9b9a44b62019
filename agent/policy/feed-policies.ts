// Builds every feed's policy at start, for the composition root: reads the
// hospital-held keys (the only I/O here), compiles each feed's policy with them,
// and says in the log what shapes each feed. A policy that cannot be applied
// becomes a ConfigError naming the config file, like any other bad config.
import type { SecretFilePermissions } from '../../runtime/index.js';
import { ConfigError } from '../../runtime/index.js';
import { PolicyKeyError } from './errors.js';
import { compileFeedPolicy, type FeedPolicy } from './feed-policy.js';
import { loadKeyring } from './keyring.js';
import type { KeysConfig, PolicyFeedConfig } from './policy-config.js';

export interface FeedPoliciesConfig {
  /** The config file, for error messages. */
  file: string;
  feeds: readonly PolicyFeedConfig[];
  /** `keys`, with `dir` resolved; absent when the config has none. */
  keys?: KeysConfig;
  /** A key file others can read: refused (default) or used with a warning. */
  secretFilePermissions?: SecretFilePermissions;
}

export interface FeedPoliciesLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Each feed's compiled policy by feed name; undefined for a feed without one.
 * @throws ConfigError when a policy needs a key the keyring lacks, or a key file is unusable.
 */
export function compileFeedPolicies(config: FeedPoliciesConfig, log: FeedPoliciesLog, nowMs = Date.now()): Map<string, FeedPolicy | undefined> {
  try {
    const keyring = config.keys ? loadKeyring(config.keys.dir, { retainRetiredMs: config.keys.retainRetired, nowMs, secretFilePermissions: config.secretFilePermissions }) : undefined;
    for (const warning of keyring?.warnings ?? []) log.warn({ keysDir: config.keys?.dir }, warning);
    const policies = new Map<string, FeedPolicy | undefined>();
    for (const [i, feed] of config.feeds.entries()) {
      let policy: FeedPolicy | undefined;
      try {
        policy = compileFeedPolicy(feed, keyring?.active ?? {});
      } catch (error) {
        if (error instanceof PolicyKeyError) throw new PolicyKeyError(`feeds[${i}].policy: ${error.message}`, error.code, { cause: error });
        throw error;
      }
      policies.set(feed.name, policy);
      if (policy) {
        log.info(
          { feed: feed.name, policyVersion: policy.version, pseudonymKey: policy.keys.pseudonym?.id ?? null, encryptionKey: policy.keys.encryption?.id ?? null, scan: policy.scan },
          'feed policy in force',
        );
      } else {
        log.warn({ feed: feed.name, streams: feed.streams }, 'feed has no policy: its events leave exactly as journaled');
      }
    }
    return policies;
  } catch (error) {
    if (!(error instanceof PolicyKeyError)) throw error;
    // A keyring problem names keys.dir; a policy problem already names its feed.
    const problem = `${error.message.startsWith('feeds[') ? '' : 'keys.dir: '}${error.message} [${error.code}] (${config.file})`;
    throw new ConfigError(`invalid config:\n  ${problem}`, config.file, [problem], { cause: error });
  }
}
