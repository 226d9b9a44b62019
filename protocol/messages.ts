// The generated protobuf classes, with the runtime configured the way Wardline uses it.
// Import order matters: the runtime is configured before the generated code loads.
import './protobuf-runtime.js';
import { wardline } from './generated/wardline.js';

export const pb = wardline.v1;
export type pb = typeof wardline.v1;
