// The agent's public surface: what the CLI (`cli/*.ts`) and the installer may use. Each
// name here is one a subcommand needs; everything else stays behind the parts' own
// index files. Tests may reach further (see .dependency-cruiser.cjs).

// Running an agent (`wardline agent`, `wardline demo`).
export { startAgent, type RunningAgent, type StartAgentOptions } from './main.js';
// The config file (`wardline keys`, `wardline audit`, the installer's config writer).
export { AgentConfigSchema, loadAgentConfig, type AgentConfig, type LoadedAgentConfig } from './config.js';
// Admin login passwords (`wardline agent hash-password`, the installer).
export { hashPassword } from './http/index.js';
// What GET /v1/status and the feed-control endpoints answer (`wardline agent status|feed`).
export { feedLagExceeded, type AgentStatus, type AlertsStatus, type DiskStatus, type FeedStatus, type InboundStatusView, type InboundChannelView } from './operations/index.js';
export type { FeedControlResult } from './control/index.js';
export { formatByteRate, type UplinkStatus } from './bandwidth/index.js';
// The egress ledger read offline (`wardline audit export|verify`, key rotations).
export {
  exportLedger,
  openLedgerForAudit,
  recordAdminAction,
  verifyLedgerFile,
  type ChainVerification,
  type LedgerExportRange,
  type RelayLedgerHead,
} from './audit/index.js';
// Policy keys (`wardline keys list|rotate`, the installer's first keys).
export { KEY_KINDS, readKeyringManifest, rotateKey, type KeyKind, type KeyRotation } from './policy/index.js';
export { destroyKeys, type KeyDestruction } from './policy/index.js';
// The exit: a relay's signed export verified offline (`wardline export verify`, restore).
export { verifyExport, ExportSignatureError, ExportTamperedError, type ExportVerification, type ExportVerifyOptions } from './exit/index.js';
// The same export fetched by the hospital's agent over the Export RPC (`wardline agent export`, restore --from-relay).
export { fetchExport, exportRelaySettings, ExportFetchError, ExportRelayTooOldError, type FetchExportOptions, type FetchedExport, type ExportRelaySettings } from './exit/index.js';
// Restore a fresh agent from the relay's backup feed (`wardline agent restore`).
export { restoreAgent, restoreFromRelay, relayExportFetcher, type ExportFetcher, type RestoreSummary } from './exit/index.js';
