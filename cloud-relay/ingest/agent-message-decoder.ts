// Decodes the frames of a Replicate stream. grpc-js answers a frame its
// deserializer throws on with a bare INTERNAL "Error deserializing request" and
// never tells the handler, so the relay could neither log it nor say what was
// wrong. Here decoding never throws: an undecodable frame becomes an
// UndecodableAgentMessage, which the session refuses like any other protocol
// violation (INVALID_ARGUMENT, WL_PROTOCOL_VIOLATION, one log line).
import { pb, type AgentMessage } from '../../protocol/index.js';

/** A frame of a Replicate stream whose bytes are not an AgentMessage. */
export class UndecodableAgentMessage {
  constructor(
    /** Size of the frame, in bytes. */
    readonly bytes: number,
    /** What the protobuf decoder said. */
    readonly reason: string,
  ) {}
}

/** What a Replicate stream delivers to the session. */
export type IncomingAgentMessage = AgentMessage | UndecodableAgentMessage;

/** The Replicate request deserializer: an AgentMessage, or what was wrong with the bytes. */
export function decodeAgentMessage(bytes: Buffer): IncomingAgentMessage {
  try {
    return pb.AgentMessage.decode(bytes);
  } catch (error) {
    return new UndecodableAgentMessage(bytes.length, (error as Error).message);
  }
}
