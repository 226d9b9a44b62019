// GET /readyz on agent and relay: whether the process can do its job right now
// (agent: journal answers, every source listening; relay: store answers, gRPC
// listening), as opposed to /healthz, which only says the process runs. A load
// balancer or monitor takes a part that is not ready out of rotation; the checks
// say why. Pure: the checks are functions.

export interface ReadinessCheck {
  /** "journal", "source his-lis", "store". */
  name: string;
  /** Throws, or returns a reason, when the part cannot do its job; returns null when it can. */
  check: () => string | null;
}

export interface ReadinessReport {
  ready: boolean;
  checks: { name: string; ok: boolean; detail: string | null }[];
}

export function checkReadiness(checks: readonly ReadinessCheck[]): ReadinessReport {
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
