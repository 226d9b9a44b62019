// The text a relay signs for a tree head (SignedTreeHead.signed_text): one
// field a line, so a vendor can read it, and check it with nothing but
// `minisign -V` on the text and the relay's public key, then check an event's
// inclusion proof against `root` with the RFC 9162 algorithm (merkle-tree.ts).
export const TREE_HEAD_FORMAT = 'wardline tree head v1';

export interface TreeHeadFields {
  hospital: string;
  feed: string;
  /** The window, inclusive. */
  fromSeq: number;
  toSeq: number;
  /** Leaves (events) in the window. */
  treeSize: number;
  /** The window's RFC 9162 root, 32 bytes. */
  root: Uint8Array;
  signedAtMs: number;
}

/** The exact text signed for a tree head: TREE_HEAD_FORMAT, then `name value` lines, each ending in "\n". */
export function treeHeadText(head: TreeHeadFields): string {
  return [
    TREE_HEAD_FORMAT,
    `hospital ${head.hospital}`,
    `feed ${head.feed}`,
    `from-seq ${head.fromSeq}`,
    `to-seq ${head.toSeq}`,
    `tree-size ${head.treeSize}`,
    `root ${Buffer.from(head.root).toString('hex')}`,
    `signed-at ${new Date(head.signedAtMs).toISOString()}`,
    '',
  ].join('\n');
}

/** The fields of a signed text, or undefined when it is not one treeHeadText made. */
export function parseTreeHeadText(text: string): TreeHeadFields | undefined {
  const lines = text.split('\n');
  if (lines.length !== 9 || lines[0] !== TREE_HEAD_FORMAT || lines[8] !== '') return undefined;
  const value = (index: number, name: string): string | undefined => {
    const line = lines[index] ?? '';
    return line.startsWith(`${name} `) ? line.slice(name.length + 1) : undefined;
  };
  const [hospital, feed, from, to, size, root, signedAt] = [
    value(1, 'hospital'),
    value(2, 'feed'),
    value(3, 'from-seq'),
    value(4, 'to-seq'),
    value(5, 'tree-size'),
    value(6, 'root'),
    value(7, 'signed-at'),
  ];
  if ([hospital, feed, from, to, size, root, signedAt].some((v) => v === undefined)) return undefined;
  const numbers = [from, to, size].map((v) => (/^\d+$/.test(v!) ? Number(v) : NaN));
  if (numbers.some((n) => !Number.isSafeInteger(n)) || !/^[0-9a-f]{64}$/.test(root!) || Number.isNaN(Date.parse(signedAt!))) return undefined;
  return { hospital: hospital!, feed: feed!, fromSeq: numbers[0]!, toSeq: numbers[1]!, treeSize: numbers[2]!, root: Buffer.from(root!, 'hex'), signedAtMs: Date.parse(signedAt!) };
}
