// Welcome.features for the exit: each names messages an agent may send only to
// a relay that lists it (an older relay lists none; the agent then says which
// upgrade is missing instead of sending what the relay cannot read).
/** ProofRequest / ProofAnswer and Batch.repair: completeness proofs. */
export const PROOF_FEATURE = 'proof-v1';
/** Purge / Purged: a feed deleted for good, with a signed receipt. */
export const PURGE_FEATURE = 'purge-v1';
/** The Export RPC: the hospital's signed export, fetched by its agent. */
export const EXPORT_FEATURE = 'export-v1';
