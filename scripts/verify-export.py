#!/usr/bin/env python3
"""Checks a Wardline export with nothing but Python's standard library: every file
against SHA256SUMS (and SHA256SUMS against manifest.json), then each feed's RFC 9162
Merkle root recomputed from the (seq, bodySha256) of its NDJSON lines. The manifest's
signature is checked by minisign: minisign -V -m manifest.json -p relay-signing.pub
Usage: python3 verify-export.py EXPORT_DIR   (exit 0 = OK, 1 = a file failed)"""
import hashlib, json, os, sys

def h(data): return hashlib.sha256(data).digest()

def fail(path, why): sys.exit(f"FAILED: {path}: {why}")

def rfc9162_root(leaf_hashes):  # MTH(D[n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])), folded as a stack
    stack = []
    for node in leaf_hashes:
        size = 1
        while stack and stack[-1][0] == size:
            node, size = h(b"\x01" + stack.pop()[1] + node), size * 2
        stack.append((size, node))
    root = stack.pop()[1] if stack else h(b"")
    while stack: root = h(b"\x01" + stack.pop()[1] + root)
    return root

d = sys.argv[1]
manifest = json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))
listed = {o["url"]: o["sha256"] for o in manifest["output"]}
sums = dict(reversed(line.rstrip("\n").split("  ", 1)) for line in open(os.path.join(d, "SHA256SUMS"), encoding="utf-8"))
if sums != listed: fail("SHA256SUMS", "does not list what manifest.json lists")
for path, want in sums.items():
    digest = hashlib.sha256()
    with open(os.path.join(d, path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""): digest.update(block)
    if digest.hexdigest() != want: fail(path, f"SHA-256 {digest.hexdigest()}, SHA256SUMS says {want}")
for feed in manifest["extension"]["wardline"]["feeds"]:
    path = f"feeds/{feed['feed']}.ndjson"
    with open(os.path.join(d, path), encoding="utf-8") as f:
        leaves = [h(b"\x00" + e["seq"].to_bytes(8, "big") + bytes.fromhex(e["bodySha256"])) for e in map(json.loads, f)]
    root = rfc9162_root(leaves).hex()
    if len(leaves) != feed["treeSize"] or root != feed["merkleRoot"]: fail(path, f"root {root} over {len(leaves)} events, manifest says {feed['merkleRoot']} over {feed['treeSize']}")
print(f"OK: {len(sums)} files match SHA256SUMS; {len(manifest['extension']['wardline']['feeds'])} feed roots match manifest.json")
