// PostgreSQL WAL positions (LSNs) as the server writes them ("16/B374D848") and
// as bigints, so they compare and step by one without floating-point loss.

/** "X/Y" (hex halves) to a bigint. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not a PostgreSQL LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** A bigint LSN as the server prints it. */
export function formatLsn(lsn: bigint): string {
  const value = lsn < 0n ? 0n : lsn;
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}
