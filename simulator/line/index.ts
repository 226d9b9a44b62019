// Public surface of the simulated leased line: a TCP fault proxy that cuts, darkens
// and shapes the line between an agent and its relay, for `wardline demo`, the
// fault tests, the benchmarks and the chaos run.

export {
  FaultProxy,
  type AppliedFault,
  type FaultMode,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultScheduleRun,
  type ProxyTarget,
} from './fault-proxy.js';
export { ALL_FAULT_KINDS, planFaults, type FaultKind, type FaultScheduleOptions, type PlannedFault } from './fault-schedule.js';
