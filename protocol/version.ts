/**
 * The replication protocol version spoken by this build (Hello/Welcome.protocol_version).
 * 2 adds the downlink (Hello.inbound_channels, inbound events and receipts).
 */
export const PROTOCOL_VERSION = 2;
/**
 * The oldest version this build still speaks: a relay answers an agent of
 * version 1 in version 1 (no downlink); an agent told by an older relay that it
 * speaks only 1 reconnects in version 1 and holds its inbound channels.
 */
export const MIN_PROTOCOL_VERSION = 1;

/** Default ports from the external contract; every one is configurable and tests use port 0. */
export const DEFAULT_AGENT_HTTP_PORT = 8480;
export const DEFAULT_MLLP_PORT = 2575;
export const DEFAULT_RELAY_GRPC_PORT = 7443;
export const DEFAULT_RELAY_HTTP_PORT = 7480;

/** The largest compressed batch payload a relay accepts unless configured otherwise. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** The software version (kept equal to package.json's by a unit test). */
export const WARDLINE_VERSION = '0.1.0';
