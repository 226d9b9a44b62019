import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../protocol/index.js';
import {
  AgentAuthError,
  FeedNotGrantedError,
  HospitalRequiredError,
  RelayErrorCode,
  VendorAuthError,
} from '../../cloud-relay/errors.js';
import { VendorAuth } from '../../cloud-relay/feeds/vendor-auth.js';
import { HospitalAuth } from '../../cloud-relay/ingest/hospital-auth.js';

const PLATFORM_KEY = 'platform-key-0123456789abcdef';
const APP_KEY = 'patient-app-key-0123456789abcdef';

const auth = new VendorAuth([
  {
    name: 'platform',
    key: PLATFORM_KEY,
    grants: [
      { hospital: 'h1', feeds: ['adt', 'results'] },
      { hospital: 'h2', feeds: ['results'] },
    ],
  },
  { name: 'app', key: APP_KEY, grants: [{ hospital: 'h2', feeds: ['appointments'] }] },
]);

describe('VendorAuth', () => {
  it('resolves a feed granted at one hospital without a hospital parameter', () => {
    expect(auth.authorize(`Bearer ${PLATFORM_KEY}`, 'adt')).toEqual({ vendor: 'platform', hospital: 'h1', feed: 'adt' });
    expect(auth.authorize(`bearer   ${APP_KEY} `, 'appointments')).toEqual({ vendor: 'app', hospital: 'h2', feed: 'appointments' });
  });

  it('resolves an explicit hospital when it is granted there', () => {
    expect(auth.authorize(`Bearer ${PLATFORM_KEY}`, 'results', 'h2')).toEqual({ vendor: 'platform', hospital: 'h2', feed: 'results' });
    expect(auth.authorize(`Bearer ${PLATFORM_KEY}`, 'adt', 'h1').hospital).toBe('h1');
  });

  it('treats an empty hospital (gRPC default) as not given', () => {
    expect(auth.authorize(`Bearer ${PLATFORM_KEY}`, 'adt', '').hospital).toBe('h1');
  });

  it('asks for hospital when the feed is granted at several', () => {
    const error = catchError(() => auth.authorize(`Bearer ${PLATFORM_KEY}`, 'results'));
    expect(error).toBeInstanceOf(HospitalRequiredError);
    expect(error.code).toBe(RelayErrorCode.HOSPITAL_REQUIRED);
    expect(error.message).toContain('h1, h2');
    expect(error.message).toContain('hospital');
  });

  it.each([
    ['no header', undefined, 'missing vendor key'],
    ['empty header', '  ', 'missing vendor key'],
    ['not bearer', `Basic ${PLATFORM_KEY}`, 'malformed Authorization header'],
    ['bearer without key', 'Bearer ', 'malformed Authorization header'],
    ['unknown key', 'Bearer someone-elses-key-0123456789', 'unknown vendor key'],
    ['key prefix', `Bearer ${PLATFORM_KEY.slice(0, -1)}`, 'unknown vendor key'],
  ])('refuses %s as unauthenticated', (_name, header, message) => {
    const error = catchError(() => auth.authorize(header, 'adt'));
    expect(error).toBeInstanceOf(VendorAuthError);
    expect(error.code).toBe(ErrorCode.BAD_VENDOR_KEY);
    expect(error.message).toContain(message);
  });

  it.each([
    ['a feed granted nowhere', APP_KEY, 'adt', undefined, 'vendor "app" is not granted feed "adt"'],
    ['a feed granted at another hospital', PLATFORM_KEY, 'adt', 'h2', 'vendor "platform" is not granted feed "adt" at hospital "h2"'],
    ['an unknown hospital', PLATFORM_KEY, 'results', 'h9', 'at hospital "h9"'],
  ])('refuses %s as not granted', (_name, key, feed, hospital, message) => {
    const error = catchError(() => auth.authorize(`Bearer ${key}`, feed, hospital));
    expect(error).toBeInstanceOf(FeedNotGrantedError);
    expect(error.message).toContain(message);
  });
});

describe('HospitalAuth', () => {
  const hospitals = new HospitalAuth([
    { id: 'h1', secret: 'h1-secret-0123456789abcdef' },
    { id: 'h2', secret: 'h2-secret-0123456789abcdef' },
  ]);

  it('accepts the right secret', () => {
    expect(() => hospitals.verify('h1', 'h1-secret-0123456789abcdef')).not.toThrow();
  });

  it.each([
    ['a wrong secret', 'h1', 'h2-secret-0123456789abcdef', 'wrong-secret'],
    ['an empty secret', 'h1', '', 'wrong-secret'],
    ['an unknown hospital', 'h9', 'h1-secret-0123456789abcdef', 'unknown-hospital'],
  ])('refuses %s with one message for the agent and the reason for the log', (_name, id, secret, reason) => {
    const error = catchError(() => hospitals.verify(id, secret));
    expect(error).toBeInstanceOf(AgentAuthError);
    expect((error as AgentAuthError).reason).toBe(reason);
    expect(error.code).toBe(ErrorCode.BAD_AGENT_CREDENTIALS);
    expect(error.message).toBe(
      `hospital "${id}" could not be authenticated: either this relay has no hospital with that id or the secret is wrong; ` +
        `check relays[].secret in the agent's agent.yaml against the relay's hospitals[] entry`,
    );
  });

  it('names a missing hospital id', () => {
    expect(catchError(() => hospitals.verify('', 'x')).message).toContain('no hospital_id');
  });
});

function catchError(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error');
}
