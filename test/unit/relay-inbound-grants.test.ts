// Vendor write grants (vendors[].grants[].inbound) and the `inbound:` section, from config to authorizeWrite.
import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../cloud-relay/config.js';
import { loadCredentials } from '../../cloud-relay/credentials.js';
import { RelayErrorCode, VendorAuthError } from '../../cloud-relay/errors.js';
import { VendorAuth } from '../../cloud-relay/feeds/vendor-auth.js';
import { InboundNotGrantedError } from '../../cloud-relay/inbound/index.js';
import { ConfigError } from '../../runtime/index.js';

const SECRET = 'h1-secret-0123456789abcdef';
const APP_KEY = 'patient-app-key-0123456789abcdef';
const READER_KEY = 'reader-key-0123456789abcdef';

function config(extra: Record<string, unknown> = {}, grants: unknown[] = [{ hospital: 'h1', feeds: ['appointments'], inbound: ['bookings', 'payments'] }]) {
  return parseRelayConfig({
    dataDir: '/tmp/x',
    allowPlaintext: true,
    hospitals: [{ id: 'h1', secret: SECRET }, { id: 'h2', secret: SECRET.replace('h1', 'h2') }],
    vendors: [
      { name: 'patient-app', key: APP_KEY, grants },
      { name: 'reader', key: READER_KEY, grants: [{ hospital: 'h1', feeds: ['appointments'] }] },
    ],
    ...extra,
  });
}

describe('inbound write grants', () => {
  it('grants writes to the listed channels at that hospital only', () => {
    const auth = new VendorAuth(loadCredentials(config(), 'test').vendors);
    expect(auth.authorizeWrite(`Bearer ${APP_KEY}`, 'h1', 'bookings')).toEqual({ vendor: 'patient-app', hospital: 'h1', channel: 'bookings' });
    const refused = (() => {
      try {
        auth.authorizeWrite(`Bearer ${APP_KEY}`, 'h2', 'bookings');
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(InboundNotGrantedError);
    expect((refused as InboundNotGrantedError).code).toBe(RelayErrorCode.INBOUND_NOT_GRANTED);
    // A read grant of a feed is no write grant; a channel named like a feed is not granted by it.
    expect(() => auth.authorizeWrite(`Bearer ${READER_KEY}`, 'h1', 'appointments')).toThrow(InboundNotGrantedError);
    expect(() => auth.authorizeWrite(`Bearer ${APP_KEY}`, 'h1', 'refunds')).toThrow(InboundNotGrantedError);
    expect(() => auth.authorizeWrite('Bearer wrong-key-0123456789abcdef', 'h1', 'bookings')).toThrow(VendorAuthError);
    expect(() => auth.authorizeWrite(undefined, 'h1', 'bookings')).toThrow(VendorAuthError);
  });

  it('a grant may hold only inbound channels, but not nothing', () => {
    const only = config({}, [{ hospital: 'h1', inbound: ['bookings'] }]);
    expect(only.vendors[0]!.grants[0]).toEqual({ hospital: 'h1', feeds: [], inbound: ['bookings'] });
    expect(() => config({}, [{ hospital: 'h1' }])).toThrow(ConfigError);
    expect(() => config({}, [{ hospital: 'h1', inbound: ['Bad Name'] }])).toThrow(ConfigError);
  });

  it('the inbound section has defaults with units and refuses unknown keys', () => {
    expect(config().inbound).toEqual({ maxBodyBytes: 1_048_576, expirySweepMs: 1_000, retainFinalFor: 30 * 86_400_000 });
    expect(config({ inbound: { maxBodyBytes: 65_536, expirySweepMs: '250ms', retainFinalFor: '7d' } }).inbound).toEqual({ maxBodyBytes: 65_536, expirySweepMs: 250, retainFinalFor: 7 * 86_400_000 });
    expect(() => config({ inbound: { maxBodySize: 1 } })).toThrow(/maxBodySize/);
  });
});
