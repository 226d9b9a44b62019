// `wardline export verify DIR`: checks a relay's signed export offline, with
// nothing but the directory (and, to prove where it came from, the relay's
// public key from a channel the hospital trusts). Recomputes everything the
// manifest claims instead of believing it:
//
//  1. The signature: manifest.json against manifest.json.minisig, by --pubkey or
//     else the bundled relay-signing.pub (which proves integrity, not origin:
//     whoever altered the files could have replaced the key too). The trusted
//     comment must name the manifest's own SHA-256, hospital and time. The
//     signature and key files must be exactly as the relay writes them, so a
//     flipped byte even in a comment line fails.
//  2. The listing: every file in DIR is one the manifest lists (or one of the
//     four fixed files) and every listed file is there; SHA256SUMS says exactly
//     what output[] says.
//  3. Each file's bytes and SHA-256; each blob chunk is named by its own SHA-256.
//  4. Each NDJSON line: exactly the line the relay writes for its event, its
//     bodySha256 equal to the SHA-256 of the body in the line, seqs strictly
//     increasing; the feed's RFC 9162 root and tree size recomputed from
//     (seq, bodySha256) equal the manifest's; every chunk a blob-ref event names is
//     in the export.
// The first failure throws, naming the file (ExportTamperedError, ExportSignatureError).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BLOB_CHUNK_TYPE,
  BLOB_REF_CONTENT_TYPE,
  EXPORT_FIXED_FILES,
  EXPORT_MANIFEST_FILE,
  EXPORT_PUBLIC_KEY_FILE,
  EXPORT_SIGNATURE_COMMENT,
  EXPORT_SIGNATURE_FILE,
  EXPORT_SUMS_FILE,
  ExportLineError,
  ExportManifestSchema,
  MerkleAccumulator,
  blobExportPath,
  exportSumsText,
  feedExportPath,
  feedLeafData,
  isExportPath,
  leafHash,
  parseExportEventLine,
  parseExportTrustedComment,
  parseImagingInstanceBody,
  type ExportFeed,
  type ExportManifest,
  type ExportOutput,
} from '../../protocol/index.js';
import { keyIdText, MinisignError, parsePublicKey, publicKeyText, verifyMinisign } from '../../runtime/index.js';
import { ExportSignatureError, ExportTamperedError } from './errors.js';

export interface ExportVerifyOptions {
  /** The relay's public key file's text (minisign format) from a source the hospital trusts; absent: the bundled relay-signing.pub. */
  trustedPublicKey?: string;
  /** Where the trusted key came from, for messages; default "--pubkey". */
  trustedPublicKeySource?: string;
}

/** What a verified export holds. */
export interface ExportVerification {
  dir: string;
  manifest: ExportManifest;
  /** "trusted": checked against the key given; "bundled": against the export's own relay-signing.pub (integrity only). */
  keySource: 'trusted' | 'bundled';
  signingKeyId: string;
  /** Said to the operator (the bundled-key caveat). */
  warnings: string[];
  /** Files checked, the fixed ones included. */
  files: number;
  events: number;
  bytes: number;
  feeds: ExportFeed[];
  elapsedMs: number;
}

/**
 * Verifies the export in `dir` (see the header).
 * @throws ExportSignatureError or ExportTamperedError naming the first file that fails.
 */
