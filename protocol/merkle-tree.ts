// Merkle trees as RFC 9162 (Certificate Transparency 2.0) §2.1 defines them, so a
// vendor can check a feed with nothing but SHA-256 and the RFC:
//
//   MTH({})       = SHA-256()
//   MTH({d0})     = SHA-256(0x00 ‖ d0)                          (leaf hash)
//   MTH(D[n])     = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))    (node hash)
//                   k = the largest power of two smaller than n
//
// The 0x00 / 0x01 prefixes keep a leaf from ever passing for a node (the
// second-preimage attack on plain Merkle trees). A feed's leaf is the event's
// seq as 8 bytes big-endian followed by the SHA-256 of its body as sent, so a
// tree commits to which seqs are present as well as to what they hold.
//
// Generic npm Merkle libraries duplicate odd nodes or sort leaves; neither is
// this tree, so it is written here.
import { createHash } from 'node:crypto';

/** Bytes of every hash in the tree. */
export const MERKLE_HASH_BYTES = 32;

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_TREE_ROOT: Buffer = createHash('sha256').digest();

/** SHA-256(0x00 ‖ leaf): the hash of one leaf's data. */
export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an inner node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * A feed event's leaf data: seq as an unsigned 64-bit big-endian integer, then
 * the SHA-256 of the body as sent (40 bytes).
 * @throws RangeError for a seq that is not a non-negative safe integer or a hash that is not 32 bytes.
 */
export function feedLeafData(seq: number, bodySha256: Uint8Array): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq ${seq} is not a non-negative integer`);
  if (bodySha256.length !== MERKLE_HASH_BYTES) throw new RangeError(`body hash is ${bodySha256.length} bytes; expected ${MERKLE_HASH_BYTES}`);
  const leaf = Buffer.alloc(8 + MERKLE_HASH_BYTES);
  leaf.writeBigUInt64BE(BigInt(seq), 0);
  leaf.set(bodySha256, 8);
  return leaf;
}

/** leafHash(feedLeafData(seq, SHA-256(body))): a feed event's leaf hash from its body. */
export function feedLeafHash(seq: number, body: Uint8Array): Buffer {
  return leafHash(feedLeafData(seq, createHash('sha256').update(body).digest()));
}

/** The root (MTH) of the tree whose leaves have these leaf hashes, in order. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  const tree = new MerkleAccumulator();
  for (const hash of leafHashes) tree.push(hash);
  return tree.root();
}

/**
 * Computes the root of a growing tree one leaf hash at a time, in memory
 * logarithmic in the leaf count (so an export of millions of events never
 * holds their hashes). It keeps the perfect subtrees the leaves so far form,
 * largest first; the RFC's tree of n leaves is those subtrees folded from the
 * right, because the RFC's split point k is always the largest of them.
 */
export class MerkleAccumulator {
  /** Roots of perfect subtrees, largest (leftmost) first; sizes[i] leaves under stack[i]. */
  private readonly stack: Buffer[] = [];
  private readonly sizes: number[] = [];
  private count = 0;

  /** Leaves pushed so far. */
  get size(): number {
    return this.count;
  }

  /** Appends one leaf by its leaf hash (leafHash of its data). */
  push(hash: Uint8Array): void {
    if (hash.length !== MERKLE_HASH_BYTES) throw new RangeError(`leaf hash is ${hash.length} bytes; expected ${MERKLE_HASH_BYTES}`);
    let node: Buffer = Buffer.from(hash);
    let size = 1;
    while (this.sizes.length > 0 && this.sizes[this.sizes.length - 1] === size) {
      node = nodeHash(this.stack.pop()!, node);
      this.sizes.pop();
      size *= 2;
    }
    this.stack.push(node);
    this.sizes.push(size);
    this.count += 1;
  }

  /** The root of the leaves pushed so far (EMPTY_TREE_ROOT for none). */
  root(): Buffer {
    if (this.stack.length === 0) return Buffer.from(EMPTY_TREE_ROOT);
    let root: Buffer = this.stack[this.stack.length - 1]!;
    for (let i = this.stack.length - 2; i >= 0; i--) root = nodeHash(this.stack[i]!, root);
    return root;
  }
}

/**
 * The inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf `index` in the
 * tree of `leafHashes`: the sibling hashes from the leaf up to the root.
 * @throws RangeError when index is not a leaf of the tree.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= leafHashes.length) {
    throw new RangeError(`leaf index ${index} is outside a tree of ${leafHashes.length} leaves`);
  }
  const path: Buffer[] = [];
  let lo = 0;
  let hi = leafHashes.length;
  // Walk down from the root; each level's sibling subtree is pushed, then the path is reversed to run leaf → root.
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (index - lo < k) {
      path.push(merkleRoot(leafHashes.slice(lo + k, hi)));
      hi = lo + k;
    } else {
      path.push(merkleRoot(leafHashes.slice(lo, lo + k)));
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * Checks an inclusion proof as RFC 9162 §2.1.3.2 verifies one: true only when
 * `proof` leads from `leafHashValue` at `index` of a tree of `treeSize` leaves
 * to `root`. A wrong size, index, leaf or path hash gives false, never an exception.
 */
export function verifyInclusion(leafHashValue: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
  if (proof.some((hash) => hash.length !== MERKLE_HASH_BYTES)) return false;
  // Numbers are kept below 2^53, so plain arithmetic (no bit operators, which are 32-bit in JavaScript).
  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leafHashValue);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(Buffer.from(root));
}

/** The largest power of two strictly smaller than n (n ≥ 2): the RFC's split point k. */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
