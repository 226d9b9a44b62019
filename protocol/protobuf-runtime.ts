// Configures the protobufjs runtime before the generated code loads: sequence
// numbers stay far below 2^53, so 64-bit fields are plain numbers, not Long
// objects. This must run before generated/wardline.js evaluates, because the
// generated prototypes take their 64-bit defaults (Long or 0) at load time;
// messages.ts imports this module first for that reason.
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
