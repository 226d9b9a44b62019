// The relay's gRPC edge helpers: what the services may use. gRPC status is made only
// here (toGrpcStatus); writes respect the stream's back-pressure (writeMessage).
export { ERROR_CODE_TRAILER, toGrpcStatus } from './grpc-status.js';
export { writeMessage } from './grpc-write.js';
