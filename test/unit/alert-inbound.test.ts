// The inbound-quarantine alert: raised at once when a channel has a quarantined
// event, once, resolved after settleAfter without one; it names ids, never a
// reason (which may carry the hospital system's words about the patient).
import { describe, expect, it } from 'vitest';
import { AlertEvaluator, AlertsConfigSchema, alertMessage, type AlertInputs } from '../../agent/operations/alerts/index.js';

const T0 = Date.parse('2026-11-21T08:00:00Z');
const config = AlertsConfigSchema.parse({ settleAfter: '60s' });

function inputs(quarantined: number): AlertInputs {
  return {
    links: [],
    disk: null,
    sources: [],
    feeds: [],
    downlink: {
      channels: [{ channel: 'bookings', quarantined }, { channel: 'payments', quarantined: 0 }],
      quarantined: Array.from({ length: quarantined }, (_, i) => ({ id: `ibaaaaaaaaaaaaaaaaa${i}`, channel: 'bookings', sinceMs: T0 + i })),
    },
  };
}

describe('inbound-quarantine alert', () => {
  it('fires at once and once, resolves after settleAfter', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const seen = [0, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0].flatMap((q, i) => evaluator.evaluate(inputs(q), T0 + i * 10_000));
    expect(seen.map((a) => `${a.rule}:${a.subject} ${a.state} ${a.severity}`)).toEqual(['inbound-quarantine:bookings firing warning', 'inbound-quarantine:bookings resolved info']);
    expect(seen[0]!.details).toEqual({ quarantined: 1, oldestId: 'ibaaaaaaaaaaaaaaaaa0', oldestSinceMs: T0 });
    expect(seen[0]!.message).toContain('1 event(s) quarantined (oldest ibaaaaaaaaaaaaaaaaa0)');
    expect(alertMessage({ rule: 'inbound-quarantine', subject: 'bookings', level: 1, previousLevel: 0, value: 2, threshold: 0, details: { quarantined: 2, oldestId: 'ibx' } }, 'zh')).toContain('2 个事件被隔离');
  });
});
