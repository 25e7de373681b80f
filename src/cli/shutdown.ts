/** Resolves after SIGINT/SIGTERM (or stdout closing) once `cleanup` has finished. */
export function onShutdown(cleanup: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const stop = (): void => {
      if (done) return;
      done = true;
      cleanup().finally(() => {
        // Whatever still holds the event loop after an orderly close must not keep us alive.
        setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') stop();
    });
  });
}
