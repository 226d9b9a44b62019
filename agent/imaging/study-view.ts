// What GET /v1/studies/{studyUid} shows the operator: the study's series and
// instances as the archive holds them, and per feed that carries an instance's
// stream whether its relay has acknowledged the instance's event (the feed's
// acked seq at or past the event's seq). Pure: the index rows and the acks in.
import type { IndexedInstance } from './study-index.js';

/** A feed as the view needs it. */
export interface StudyFeed {
  name: string;
  relay: string;
  streams: readonly string[];
}

export interface StudyInstanceView {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  size: number;
  sha256: string;
  /** The journal seq of the instance's blob-ref event. */
  seq: number;
  receivedAtMs: number;
  stream: string;
  /** Feed name -> whether its relay acknowledged this instance; only feeds carrying the stream. */
  acked: Record<string, boolean>;
}

export interface StudySeriesView {
  seriesUid: string;
  modality: string;
  instances: StudyInstanceView[];
  totals: { instances: number; bytes: number };
}

export interface StudyFeedTotals {
  feed: string;
  relay: string;
  /** Instances of the study this feed carries. */
  instances: number;
  ackedInstances: number;
  bytes: number;
  ackedBytes: number;
}

export interface StudyView {
  studyUid: string;
  patientId: string;
  studyDate: string;
  modalities: string[];
  series: StudySeriesView[];
  totals: { series: number; instances: number; bytes: number };
  feeds: StudyFeedTotals[];
}

/** The view of one study; undefined when the archive holds none of its instances. */
export function buildStudyView(studyUid: string, instances: readonly IndexedInstance[], feeds: readonly StudyFeed[], ackedSeqs: ReadonlyMap<string, number>): StudyView | undefined {
  if (instances.length === 0) return undefined;
  const bySeries = new Map<string, StudySeriesView>();
  const feedTotals = new Map<string, StudyFeedTotals>();
  const modalities = new Set<string>();
  for (const instance of instances) {
    const { body } = instance;
    if (body.modality) modalities.add(body.modality);
    let series = bySeries.get(body.seriesUid);
    if (!series) bySeries.set(body.seriesUid, (series = { seriesUid: body.seriesUid, modality: body.modality, instances: [], totals: { instances: 0, bytes: 0 } }));
    const acked: Record<string, boolean> = {};
    for (const feed of feeds) {
      if (!feed.streams.includes(instance.stream)) continue;
      const isAcked = (ackedSeqs.get(feed.name) ?? 0) >= instance.seq;
      acked[feed.name] = isAcked;
      let totals = feedTotals.get(feed.name);
      if (!totals) feedTotals.set(feed.name, (totals = { feed: feed.name, relay: feed.relay, instances: 0, ackedInstances: 0, bytes: 0, ackedBytes: 0 }));
      totals.instances++;
      totals.bytes += body.size;
      if (isAcked) {
        totals.ackedInstances++;
        totals.ackedBytes += body.size;
      }
    }
    series.instances.push({
      sopInstanceUid: body.sopInstanceUid,
      sopClassUid: body.sopClassUid,
      transferSyntaxUid: body.transferSyntaxUid,
      size: body.size,
      sha256: body.sha256,
      seq: instance.seq,
      receivedAtMs: instance.receivedAtMs,
      stream: instance.stream,
      acked,
    });
    series.totals.instances++;
    series.totals.bytes += body.size;
  }
  // The newest event's patient id and date: a corrected study re-sent wins.
  const newest = instances.reduce((a, b) => (b.seq > a.seq ? b : a));
  const series = [...bySeries.values()];
  return {
    studyUid,
    patientId: newest.body.patientId,
    studyDate: newest.body.studyDate,
    modalities: [...modalities].sort(),
    series,
    totals: { series: series.length, instances: instances.length, bytes: instances.reduce((sum, i) => sum + i.body.size, 0) },
    feeds: [...feedTotals.values()],
  };
}
