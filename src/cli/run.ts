import { tuneHeap } from '../heap-tuning.js';
import { parseRunOptions, RUN_FLAGS, usageOf } from './options.js';

/** `watcher run`: start a worker; SIGTERM/SIGINT stop it gracefully (exit 0). */
export async function runRun(argv: string[]): Promise<number> {
  const opts = parseRunOptions(argv, process.env);
  if (opts === 'help') {
    process.stdout.write(usageOf('run', RUN_FLAGS));
    return 0;
  }
  // Before the app's modules load: V8's young generation must not have grown yet.
  tuneHeap();
  const { startApp } = await import('../app.js');
  const app = await startApp(opts, process.env);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        process.stderr.write(`watcher: second ${sig}, exiting now\n`);
        process.exit(1);
      }
      app.stop(sig).then(
        () => {
          // A library handle (gRPC channel, thread) must not keep a stopped worker alive.
          setTimeout(() => process.exit(0), 500).unref();
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`watcher: error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
