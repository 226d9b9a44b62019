// The seeded fault plan ships with the simulator (simulator/line/); tests keep importing it from here.
export { ALL_FAULT_KINDS, planFaults, type FaultKind, type FaultScheduleOptions, type PlannedFault } from '../../simulator/index.js';