export async function verifyExport(dir: string, options: ExportVerifyOptions = {}): Promise<ExportVerification> {
  const startedMs = performance.now();
  const warnings: string[] = [];
  const manifestBytes = await readWhole(dir, EXPORT_MANIFEST_FILE);
  const signatureText = (await readWhole(dir, EXPORT_SIGNATURE_FILE)).toString('utf8');
  const bundledText = (await readWhole(dir, EXPORT_PUBLIC_KEY_FILE)).toString('utf8');

  // 1. The signature, and the files that carry it exactly as written.
  const bundled = parseKey(bundledText, EXPORT_PUBLIC_KEY_FILE);
  if (publicKeyText(bundled) !== bundledText) throw new ExportTamperedError(EXPORT_PUBLIC_KEY_FILE, 'is not the public key file the relay writes (a line was altered or added)');
  let key = bundled;
  let keySource: ExportVerification['keySource'] = 'bundled';
  if (options.trustedPublicKey !== undefined) {
    const source = options.trustedPublicKeySource ?? '--pubkey';
    key = parseKey(options.trustedPublicKey, source);
    keySource = 'trusted';
    if (!key.publicKey.equals(bundled.publicKey) || !key.keyId.equals(bundled.keyId)) {
      throw new ExportSignatureError(EXPORT_PUBLIC_KEY_FILE, `holds key ${keyIdText(bundled.keyId)}, not the relay key ${keyIdText(key.keyId)} of ${source}: this export was not signed by that relay, or was re-signed`);
    }
  } else {
    warnings.push(`checked against the export's own ${EXPORT_PUBLIC_KEY_FILE} (key ${keyIdText(bundled.keyId)}): this proves the files are intact, not that the relay made them; pass --pubkey with the relay's key from its operator to prove origin`);
  }
  checkSignatureShape(signatureText);
  let trustedComment: string;
  try {
    trustedComment = verifyMinisign(manifestBytes, signatureText, key).trustedComment;
  } catch (error) {
    if (!(error instanceof MinisignError)) throw error;
    const keyFile = keySource === 'trusted' ? (options.trustedPublicKeySource ?? '--pubkey') : EXPORT_PUBLIC_KEY_FILE;
    const file = error.reason === 'bad-signature' ? EXPORT_MANIFEST_FILE : EXPORT_SIGNATURE_FILE;
    throw new ExportSignatureError(file, `${EXPORT_MANIFEST_FILE} does not verify against its signature ${EXPORT_SIGNATURE_FILE} and the key in ${keyFile}: ${error.message}`, { cause: error });
  }
  const manifestSha256 = sha256Hex(manifestBytes);
  const claimed = parseExportTrustedComment(trustedComment);
  if (!claimed) throw new ExportSignatureError(EXPORT_SIGNATURE_FILE, `the trusted comment is not one a relay export writes: ${JSON.stringify(trustedComment)}`);
  if (claimed.manifestSha256 !== manifestSha256) throw new ExportSignatureError(EXPORT_MANIFEST_FILE, `has SHA-256 ${manifestSha256}, the signature's trusted comment says ${claimed.manifestSha256}`);

  const manifest = parseManifest(manifestBytes);
  const w = manifest.extension.wardline;
  if (claimed.hospital !== w.hospital || claimed.transactionTime !== manifest.transactionTime) {
    throw new ExportSignatureError(EXPORT_MANIFEST_FILE, `names hospital ${w.hospital} at ${manifest.transactionTime}; its signature names ${claimed.hospital} at ${claimed.transactionTime}`);
  }
  if (w.signingKeyId !== keyIdText(key.keyId)) throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `names signing key ${w.signingKeyId}, but key ${keyIdText(key.keyId)} signed it`);

  // 2. The listing.
  checkOutputs(manifest.output, w.feeds);
  const sums = (await readWhole(dir, EXPORT_SUMS_FILE)).toString('utf8');
  const expectedSums = exportSumsText(manifest.output);
  if (sums !== expectedSums) throw new ExportTamperedError(EXPORT_SUMS_FILE, `differs from the manifest's output[] ${firstDifference(sums, expectedSums)}`);
  const listed = new Set<string>([...EXPORT_FIXED_FILES, ...manifest.output.map((o) => o.url)]);
  const present = await filesIn(dir);
  for (const file of present) if (!listed.has(file)) throw new ExportTamperedError(file, 'is not listed in the signed manifest (added after the export was signed)');
  for (const file of listed) if (!present.has(file)) throw new ExportTamperedError(file, 'is listed in the signed manifest but missing');

  // 3 and 4. Every file's bytes; the feeds line by line.
  let bytes = manifestBytes.length + signatureText.length + bundledText.length + sums.length;
  let events = 0;
  const chunksNamed = new Map<string, string>();
  for (const output of manifest.output) {
    if (output.type === BLOB_CHUNK_TYPE) {
      const data = await readWhole(dir, output.url);
      checkBytes(output, data.length, sha256Hex(data));
    } else {
      const feed = w.feeds.find((f) => f.feed === output.feed)!;
      const seen = await verifyFeedFile(join(dir, output.url), output, feed, chunksNamed);
      checkBytes(output, seen.bytes, seen.sha256);
      events += output.count;
    }
    bytes += output.bytes;
  }
  for (const [chunk, file] of chunksNamed) {
    if (!listed.has(blobExportPath(chunk))) throw new ExportTamperedError(file, `names blob chunk ${chunk}, which the export does not hold`);
  }
  return {
    dir,
    manifest,
    keySource,
    signingKeyId: keyIdText(key.keyId),
    warnings,
    files: listed.size,
    events,
    bytes,
    feeds: w.feeds,
    elapsedMs: performance.now() - startedMs,
  };
}

