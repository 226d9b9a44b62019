// The feed control table, every pair of state and event: what each move gives,
// that every other move is refused with a clear error, and that a state read
// from agent.db that this agent does not know stops it loudly.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EgressLedger } from '../../agent/audit/index.js';
import {
  FEED_CONTROL_EVENTS,
  FEED_CONTROL_STATES,
  FeedControl,
  IllegalFeedControlTransitionError,
  UnknownFeedControlStateError,
  feedControlAllows,
  transitionFeedControl,
  type FeedControlEvent,
  type FeedControlState,
} from '../../agent/control/index.js';
import { openAgentDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

/** The whole table as a reader would write it: state -> event -> next state, '-' for refused. */
const EXPECTED: Record<FeedControlState, Record<FeedControlEvent, FeedControlState | '-'>> = {
  active: { pause: 'paused', resume: 'active', revoke: 'revoking', reenable: '-', 'relay-revoked': 'active', 'relay-reinstated': 'active', purge: 'revoking', 'relay-purged': 'active' },
  paused: { pause: 'paused', resume: 'active', revoke: 'revoking', reenable: '-', 'relay-revoked': 'paused', 'relay-reinstated': 'paused', purge: 'revoking', 'relay-purged': 'paused' },
  revoking: { pause: '-', resume: '-', revoke: 'revoking', reenable: 'reinstating', 'relay-revoked': 'revoked', 'relay-reinstated': 'revoking', purge: 'revoking', 'relay-purged': 'revoked' },
  revoked: { pause: '-', resume: '-', revoke: 'revoking', reenable: 'reinstating', 'relay-revoked': 'revoked', 'relay-reinstated': 'revoked', purge: 'revoking', 'relay-purged': 'revoked' },
  reinstating: { pause: '-', resume: '-', revoke: 'revoking', reenable: 'reinstating', 'relay-revoked': 'reinstating', 'relay-reinstated': 'active', purge: 'revoking', 'relay-purged': 'reinstating' },
};

describe('feed control transitions', () => {
  for (const from of FEED_CONTROL_STATES) {
    for (const event of FEED_CONTROL_EVENTS) {
      const expected = EXPECTED[from][event];
      it(`${from} --${event}--> ${expected === '-' ? 'refused' : expected}`, () => {
        if (expected === '-') {
          expect(feedControlAllows(from, event)).toBe(false);
          expect(() => transitionFeedControl(from, event)).toThrow(IllegalFeedControlTransitionError);
          expect(() => transitionFeedControl(from, event)).toThrow(`feed control: ${event} is not allowed in state ${from}`);
        } else {
          expect(feedControlAllows(from, event)).toBe(true);
          expect(transitionFeedControl(from, event)).toBe(expected);
        }
      });
    }
  }

  it('while the relay holds the feed as revoked, re-enable is allowed from active and paused too; nothing else changes', () => {
    for (const from of FEED_CONTROL_STATES) {
      for (const event of FEED_CONTROL_EVENTS) {
        const expected = event === 'reenable' && (from === 'active' || from === 'paused') ? 'reinstating' : EXPECTED[from][event];
        if (expected === '-') expect(() => transitionFeedControl(from, event, true)).toThrow(IllegalFeedControlTransitionError);
        else expect(transitionFeedControl(from, event, true)).toBe(expected);
      }
    }
  });

  it('the relay\'s answers are never refused: they are recorded whatever the state', () => {
    for (const from of FEED_CONTROL_STATES) {
      expect(feedControlAllows(from, 'relay-revoked')).toBe(true);
      expect(feedControlAllows(from, 'relay-reinstated')).toBe(true);
    }
  });

  it('stops with a coded error naming the feed and the stored word when agent.db holds an unknown state', () => {
    const dir = makeTempDir();
    const db = openAgentDatabase(join(dir.path, 'agent.db'));
    try {
      db.prepare("INSERT INTO feed_controls (feed, state, reason, updated_at_ms) VALUES ('clinical', 'frozen', NULL, 1)").run();
      const build = () => new FeedControl({ db, ledger: new EgressLedger(db), feeds: [{ name: 'clinical', relay: 'cloud', policyVersion: 0 }], log: { info() {}, warn() {}, error() {} } });
      expect(build).toThrow(UnknownFeedControlStateError);
      expect(build).toThrow(/^agent\.db holds feed control state "frozen" for feed clinical/);
      try {
        build();
      } catch (error) {
        expect(error).toMatchObject({ name: 'UnknownFeedControlStateError', code: 'WL_A021', feed: 'clinical', stored: 'frozen' });
      }
    } finally {
      db.close();
      dir.remove();
    }
  });
});
