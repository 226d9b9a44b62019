// The vendor imaging routes of the relay's HTTP API, in the spirit of DICOMweb
// WADO-RS (one instance per request; no multipart/related study retrieval):
//   GET /v1/hospitals/{hospital}/feeds/{feed}/studies/{studyUid}                                        JSON listing
//   GET /v1/hospitals/{hospital}/feeds/{feed}/studies/{studyUid}/series/{seriesUid}                     JSON listing
//   GET /v1/hospitals/{hospital}/feeds/{feed}/studies/{studyUid}/series/{seriesUid}/instances/{sopUid}  application/dicom
// A vendor key reads exactly what it reads of the feed's events (VendorAuth,
// the hospital named in the path), and sees an instance only once the feed's
// blob-ref event naming it is visible (seq <= the feed's visible seq) and the
// relay holds it complete (every chunk, whole SHA-256 matched); the feed's
// events (GET /v1/feeds/{feed}/events) list what arrived.
//
// Failure modes handled:
//  1. A key not granted the feed at that hospital, or no key: refused before
//     anything is looked up (403 / 401, as for feed reads), so a refusal tells
//     nothing about what the feed holds.
//  2. A study, series or instance the feed does not name (yet), or names only
//     past its visible seq, or whose chunks are not all held: 404
//     WL_IMAGING_NOT_FOUND; a revoked feed: 410, as for feed reads.
//  3. A large instance: streamed chunk file by chunk file as the socket drains,
//     never whole in memory; a vendor that reads nothing for stalledResponseMs
//     is cut, and one key has at most concurrentReadsPerKey reads in progress
//     (instances and pages together; 429 past that).
//  4. The instance's files go away mid-response (the feed revoked while it is
//     read): the response is cut, never completed with other bytes.
//  5. A SOP Instance UID sent again (corrected, re-archived): its latest
//     visible event decides what it is and in which series it is listed.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { DicomUidSchema, NAME_PATTERN } from '../../protocol/index.js';
import { ImagingNotFoundError, StalledResponseError } from '../errors.js';
import type { VendorAuth, VendorSlots } from '../feeds/index.js';
import { writeMessage } from '../grpc/index.js';
import type { BlobReference, BlobStore, FeedStore } from '../store/index.js';
import { decodePathSegment } from './path-segment.js';

/** The media type of one DICOM instance (PS3.18). */
export const DICOM_CONTENT_TYPE = 'application/dicom';
/** The seq of the feed event that names the instance served. */
export const IMAGING_SEQ_HEADER = 'x-wardline-seq';

const IMAGING_PATH = /^\/v1\/hospitals\/([^/]+)\/feeds\/([^/]+)\/studies\/([^/]+)(?:\/series\/([^/]+)(?:\/instances\/([^/]+))?)?$/;

const NAME = { pattern: NAME_PATTERN, expected: 'a name (letters, digits, ".", "_" or "-")' };
const UID = { pattern: { test: (value: string) => DicomUidSchema.safeParse(value).success }, expected: 'a DICOM UID (digits and dots, at most 64 characters)' };

export type ImagingRouteName = 'imaging-study' | 'imaging-series' | 'imaging-instance';

/** The metrics name of an imaging path, or undefined when the path is not one (nothing is decoded). */
export function imagingRouteName(path: string): ImagingRouteName | undefined {
  const match = IMAGING_PATH.exec(path);
  if (!match) return undefined;
  return match[5] !== undefined ? 'imaging-instance' : match[4] !== undefined ? 'imaging-series' : 'imaging-study';
}

/** One instance in a listing, as the vendor reads it. */
export interface ImagingListingEntry {
  seriesUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** Bytes of the instance. */
  size: number;
  /** Hex SHA-256 of the instance, also its ETag. */
  sha256: string;
  /** The seq of the feed's blob-ref event that names it. */
  seq: number;
  /** Where to GET it (application/dicom). */
  href: string;
}

/** What the study and series routes answer. */
export interface ImagingListing {
  hospital: string;
  feed: string;
  studyUid: string;
  /** Present on the series route. */
  seriesUid?: string;
  /** The feed's visible seq the listing was read through. */
  visibleSeq: number;
  instances: ImagingListingEntry[];
}

/** Each SOP Instance UID once, as its latest event names it, in the order given (series, then seq). */
export function latestPerInstance(references: readonly BlobReference[]): BlobReference[] {
  const latest = new Map<string, BlobReference>();
  for (const reference of references) {
    const held = latest.get(reference.sopInstanceUid);
    if (!held || held.seq < reference.seq) latest.set(reference.sopInstanceUid, reference);
  }
  return references.filter((reference) => latest.get(reference.sopInstanceUid) === reference);
}

export interface ImagingRoutesOptions {
  blobs: BlobStore;
  store: FeedStore;
  vendors: VendorAuth;
  /** The same per-key bound as page reads. */
  slots: VendorSlots;
  /** A response that does not drain for this long is cut, in milliseconds. */
  stalledResponseMs: number;
  logger: Logger;
}

interface ImagingRequest {
  hospital: string;
  feed: string;
  studyUid: string;
  seriesUid: string | undefined;
  sopInstanceUid: string | undefined;
}

/** Serves an imaging request; undefined (nothing done) when the path is not an imaging route. */
export type ImagingRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | undefined;

