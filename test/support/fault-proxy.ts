// The TCP fault proxy ships with the simulator (simulator/line/), because
// `wardline demo` cuts its line with it; tests keep importing it from here.
export * from '../../simulator/line/index.js';
