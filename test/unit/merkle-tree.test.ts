// The feed Merkle tree against RFC 9162 §2.1: the RFC's own recursive definition
// written out naively here, the published Certificate Transparency test vectors
// (the eight leaves every CT implementation checks), and proofs that must fail
// for a wrong size, a wrong index, an altered leaf and an altered path.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_TREE_ROOT,
  MerkleAccumulator,
  feedLeafData,
  feedLeafHash,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  verifyInclusion,
} from '../../protocol/merkle-tree.js';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** MTH exactly as RFC 9162 §2.1.1 writes it. */
function rfcRoot(data: readonly Buffer[]): Buffer {
  if (data.length === 0) return sha256();
  if (data.length === 1) return sha256(Buffer.from([0]), data[0]!);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return sha256(Buffer.from([1]), rfcRoot(data.slice(0, k)), rfcRoot(data.slice(k)));
}

/** PATH(m, D[n]) exactly as RFC 9162 §2.1.3.1 writes it. */
function rfcPath(m: number, data: readonly Buffer[]): Buffer[] {
  if (data.length <= 1) return [];
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return m < k ? [...rfcPath(m, data.slice(0, k)), rfcRoot(data.slice(k))] : [...rfcPath(m - k, data.slice(k)), rfcRoot(data.slice(0, k))];
}

// The inputs and roots of the Certificate Transparency reference test suite (RFC 6962, whose tree RFC 9162 keeps).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((hex) => Buffer.from(hex, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 9162 Merkle tree', () => {
  it('gives the Certificate Transparency test vectors for 1 to 8 leaves, and SHA-256() for none', () => {
    expect(merkleRoot([]).equals(sha256())).toBe(true);
    expect(EMPTY_TREE_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 1; n <= CT_LEAVES.length; n++) {
      expect(merkleRoot(CT_LEAVES.slice(0, n).map(leafHash)).toString('hex')).toBe(CT_ROOTS[n - 1]);
    }
  });

  it('equals the RFC recursion for every size up to 70, pushed one leaf at a time', () => {
    const data = Array.from({ length: 70 }, (_, i) => feedLeafData(i + 1, sha256(Buffer.from(`body ${i}`))));
    const tree = new MerkleAccumulator();
    for (let n = 1; n <= data.length; n++) {
      tree.push(leafHash(data[n - 1]!));
      expect(tree.size).toBe(n);
      expect(tree.root().equals(rfcRoot(data.slice(0, n)))).toBe(true);
    }
  });

  it('separates leaves from nodes: a node hash offered as a leaf gives another root', () => {
    const a = leafHash(Buffer.from('a'));
    const b = leafHash(Buffer.from('b'));
    const twoLeaves = merkleRoot([a, b]);
    expect(twoLeaves.equals(nodeHash(a, b))).toBe(true);
    expect(merkleRoot([leafHash(Buffer.concat([a, b]))]).equals(twoLeaves)).toBe(false);
  });

  it('commits to the seq as well as the body', () => {
    const body = Buffer.from('MSH|^~\\&|LIS');
    expect(feedLeafHash(7, body).equals(feedLeafHash(8, body))).toBe(false);
    expect(feedLeafData(1, sha256(body)).subarray(0, 8).toString('hex')).toBe('0000000000000001');
    expect(() => feedLeafData(-1, sha256(body))).toThrow(RangeError);
    expect(() => feedLeafData(1, Buffer.alloc(31))).toThrow(RangeError);
  });

  it('makes inclusion proofs equal to the RFC path that verify for every leaf of every size up to 40', () => {
    for (let n = 1; n <= 40; n++) {
      const data = Array.from({ length: n }, (_, i) => feedLeafData(100 + i, sha256(Buffer.from(`e${i}`))));
      const hashes = data.map(leafHash);
      const root = merkleRoot(hashes);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(hashes, m);
        expect(proof.map((h) => h.toString('hex'))).toEqual(rfcPath(m, data).map((h) => h.toString('hex')));
        expect(verifyInclusion(hashes[m]!, m, n, proof, root)).toBe(true);
      }
    }
  });

  it('refuses a proof checked against a wrong size, a wrong index, an altered leaf, an altered path or another root', () => {
    const hashes = Array.from({ length: 13 }, (_, i) => feedLeafHash(i + 1, Buffer.from(`event ${i}`)));
    const root = merkleRoot(hashes);
    const proof = inclusionProof(hashes, 5);
    expect(verifyInclusion(hashes[5]!, 5, 13, proof, root)).toBe(true);
    // Sizes whose path has another shape (9 to 16 share this one, which is why a tree head signs the size with the root).
    for (const size of [6, 7, 8, 17, 5, 0]) expect(verifyInclusion(hashes[5]!, 5, size, proof, root)).toBe(false);
    expect(verifyInclusion(hashes[5]!, 4, 13, proof, root)).toBe(false);
    expect(verifyInclusion(hashes[5]!, 13, 13, proof, root)).toBe(false);
    expect(verifyInclusion(feedLeafHash(6, Buffer.from('event 5 altered')), 5, 13, proof, root)).toBe(false);
    const altered = proof.map((h) => Buffer.from(h));
    altered[1]![0]! ^= 1;
    expect(verifyInclusion(hashes[5]!, 5, 13, altered, root)).toBe(false);
    expect(verifyInclusion(hashes[5]!, 5, 13, proof.slice(1), root)).toBe(false);
    expect(verifyInclusion(hashes[5]!, 5, 13, [...proof, hashes[0]!], root)).toBe(false);
    expect(verifyInclusion(hashes[5]!, 5, 13, proof, merkleRoot(hashes.slice(0, 12)))).toBe(false);
    expect(() => inclusionProof(hashes, 13)).toThrow(RangeError);
  });
});
