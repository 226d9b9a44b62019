// A completeness-proof question as the ProofRequest the agent writes, and the
// relay's ProofAnswer as the ProofReply the prover reads: the one mapping of the
// proof messages, for the gRPC transport and for anything else that speaks the
// Replicate stream directly.
import { pb, type AgentMessage } from '../../protocol/index.js';
import type { ProofQuestion, ProofReply } from './relay-transport.js';

type ProofAnswerMessage = NonNullable<InstanceType<typeof pb.RelayMessage>['proofAnswer']>;

/** The AgentMessage asking `question` under `requestId`. */
export function proofRequestMessage(requestId: number, question: ProofQuestion): AgentMessage {
  return pb.AgentMessage.create({
    proofRequest: {
      requestId,
      feed: question.feed,
      fromSeq: question.fromSeq,
      toSeq: question.toSeq,
      listLeaves: question.listLeaves === true,
      ...(question.closeWindow ? { closeWindow: true, leafCount: question.closeWindow.leafCount, root: question.closeWindow.root } : {}),
    },
  });
}

/** The reply in a ProofAnswer that carries no error (the caller checks `answer.error` first). */
export function proofReplyOf(answer: ProofAnswerMessage, question: ProofQuestion): ProofReply {
  const head = answer.treeHead;
  return {
    leafCount: Number(answer.leafCount ?? 0),
    root: Buffer.from(answer.root ?? new Uint8Array()),
    retentionFloorSeq: Number(answer.retentionFloorSeq ?? 0),
    ...(question.listLeaves ? { leaves: (answer.leaves ?? []).map((l) => ({ seq: Number(l.seq ?? 0), bodySha256: Buffer.from(l.bodySha256 ?? new Uint8Array()) })) } : {}),
    ...(head
      ? {
          treeHead: {
            fromSeq: Number(head.fromSeq ?? 0),
            toSeq: Number(head.toSeq ?? 0),
            treeSize: Number(head.treeSize ?? 0),
            root: Buffer.from(head.root ?? new Uint8Array()),
            signedAtMs: Number(head.signedAtMs ?? 0),
            signedText: head.signedText ?? '',
            signature: head.signature ?? '',
          },
        }
      : {}),
  };
}
