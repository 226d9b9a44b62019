// The host the agent runs on (CPU, memory), sampled for the dashboard, the
// status and the metrics: what the rest of agent/operations may use.
export { SystemInformationHostProbe, type HostProbe, type HostReading } from './host-probe.js';
export { HostSampler, DEFAULT_HOST_SAMPLE_INTERVAL_MS, type HostSamplerOptions, type HostStatus } from './host-sampler.js';
