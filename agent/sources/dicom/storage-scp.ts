// One association with a modality or PACS, on dcmjs-dimse's Scp: negotiation
// (called and calling AE, presentation contexts), C-ECHO, and C-STORE with the
// dataset streamed to a file (createStoreWritableStream) rather than
// dcmjs-dimse's memory stream, answered once the instance is archived and
// journaled. What to do with the file is the DicomSource's (`handler`).
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import dimse from 'dcmjs-dimse';
import { decideContext } from './presentation-contexts.js';
import { DicomStatus, errorComment, type DicomRefusal } from './dicom-status.js';
import { DiscardWriter, Part10FileWriter } from './part10-file-writer.js';
import type { StoreCommand } from './instance-intake.js';

type Association = InstanceType<typeof dimse.association.Association>;
type PresentationContext = InstanceType<typeof dimse.association.PresentationContext>;
type CStoreRequest = InstanceType<typeof dimse.requests.CStoreRequest>;
type CStoreResponse = InstanceType<typeof dimse.responses.CStoreResponse>;
type CEchoRequest = InstanceType<typeof dimse.requests.CEchoRequest>;
type CEchoResponse = InstanceType<typeof dimse.responses.CEchoResponse>;

const { PresentationContextResult, RejectResult, RejectSource, RejectReason } = dimse.constants;
// dcmjs-dimse logs every PDU to stdout at info; the agent logs what matters through pino
// (refusals with WL_A027, network errors at debug).
dimse.log.setLevel('silent');

/** What the source decides for an association and does with each received dataset. */
export interface StorageScpHandler {
  /** undefined to accept the association, or why it is refused. */
  checkAssociation(calledAeTitle: string, callingAeTitle: string): { refusal: 'called-ae' | 'calling-ae'; reason: string } | undefined;
  /** Where the next dataset goes: a file, or a discarding sink with the admission's refusal. */
  openDataset(command: StoreCommand, transferSyntaxUid: string): Part10FileWriter | DiscardWriter;
  /** The C-STORE answer once the dataset is complete (never rejects). */
  completeStore(writer: Part10FileWriter | DiscardWriter, command: StoreCommand): Promise<{ status: number; reason?: string }>;
  /** An association was refused (logged and counted by the source). */
  associationRefused(refusal: DicomRefusal, reason: string, callingAeTitle: string): void;
}

export class StorageScp extends dimse.Scp {
  private readonly datasets = new WeakMap<object, Part10FileWriter | DiscardWriter>();
  private readonly connection: Socket;
  private callingAeTitle = '';
  /** The dataset being received, removed if the association drops before it completes. */
  private receiving: Part10FileWriter | DiscardWriter | undefined;

  constructor(
    socket: Socket,
    options: ConstructorParameters<typeof dimse.Scp>[1],
    private readonly handler: StorageScpHandler,
  ) {
    super(socket, options);
    this.connection = socket;
    socket.once('close', () => {
      const partial = this.receiving;
      this.receiving = undefined;
      if (partial instanceof Part10FileWriter) {
        partial.destroy();
        partial.remove();
      }
    });
  }

  override associationRequested(association: Association): void {
    const called = association.getCalledAeTitle().trim();
    this.callingAeTitle = association.getCallingAeTitle().trim();
    const refused = this.handler.checkAssociation(called, this.callingAeTitle);
    if (refused) {
      this.handler.associationRefused(refused.refusal, refused.reason, this.callingAeTitle);
      this.sendAssociationReject(
        RejectResult.Permanent,
        RejectSource.ServiceUser,
        refused.refusal === 'called-ae' ? RejectReason.CalledAeNotRecognized : RejectReason.CallingAeNotRecognized,
      );
      return;
    }
    for (const { context } of association.getPresentationContexts()) {
      const decision = decideContext(context.getAbstractSyntaxUid(), context.getTransferSyntaxUids());
      if (decision.accept) context.setResult(PresentationContextResult.Accept, decision.transferSyntaxUid);
      else
        context.setResult(
          decision.reason === 'abstract-syntax-not-supported' ? PresentationContextResult.RejectAbstractSyntaxNotSupported : PresentationContextResult.RejectTransferSyntaxesNotSupported,
        );
    }
    this.sendAssociationAccept();
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  override cEchoRequest(request: CEchoRequest, callback: (response: CEchoResponse) => void): void {
    const response = dimse.responses.CEchoResponse.fromRequest(request);
    response.setStatus(DicomStatus.SUCCESS);
    callback(response);
  }

  override createStoreWritableStream(context: PresentationContext, request: CStoreRequest): Writable {
    const writer = this.handler.openDataset(this.command(request), context.getAcceptedTransferSyntaxUid() ?? '');
    // A write error is kept on the writer and answered; it must never reach the socket's handlers.
    writer.on('error', () => {});
    this.datasets.set(request, writer);
    this.receiving = writer;
    return writer;
  }

  override createDatasetFromStoreWritableStream(writable: Writable, _context: PresentationContext, callback: (dataset: InstanceType<typeof dimse.Dataset>) => void): void {
    // The dataset stays on disk; cStoreRequest answers once it is archived and journaled.
    // dcmjs-dimse is handed an empty Dataset so it holds no copy of the instance.
    const done = (): void => callback(new dimse.Dataset({}));
    if (writable.writableFinished || writable.destroyed) done();
    else {
      writable.once('finish', done);
      writable.once('error', done);
    }
  }

  override cStoreRequest(request: CStoreRequest, callback: (response: CStoreResponse) => void): void {
    const writer = this.datasets.get(request);
    this.datasets.delete(request);
    if (this.receiving === writer) this.receiving = undefined;
    const answer = (status: number, reason?: string): void => {
      const response = dimse.responses.CStoreResponse.fromRequest(request);
      response.setStatus(status);
      if (reason !== undefined && status !== DicomStatus.SUCCESS) response.setErrorComment(errorComment(reason));
      if (this.connection.writable) callback(response);
    };
    if (!writer) return answer(DicomStatus.PROCESSING_FAILURE, 'the dataset was not received');
    void this.handler.completeStore(writer, this.command(request)).then(
      ({ status, reason }) => answer(status, reason),
      (error: unknown) => answer(DicomStatus.PROCESSING_FAILURE, `the agent failed on the instance: ${(error as Error).message}`),
    );
  }

  override abort(): void {
    // The peer aborted: the socket closes and the 'close' handler removes a partial file.
  }

  private command(request: CStoreRequest): StoreCommand {
    return {
      affectedSopClassUid: (request.getAffectedSopClassUid() ?? '').replace(/\0+$/, ''),
      affectedSopInstanceUid: (request.getAffectedSopInstanceUid() ?? '').replace(/\0+$/, ''),
      callingAeTitle: this.callingAeTitle,
    };
  }
}
