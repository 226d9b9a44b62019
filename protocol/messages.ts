// The generated protobuf classes, with the runtime configured the way Wardline uses it.
import protobuf from 'protobufjs/minimal.js';
import { wardline } from './generated/wardline.js';

// Sequence numbers stay far below 2^53, so 64-bit fields decode to plain numbers
// rather than Long objects; that keeps every layer above this file free of Long.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

export const pb = wardline.v1;
export type pb = typeof wardline.v1;