/** Streams a feed's NDJSON, checking each line; returns the file's size and SHA-256 as read. */
async function verifyFeedFile(path: string, output: ExportOutput & { feed: string }, feed: ExportFeed, chunksNamed: Map<string, string>): Promise<{ bytes: number; sha256: string }> {
  const file = output.url;
  const hash = createHash('sha256');
  const tree = new MerkleAccumulator();
  let bytes = 0;
  let bodyBytes = 0;
  let lastSeq = -1;
  let lineNumber = 0;
  let rest: Buffer = Buffer.alloc(0);
  const onLine = (line: string): void => {
    lineNumber += 1;
    const where = `line ${lineNumber}`;
    let parsed;
    try {
      parsed = parseExportEventLine(line);
    } catch (error) {
      if (error instanceof ExportLineError) throw new ExportTamperedError(file, `${where}: ${error.message}`);
      throw error;
    }
    const { event, bodySha256 } = parsed;
    const actual = sha256Hex(event.body);
    if (actual !== bodySha256) throw new ExportTamperedError(file, `${where} (seq ${event.seq}): the body hashes to ${actual}, the line says bodySha256 ${bodySha256}`);
    if (event.seq <= lastSeq) throw new ExportTamperedError(file, `${where}: seq ${event.seq} does not follow seq ${lastSeq} (seqs must strictly increase)`);
    lastSeq = event.seq;
    bodyBytes += event.body.length;
    tree.push(leafHash(feedLeafData(event.seq, Buffer.from(bodySha256, 'hex'))));
    if (event.contentType === BLOB_REF_CONTENT_TYPE) {
      try {
        for (const chunk of parseImagingInstanceBody(event.body).chunks) if (!chunksNamed.has(chunk.sha256)) chunksNamed.set(chunk.sha256, file);
      } catch (error) {
        throw new ExportTamperedError(file, `${where} (seq ${event.seq}): a blob-ref body that is not an imaging instance: ${(error as Error).message}`);
      }
    }
  };
  for await (const piece of createReadStream(path)) {
    const data = piece as Buffer;
    hash.update(data);
    bytes += data.length;
    const joined = rest.length === 0 ? data : Buffer.concat([rest, data]);
    const end = joined.lastIndexOf(0x0a);
    if (end < 0) {
      rest = joined;
      continue;
    }
    const text = joined.toString('utf8', 0, end);
    rest = joined.subarray(end + 1);
    for (const line of text.split('\n')) onLine(line);
  }
  if (rest.length > 0) throw new ExportTamperedError(file, `ends in the middle of line ${lineNumber + 1} (no final newline): the file was cut or altered`);
  if (tree.size !== output.count) throw new ExportTamperedError(file, `holds ${tree.size} events; the manifest says ${output.count}`);
  const root = tree.root().toString('hex');
  if (feed.treeSize !== tree.size || feed.events !== tree.size) throw new ExportTamperedError(file, `holds ${tree.size} events; the manifest's feed ${feed.feed} says events ${feed.events}, treeSize ${feed.treeSize}`);
  if (root !== feed.merkleRoot) throw new ExportTamperedError(file, `its Merkle root (RFC 9162, over seq and bodySha256) is ${root}; the manifest says ${feed.merkleRoot}`);
  if (bodyBytes !== feed.bodyBytes) throw new ExportTamperedError(file, `its bodies hold ${bodyBytes} bytes; the manifest says ${feed.bodyBytes}`);
  if (lastSeq > feed.visibleSeq) throw new ExportTamperedError(file, `holds seq ${lastSeq}, past the feed's visibleSeq ${feed.visibleSeq}`);
  return { bytes, sha256: hash.digest('hex') };
}

