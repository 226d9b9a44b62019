// Vendor keys and grants: who may read which feed at which hospital, and write
// to which inbound channel. Pure (no I/O); the HTTP and gRPC feed services call
// authorize(), the inbound routes and service authorizeWrite().
import type { VendorCredential } from '../credentials.js';
import { FeedNotGrantedError, HospitalRequiredError, VendorAuthError } from '../errors.js';
import { InboundNotGrantedError } from '../inbound/index.js';
import { sameDigest, secretDigest } from '../secret-digest.js';

/** What a request may read: one feed at one hospital. */
export interface FeedAccess {
  vendor: string;
  hospital: string;
  feed: string;
}

/** What a write may do: one inbound channel at one hospital, as one vendor. */
export interface InboundAccess {
  vendor: string;
  hospital: string;
  channel: string;
}

interface Vendor {
  name: string;
  keyDigest: Buffer;
  /** feed name -> hospitals where the vendor may read it */
  hospitalsByFeed: ReadonlyMap<string, readonly string[]>;
  /** "hospital/channel" the vendor may write to (names never hold a slash) */
  inbound: ReadonlySet<string>;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export class VendorAuth {
  private readonly vendors: readonly Vendor[];

  constructor(vendors: readonly VendorCredential[]) {
    this.vendors = vendors.map((v) => {
      const hospitalsByFeed = new Map<string, string[]>();
      for (const grant of v.grants) {
        for (const feed of grant.feeds) {
          const hospitals = hospitalsByFeed.get(feed) ?? [];
          if (!hospitals.includes(grant.hospital)) hospitals.push(grant.hospital);
          hospitalsByFeed.set(feed, hospitals);
        }
      }
      const inbound = new Set(v.grants.flatMap((grant) => (grant.inbound ?? []).map((channel) => `${grant.hospital}/${channel}`)));
      return { name: v.name, keyDigest: secretDigest(v.key), hospitalsByFeed, inbound };
    });
  }

  /**
   * Resolves an `Authorization` header value and a feed (and, when the key is
   * granted that feed at several hospitals, the hospital) to what may be read.
   * Throws VendorAuthError (no or unknown key), FeedNotGrantedError or HospitalRequiredError.
   */
  authorize(authorization: string | undefined, feed: string, hospital?: string): FeedAccess {
    return this.resolve(this.authenticate(authorization), feed, hospital || undefined);
  }

  /**
   * Resolves an `Authorization` header value to a write grant on `channel` at
   * `hospital` (which also lets the vendor read that channel's receipts of its
   * own events). Throws VendorAuthError (no or unknown key) or InboundNotGrantedError.
   */
  authorizeWrite(authorization: string | undefined, hospital: string, channel: string): InboundAccess {
    const vendor = this.authenticate(authorization);
    if (!vendor.inbound.has(`${hospital}/${channel}`)) throw new InboundNotGrantedError(vendor.name, hospital, channel);
    return { vendor: vendor.name, hospital, channel };
  }

  /** The vendor whose key the `Authorization` header carries; throws VendorAuthError (no or unknown key). */
  identify(authorization: string | undefined): string {
    return this.authenticate(authorization).name;
  }

  private authenticate(authorization: string | undefined): Vendor {
    if (authorization === undefined || authorization.trim() === '') {
      throw new VendorAuthError('missing vendor key: send the header "Authorization: Bearer <key>"');
    }
    const key = BEARER.exec(authorization)?.[1];
    if (key === undefined) throw new VendorAuthError('malformed Authorization header: expected "Bearer <key>"');
    const digest = secretDigest(key);
    // Look at every vendor, without stopping at a match, so timing does not tell how far the list was searched.
    let found: Vendor | undefined;
    for (const vendor of this.vendors) {
      if (sameDigest(digest, vendor.keyDigest)) found = vendor;
    }
    if (!found) throw new VendorAuthError('unknown vendor key: check the key the hospital issued to you');
    return found;
  }

  private resolve(vendor: Vendor, feed: string, hospital: string | undefined): FeedAccess {
    const hospitals = vendor.hospitalsByFeed.get(feed) ?? [];
    if (hospital !== undefined) {
      if (!hospitals.includes(hospital)) {
        throw new FeedNotGrantedError(`vendor "${vendor.name}" is not granted feed "${feed}" at hospital "${hospital}"`, vendor.name, feed);
      }
      return { vendor: vendor.name, hospital, feed };
    }
    const [only, ...others] = hospitals;
    if (only === undefined) {
      throw new FeedNotGrantedError(`vendor "${vendor.name}" is not granted feed "${feed}"`, vendor.name, feed);
    }
    if (others.length > 0) throw new HospitalRequiredError(feed, hospitals);
    return { vendor: vendor.name, hospital: only, feed };
  }
}