export function createImagingRoutes(options: ImagingRoutesOptions): ImagingRoutes {
  const { blobs, store, vendors, logger } = options;

  /** How far vendors may read the feed now; rejects with FeedRevokedError for a revoked feed. */
  async function visibleSeq(hospital: string, feed: string): Promise<number> {
    return (await store.pageExtent(hospital, feed, Number.MAX_SAFE_INTEGER, 1)).highWater;
  }

  async function serveListing(res: ServerResponse, request: ImagingRequest): Promise<void> {
    const { hospital, feed, studyUid, seriesUid } = request;
    const through = await visibleSeq(hospital, feed);
    const references = latestPerInstance(await blobs.studyInstances(hospital, feed, studyUid, through)).filter((r) => seriesUid === undefined || r.seriesUid === seriesUid);
    if (references.length === 0) {
      const what = seriesUid === undefined ? `study ${studyUid}` : `series ${seriesUid} of study ${studyUid}`;
      throw new ImagingNotFoundError(`feed "${feed}" of hospital "${hospital}" names no complete instance of ${what} up to its visible seq ${through}; its events list what arrived`, hospital, feed);
    }
    const listing: ImagingListing = {
      hospital,
      feed,
      studyUid,
      ...(seriesUid === undefined ? {} : { seriesUid }),
      visibleSeq: through,
      instances: references.map((r) => ({
        seriesUid: r.seriesUid,
        sopInstanceUid: r.sopInstanceUid,
        sopClassUid: r.sopClassUid,
        size: r.size,
        sha256: r.sha256,
        seq: r.seq,
        href: instancePath(hospital, feed, r),
      })),
    };
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(`${JSON.stringify(listing)}\n`);
  }

  async function serveInstance(req: IncomingMessage, res: ServerResponse, request: ImagingRequest, vendor: string): Promise<void> {
    const { hospital, feed, studyUid, seriesUid, sopInstanceUid } = request;
    const release = options.slots.acquire(vendor, 'read');
    try {
      const through = await visibleSeq(hospital, feed);
      const reference = await blobs.instanceReference(hospital, feed, studyUid, sopInstanceUid!, through);
      const opened = reference && reference.seriesUid === seriesUid ? await blobs.openInstance(hospital, reference.sha256) : undefined;
      if (!reference || !opened) {
        throw new ImagingNotFoundError(
          `feed "${feed}" of hospital "${hospital}" names no complete instance ${sopInstanceUid} in series ${seriesUid} of study ${studyUid} up to its visible seq ${through}; its events list what arrived`,
          hospital,
          feed,
        );
      }
      const etag = `"${reference.sha256}"`;
      // The vendor may keep its copy and revalidate; a shared cache may not, and every revalidation passes the key check.
      const headers = { etag, 'cache-control': 'private, no-cache', [IMAGING_SEQ_HEADER]: String(reference.seq) };
      if (matchesEtag(req.headers['if-none-match'], etag)) {
        opened.stream.destroy();
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': DICOM_CONTENT_TYPE, 'content-length': String(opened.size), 'x-content-type-options': 'nosniff' });
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      try {
        for await (const buffer of opened.stream) await writeMessage(res, buffer, gone.signal, options.stalledResponseMs);
        res.end();
        // Until the last bytes reach the socket they sit in relay memory: a vendor that stops reading here is cut too.
        if (!res.writableFinished) await once(res, 'finish', { signal: AbortSignal.any([gone.signal, AbortSignal.timeout(options.stalledResponseMs)]) });
      } catch (error) {
        opened.stream.destroy();
        if (gone.signal.aborted) return; // the vendor went away; it asks again
        const stalled = error instanceof StalledResponseError || (error as Error).name === 'AbortError';
        if (!stalled) throw error; // a read that failed mid-body: the caller logs it and cuts the response
        logger.warn({ vendor, hospital, feed, sopInstanceUid, stalledMs: options.stalledResponseMs }, 'instance response cut: the vendor read nothing for stalledResponseMs');
        res.destroy();
        return;
      }
      logger.debug({ vendor, hospital, feed, sopInstanceUid, seq: reference.seq, bytes: opened.size }, 'imaging instance served');
    } finally {
      release();
    }
  }

  return (req, res, url) => {
    const match = IMAGING_PATH.exec(url.pathname);
    if (!match) return undefined;
    return (async () => {
      const request: ImagingRequest = {
        hospital: decodePathSegment(match[1]!, 'hospital', NAME.pattern, NAME.expected),
        feed: decodePathSegment(match[2]!, 'feed', NAME.pattern, NAME.expected),
        studyUid: decodePathSegment(match[3]!, 'studyUid', UID.pattern, UID.expected),
        seriesUid: match[4] === undefined ? undefined : decodePathSegment(match[4], 'seriesUid', UID.pattern, UID.expected),
        sopInstanceUid: match[5] === undefined ? undefined : decodePathSegment(match[5], 'sopInstanceUid', UID.pattern, UID.expected),
      };
      const access = vendors.authorize(req.headers.authorization, request.feed, request.hospital);
      if (request.sopInstanceUid === undefined) return serveListing(res, request);
      return serveInstance(req, res, request, access.vendor);
    })();
  };
}

function instancePath(hospital: string, feed: string, reference: BlobReference): string {
  const segments = [hospital, feed].map(encodeURIComponent);
  return `/v1/hospitals/${segments[0]}/feeds/${segments[1]}/studies/${reference.studyUid}/series/${reference.seriesUid}/instances/${reference.sopInstanceUid}`;
}

/** True when an If-None-Match header names `etag` (or is "*"). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const value = tag.trim().replace(/^W\//, '');
    return value === '*' || value === etag;
  });
}