function checkBytes(output: ExportOutput, bytes: number, sha256: string): void {
  if (bytes !== output.bytes) throw new ExportTamperedError(output.url, `is ${bytes} bytes; the manifest says ${output.bytes}`);
  if (sha256 !== output.sha256) throw new ExportTamperedError(output.url, `has SHA-256 ${sha256}; the manifest says ${output.sha256}`);
}

/** output[] and feeds[] agree: one output per feed under its own path, chunks under their own hash, no path twice. */
function checkOutputs(output: readonly ExportOutput[], feeds: readonly ExportFeed[]): void {
  const urls = new Set<string>();
  for (const o of output) {
    const expected = o.type === BLOB_CHUNK_TYPE ? blobExportPath(o.sha256) : feedExportPath(o.feed);
    if (o.url !== expected || !isExportPath(o.url)) throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `output url ${JSON.stringify(o.url)} should be ${JSON.stringify(expected)}`);
    if (urls.has(o.url)) throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `lists ${o.url} twice`);
    urls.add(o.url);
  }
  const feedOutputs = output.filter((o) => o.type !== BLOB_CHUNK_TYPE).map((o) => (o as { feed: string }).feed).sort();
  const feedNames = feeds.map((f) => f.feed).sort();
  if (JSON.stringify(feedOutputs) !== JSON.stringify(feedNames)) {
    throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `output[] has feeds ${feedOutputs.join(', ') || 'none'} but extension.wardline.feeds has ${feedNames.join(', ') || 'none'}`);
  }
}

/** The signature file exactly as a relay export writes it: four lines, the fixed untrusted comment, canonical base64. */
function checkSignatureShape(text: string): void {
  const lines = text.split('\n');
  const problem =
    lines.length !== 5 || lines[4] !== ''
      ? 'is not four lines ending in a newline'
      : lines[0] !== `untrusted comment: ${EXPORT_SIGNATURE_COMMENT}`
        ? `its first line is not "untrusted comment: ${EXPORT_SIGNATURE_COMMENT}"`
        : !lines[2]!.startsWith('trusted comment: ')
          ? 'its third line is not the trusted comment'
          : !isCanonicalBase64(lines[1]!) || !isCanonicalBase64(lines[3]!)
            ? 'a signature line is not canonical base64'
            : undefined;
  if (problem) throw new ExportSignatureError(EXPORT_SIGNATURE_FILE, `${problem}: the signature file was altered`);
}

function isCanonicalBase64(line: string): boolean {
  return line.length > 0 && Buffer.from(line, 'base64').toString('base64') === line;
}

function parseKey(text: string, source: string): { publicKey: Buffer; keyId: Buffer } {
  try {
    return parsePublicKey(text);
  } catch (error) {
    throw new ExportSignatureError(source, (error as Error).message, { cause: error });
  }
}

function parseManifest(bytes: Buffer): ExportManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `is not JSON: ${(error as Error).message}`);
  }
  const parsed = ExportManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ExportTamperedError(EXPORT_MANIFEST_FILE, `is not a wardline-export-v1 manifest: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

async function readWhole(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ExportTamperedError(file, `is missing from ${dir}`);
    throw error;
  }
}

/** Every entry under dir as a "/"-separated relative path; a symbolic link or special file is listed as itself (and refused). */
async function filesIn(dir: string): Promise<Set<string>> {
  const files = new Set<string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const relative = join(entry.parentPath, entry.name).slice(dir.replace(/\/+$/, '').length + 1);
    if (entry.isDirectory()) {
      if (relative !== 'feeds' && relative !== 'blobs') throw new ExportTamperedError(`${relative}/`, 'is a directory the export does not have');
      continue;
    }
    if (!entry.isFile()) throw new ExportTamperedError(relative, 'is not a regular file');
    files.add(relative);
  }
  return files;
}

function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) return `at line ${i + 1}: ${JSON.stringify(a[i] ?? '(none)')} instead of ${JSON.stringify(e[i] ?? '(none)')}`;
  }
  return '';
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
