// GET /readyz on the relay: it can do its job — the store answers and the gRPC
// server is listening — as opposed to /healthz, which says the process runs.
// Pure: the checks are functions.

export interface RelayReadiness {
  ready: boolean;
  checks: { name: string; ok: boolean; detail: string | null }[];
}

export function checkRelayReadiness(checks: readonly { name: string; check: () => string | null }[]): RelayReadiness {
  const results = checks.map(({ name, check }) => {
    let detail: string | null;
    try {
      detail = check();
    } catch (error) {
      detail = (error as Error).message;
    }
    return { name, ok: detail === null, detail };
  });
  return { ready: results.every((r) => r.ok), checks: results };
}
