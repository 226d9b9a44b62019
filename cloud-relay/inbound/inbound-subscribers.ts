// Who is told of a hospital's new inbound writes and stored receipts in this
// process (InboundStore.subscribe): the agent streams waiting to send. Both
// backends keep them the same way; a listener's fault never touches the store.
export type InboundListener = (what: 'write' | 'receipt', channel: string) => void;

export class InboundSubscribers {
  private readonly byHospital = new Map<string, Set<InboundListener>>();

  /** Adds `listener` for `hospital`; the returned function removes it. */
  subscribe(hospital: string, listener: InboundListener): () => void {
    let set = this.byHospital.get(hospital);
    if (!set) this.byHospital.set(hospital, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.byHospital.get(hospital);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.byHospital.delete(hospital);
    };
  }

  /** Tells every listener of `hospital`. */
  notify(hospital: string, what: 'write' | 'receipt', channel: string): void {
    const set = this.byHospital.get(hospital);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(what, channel);
      } catch {
        // A listener's fault is its own: the write is stored whatever it does.
      }
    }
  }

  clear(): void {
    this.byHospital.clear();
  }
}
