// The dashboard's card of an imaging feed, from sample ImagingFeedView values of
// every state (agent/operations/dashboard/client/imaging-view.js): what it says
// in English and Chinese (studies, bytes waiting, chunks/s, the ETA or when the
// timetable opens, bytes deduplication saved, the instance in flight, why nothing
// moves), how it is coloured, and that a status the page can no longer confirm
// is shown as "last known", never as now.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { FeedStatus } from '../../agent/operations/agent-status.js';
import { imagingFeed, MiB } from '../support/imaging-status.js';

type View = { state: string; level: string; stateText: string; studies: string; instances: string; bytesWaiting: string; chunksPerSecond: string; chunksSent: string; eta: string; deduped: string; current: string; problem: string };
let imagingView: (feed: FeedStatus, linkDown: boolean, nowMs: number, reach?: { unreachableSinceMs: number } | null) => View;
let isImagingFeed: (feed: object) => boolean;
let setLanguage: (lang: string) => void;

const NOW = Date.parse('2026-11-21T08:00:00Z');

beforeAll(async () => {
  vi.stubGlobal('location', { search: '?lang=en' });
  vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => undefined });
  vi.stubGlobal('navigator', { language: 'en' });
  vi.stubGlobal('document', { documentElement: {} });
  ({ imagingView, isImagingFeed } = await import('../../agent/operations/dashboard/client/imaging-view.js'));
  ({ setLanguage } = await import('../../agent/operations/dashboard/client/i18n.js'));
  setLanguage('en');
});

describe('the imaging card', () => {
  it('shows what is waiting, the rate, the ETA and what deduplication saved while sending', () => {
    const v = imagingView(imagingFeed(), false, NOW);
    expect(v.state).toBe('sending');
    expect(v.level).toBe('busy');
    expect(v.stateText).toBe('Sending');
    expect(v.studies).toBe('2');
    expect(v.instances).toBe('412 instances');
    expect(v.bytesWaiting).toBe('1.6 GiB');
    expect(v.chunksPerSecond).toBe('1.5');
    expect(v.chunksSent).toBe('96 chunks sent (384.0 MiB)');
    expect(v.eta).toBe('18 min');
    expect(v.deduped).toBe('120.0 MiB');
    expect(v.current).toBe('1.2.826.0.1.3680043.8.498.7 · chunk 3 of 8');
    expect(v.problem).toBe('');
  });

  it('is green and says the cloud copy is complete when nothing waits', () => {
    const v = imagingView(imagingFeed({}, { studiesWaiting: 0, instancesWaiting: 0, bytesWaiting: 0, etaSeconds: 0, current: null }), false, NOW);
    expect([v.state, v.level, v.stateText, v.eta, v.current]).toEqual(['caughtUp', 'ok', 'Cloud copy complete', 'caught up', 'nothing']);
  });

  it('names the time the timetable lets the class send, and the drain time after it', () => {
    const opensAt = { atMs: NOW + 12 * 3600_000, time: '20:00', dayOffset: 0, windows: ['20:00-06:00 bulk unlimited'] };
    const v = imagingView(imagingFeed({}, { opensAt, etaSeconds: 13 * 3600 }), false, NOW);
    expect([v.state, v.level, v.stateText]).toEqual(['held', 'busy', 'Held by the timetable']);
    expect(v.eta).toBe('opens at 20:00, then 13.0 h');
    const tomorrow = imagingView(imagingFeed({}, { opensAt: { ...opensAt, dayOffset: 1 }, etaSeconds: null }), false, NOW);
    expect(tomorrow.eta).toBe('opens at 20:00 (+1 d)');
  });

  it('says the link is down instead of a drain time, and paused when an operator paused the feed', () => {
    expect(imagingView(imagingFeed(), true, NOW)).toMatchObject({ state: 'linkDown', level: 'warn', eta: 'when the link is back' });
    expect(imagingView(imagingFeed({ paused: true }), false, NOW)).toMatchObject({ state: 'paused', level: 'warn', eta: 'unknown' });
  });

  it('is red with the code and the reason when instances cannot ship', () => {
    const problem = { code: 'WL_A026', message: 'chunk 3 of 1.2.3 does not match its SHA-256 in the archive', sinceMs: NOW - 60_000 };
    const v = imagingView(imagingFeed({}, { problem }), false, NOW);
    expect([v.state, v.level, v.stateText, v.eta]).toEqual(['problem', 'bad', 'Cannot send', 'unknown']);
    expect(v.problem).toMatch(/^WL_A026: chunk 3 of 1\.2\.3 does not match its SHA-256 in the archive \(since /);
  });

  it('shows what the agent last said as last known once the page has lost it', () => {
    const v = imagingView(imagingFeed(), false, NOW, { unreachableSinceMs: NOW - 120_000 });
    expect(v.level).toBe('unknown');
    expect(v.stateText).toMatch(/^Last known\. The agent is unreachable since /);
    expect(v.eta).toBe('unknown');
  });

  it('speaks Chinese', () => {
    setLanguage('zh');
    try {
      const v = imagingView(imagingFeed(), false, NOW);
      expect(v.stateText).toBe('正在发送');
      expect(v.instances).toBe('412 个实例');
      expect(imagingView(imagingFeed({}, { bytesWaiting: 0, instancesWaiting: 0, studiesWaiting: 0 }), false, NOW).stateText).toBe('云端副本完整');
    } finally {
      setLanguage('en');
    }
  });

  it('is drawn only for feeds that carry imaging', () => {
    const plain = { ...imagingFeed() } as Partial<FeedStatus>;
    delete plain.imaging;
    expect(isImagingFeed(imagingFeed())).toBe(true);
    expect(isImagingFeed(plain)).toBe(false);
  });
});
