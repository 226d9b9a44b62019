// /metrics for imaging feeds, from sample FeedStatus.imaging values: waiting
// studies, instances and bytes, chunk counters, deduplicated bytes, the ETA
// (absent when not known, never 0) and the problem flag; feeds without imaging
// export none of these.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerImagingMetrics } from '../../agent/operations/metrics/index.js';
import type { FeedStatus } from '../../agent/operations/agent-status.js';
import { MiB, imagingFeed } from '../support/imaging-status.js';

async function scrape(feeds: FeedStatus[]): Promise<string> {
  const registry = new Registry();
  registerImagingMetrics(registry, () => feeds);
  return registry.metrics();
}

describe('imaging metrics', () => {
  it('export what waits, what went and the ETA of an imaging feed', async () => {
    const lab = { ...imagingFeed({ feed: 'lab', streams: ['lis.results'] }), imaging: undefined };
    const text = await scrape([imagingFeed(), lab]);
    expect(text).toContain(`wardline_agent_imaging_bytes_waiting{feed="pacs"} ${1_650 * MiB}`);
    expect(text).toContain('wardline_agent_imaging_instances_waiting{feed="pacs"} 412');
    expect(text).toContain('wardline_agent_imaging_studies_waiting{feed="pacs"} 2');
    expect(text).toContain('wardline_agent_imaging_chunks_sent_total{feed="pacs"} 96');
    expect(text).toContain(`wardline_agent_imaging_chunk_bytes_sent_total{feed="pacs"} ${384 * MiB}`);
    expect(text).toContain(`wardline_agent_imaging_deduped_bytes_total{feed="pacs"} ${120 * MiB}`);
    expect(text).toContain('wardline_agent_imaging_eta_seconds{feed="pacs"} 1100');
    expect(text).toContain('wardline_agent_imaging_problem{feed="pacs"} 0');
    expect(text).not.toContain('feed="lab"');
  });

  it('leave out an ETA nobody knows and flag a problem', async () => {
    const text = await scrape([imagingFeed({}, { etaSeconds: null, problem: { code: 'WL_A028', message: 'the relay does not take blob transfer', sinceMs: 1 } })]);
    expect(text).not.toMatch(/^wardline_agent_imaging_eta_seconds\{/m);
    expect(text).toContain('wardline_agent_imaging_problem{feed="pacs"} 1');
  });

  it('declare the metrics with no series while no feed carries imaging', async () => {
    const text = await scrape([]);
    expect(text).toMatch(/^# TYPE wardline_agent_imaging_bytes_waiting gauge$/m);
    expect(text).not.toMatch(/^wardline_agent_imaging_/m);
  });
});
