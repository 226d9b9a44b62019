// Keeps a long-running command alive until SIGTERM or SIGINT, then stops it
// cleanly. A second signal while stopping exits at once.

export function runUntilSignal(stop: () => Promise<void>, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      log(`${signal}: stopping`);
      stop()
        .catch((error: unknown) => {
          log(`error while stopping: ${(error as Error).message}`);
          process.exitCode = 1;
        })
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
