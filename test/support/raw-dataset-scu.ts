// A Storage SCU that sends dataset bytes exactly as given, for datasets dcmtk will
// not send (storescu parses a file before sending it and refuses a broken one).
// dcmjs-dimse's Client does the association; each request's Dataset hands over
// the raw bytes instead of re-encoding its elements. Every request goes in ONE
// association, in order, so a test can check what the SCP answers after a refusal.
// dcmjs-dimse proposes implicit VR little endian first, which the SCP takes, so
// the bytes are implicit VR (dcmconv +ti makes them from a test file).
import dimse from 'dcmjs-dimse';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

dimse.log.setLevel('silent');

export interface RawStore {
  sopClassUid: string;
  sopInstanceUid: string;
  /** The dataset bytes (implicit VR little endian), with no preamble or file meta group. */
  dataset: Buffer;
}

/** The dataset of a Part-10 file: the bytes after its file meta group. */
export function datasetOf(part10: Buffer): Buffer {
  const groupLength = part10.readUInt32LE(132 + 8);
  return part10.subarray(132 + 12 + groupLength);
}

/** Where an implicit VR element's 4-byte length lies in the dataset (tag as 8 hex digits). */
export function implicitLengthOffset(dataset: Buffer, tag: string): number {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16LE(parseInt(tag.slice(0, 4), 16), 0);
  bytes.writeUInt16LE(parseInt(tag.slice(4, 8), 16), 2);
  const at = dataset.indexOf(bytes);
  if (at < 0) throw new Error(`no element ${tag} in the dataset`);
  return at + 4;
}

/** A RawStore from a Part-10 file the test wrote, re-encoded as implicit VR little endian, then `mutate`d. */
export async function rawStoreOf(path: string, sopClassUid: string, sopInstanceUid: string, mutate?: (dataset: Buffer) => void): Promise<RawStore> {
  const implicit = `${path}.implicit`;
  await promisify(execFile)('dcmconv', ['+ti', path, implicit]);
  const dataset = Buffer.from(datasetOf(readFileSync(implicit)));
  mutate?.(dataset);
  return { sopClassUid, sopInstanceUid, dataset };
}

/** Sends the stores in one association; resolves with each C-STORE status, in order (undefined when unanswered). */
export function sendRawStores(host: string, port: number, callingAeTitle: string, calledAeTitle: string, stores: RawStore[]): Promise<(number | undefined)[]> {
  const client = new dimse.Client();
  const statuses: (number | undefined)[] = stores.map(() => undefined);
  stores.forEach((store, i) => {
    const dataset = new dimse.Dataset({ SOPClassUID: store.sopClassUid, SOPInstanceUID: store.sopInstanceUid }, dimse.constants.TransferSyntax.ImplicitVRLittleEndian);
    (dataset as unknown as { getDenaturalizedDataset: () => Buffer }).getDenaturalizedDataset = () => store.dataset;
    const request = new dimse.requests.CStoreRequest(dataset);
    request.on('response', (response: InstanceType<typeof dimse.responses.CStoreResponse>) => {
      statuses[i] = response.getStatus();
    });
    client.addRequest(request);
  });
  return new Promise((resolve, reject) => {
    client.on('networkError', (error: Error) => reject(error));
    client.on('associationRejected', (result: unknown) => reject(new Error(`association rejected: ${JSON.stringify(result)}`)));
    client.on('closed', () => resolve(statuses));
    client.send(host, port, callingAeTitle, calledAeTitle, { associationTimeout: 10_000, pduTimeout: 30_000 });
  });
}
