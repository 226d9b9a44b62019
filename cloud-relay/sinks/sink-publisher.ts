// What the sink runner needs from a message system, so its cursor and
// reconciliation logic runs the same against NATS JetStream
// (nats-jetstream-sink.ts) and against a test's in-memory stream.

/** The last message on a subject, as the stream holds it. */
export interface SubjectTail {
  /** Its stream sequence. */
  streamSeq: number;
  /** Its Nats-Msg-Id header (undefined when it has none). */
  messageId: string | undefined;
}

export interface PublishedMessage {
  /** The stream sequence the message got (or, for a duplicate, the one it already had). */
  streamSeq: number;
  /** The stream already held a message with this id (within its duplicate window). */
  duplicate: boolean;
}

export interface SinkMessage {
  subject: string;
  /** Nats-Msg-Id. */
  messageId: string;
  /** Extra headers (Wardline-Hospital, Wardline-Feed, Wardline-Seq, Content-Type). */
  headers: Record<string, string>;
  payload: string;
  /** The stream sequence of the subject's last message the publish expects (0: the subject holds none). */
  expectLastSubjectSeq: number;
}

export interface SinkPublisher {
  /** The subject's last message, or null when the subject holds none. Rejects with SinkUnavailableError when NATS does not answer. */
  lastOnSubject(subject: string): Promise<SubjectTail | null>;
  /**
   * Publishes one message, stored only if the subject's last message is still
   * expectLastSubjectSeq. Rejects with SinkSubjectMovedError when it is not,
   * SinkUnavailableError when no ack came in time (the message may or may not
   * be stored: reconcile), SinkRefusedError when JetStream refused it.
   */
  publish(message: SinkMessage): Promise<PublishedMessage>;
  /** True while connected to a server. */
  readonly connected: boolean;
  close(): Promise<void>;
}
