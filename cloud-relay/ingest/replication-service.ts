// The gRPC Replication service: one ReplicationSession per Replicate stream.
// The service only tracks sessions (for status and shutdown); everything a
// stream does is in replication-session.ts.
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ReplicationService as ReplicationServiceDefinition } from '../../protocol/index.js';
import { decodeAgentMessage } from './agent-message-decoder.js';
import { ReplicationSession, type ConnectedAgent, type ReplicateCall, type ReplicationSessionDeps } from './replication-session.js';

export type ReplicationServiceOptions = ReplicationSessionDeps;

export class ReplicationService {
  private readonly sessions = new Set<ReplicationSession>();

  constructor(private readonly options: ReplicationServiceOptions) {}

  /** The grpc-js handler for Replicate (bidirectional streaming). */
  readonly replicate = (call: ReplicateCall): void => {
    const session = new ReplicationSession(call, this.options, (closed) => this.sessions.delete(closed));
    this.sessions.add(session);
    session.start();
  };

  /**
   * The service definition to pass to `server.addService(definition, implementation)`:
   * the protocol's, with a request decoder that hands undecodable frames to the
   * session instead of failing them inside grpc-js.
   */
  readonly definition = {
    replicate: { ...ReplicationServiceDefinition.replicate, requestDeserialize: decodeAgentMessage },
  } satisfies ServiceDefinition;

  /** The implementation to pass to `server.addService(definition, …)`. */
  get implementation(): UntypedServiceImplementation {
    return { replicate: this.replicate };
  }

  /** Agents past Hello, oldest first. */
  connectedAgents(): ConnectedAgent[] {
    const agents: ConnectedAgent[] = [];
    for (const session of this.sessions) {
      const agent = session.connectedAgent;
      if (agent) agents.push(agent);
    }
    return agents;
  }

  /** Finishes every stream's queued batches, then ends each with UNAVAILABLE. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions].map((session) => session.drain()));
  }
}
