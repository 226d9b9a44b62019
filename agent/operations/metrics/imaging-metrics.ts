// Prometheus metrics for imaging feeds (blob transfer of DICOM instances), from
// each feed's FeedStatus.imaging at scrape time: what waits (studies, instances,
// bytes), what went (chunks, chunk bytes, bytes the relay already held), the ETA
// through the timetable, and whether a problem holds the instances. An ETA
// nobody knows (no rate yet, held back for good) is left out rather than
// exported as 0, which would read as "done".
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FeedStatus } from '../agent-status.js';

export function registerImagingMetrics(registry: Registry, feeds: () => readonly FeedStatus[]): void {
  // Registered first, so its collect hook fills every metric below from one status read.
  new Gauge({ name: 'wardline_agent_imaging_bytes_waiting', help: 'Bytes of the instances the relay does not hold yet (what it already holds is not counted)', labelNames: ['feed'], registers: [registry], collect() {
    refresh(this);
  } });
  const instances = new Gauge({ name: 'wardline_agent_imaging_instances_waiting', help: 'DICOM instances not yet acknowledged by the relay', labelNames: ['feed'], registers: [registry] });
  const studies = new Gauge({ name: 'wardline_agent_imaging_studies_waiting', help: 'Studies (distinct Study Instance UIDs) with instances not yet acknowledged by the relay', labelNames: ['feed'], registers: [registry] });
  const chunks = new Counter({ name: 'wardline_agent_imaging_chunks_sent_total', help: 'Chunks the relay stored (verified and fsynced) since the agent started', labelNames: ['feed'], registers: [registry] });
  const chunkBytes = new Counter({ name: 'wardline_agent_imaging_chunk_bytes_sent_total', help: 'Chunk bytes put on the wire since the agent started (resent parts included)', labelNames: ['feed'], registers: [registry] });
  const deduped = new Counter({ name: 'wardline_agent_imaging_deduped_bytes_total', help: 'Instance bytes not sent because the relay already held them (a study sent again, a second feed)', labelNames: ['feed'], registers: [registry] });
  const eta = new Gauge({ name: 'wardline_agent_imaging_eta_seconds', help: "Seconds until the waiting bytes have shipped at the feed's recent rate within the bandwidth timetable; absent when not known", labelNames: ['feed'], registers: [registry] });
  const problem = new Gauge({ name: 'wardline_agent_imaging_problem', help: '1 while instances of the feed cannot ship (the relay takes no blob transfer, an offer refused, a chunk corrupt in the archive), 0 otherwise', labelNames: ['feed'], registers: [registry] });

  function refresh(bytes: Gauge): void {
    for (const metric of [bytes, instances, studies, eta, problem]) metric.reset();
    for (const metric of [chunks, chunkBytes, deduped]) metric.reset();
    for (const feed of feeds()) {
      const imaging = feed.imaging;
      if (!imaging) continue;
      const labels = { feed: feed.feed };
      bytes.set(labels, imaging.bytesWaiting);
      instances.set(labels, imaging.instancesWaiting);
      studies.set(labels, imaging.studiesWaiting);
      chunks.inc(labels, imaging.chunksSent);
      chunkBytes.inc(labels, imaging.chunkBytesSent);
      deduped.inc(labels, imaging.dedupedBytes);
      if (imaging.etaSeconds !== null) eta.set(labels, imaging.etaSeconds);
      problem.set(labels, imaging.problem === null ? 0 : 1);
    }
  }
}
