#!/usr/bin/env node
/**
 * `watcher` entry point: dispatches subcommands. Exit codes: 0 ok, 1 failure/invalid, 2 usage.
 */
import { UsageError, WatcherError } from '../model/errors.js';
import { VERSION } from '../version.js';

const USAGE = `Usage: watcher <command> [options]

Commands:
  run                       start a worker (standalone without --etcd)
  validate DIR_OR_FILE...   check endpoint files; exit 0 valid, 1 invalid, 2 usage
  status                    print the cluster as etcd holds it (--json)
  apply DIR                 push endpoint files into the cluster's desired state
  silence ENDPOINT|--tag T  hold alerts --for DURATION --reason TEXT (checks go on)
  unsilence ENDPOINT|--tag T
  pause ENDPOINT            stop checking an endpoint cluster-wide until resume
  resume ENDPOINT
  run-now ENDPOINT          one extra check by the owner now; prints the result

Run 'watcher <command> --help' for the options of a command.
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).runRun,
  status: async () => (await import('./status.js')).runStatus,
  apply: async () => (await import('./apply.js')).runApply,
  validate: async () => (await import('./validate.js')).runValidate,
  silence: async () => (await import('./commands.js')).commandRunner('silence'),
  unsilence: async () => (await import('./commands.js')).commandRunner('unsilence'),
  pause: async () => (await import('./commands.js')).commandRunner('pause'),
  resume: async () => (await import('./commands.js')).commandRunner('resume'),
  'run-now': async () => (await import('./commands.js')).commandRunner('run-now'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`watcher: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`watcher ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof WatcherError) {
      // an expected failure with a stable code (id in use, auth failed, ...): no stack trace
      process.stderr.write(`watcher ${name}: ${err.message} [${err.code}]\n`);
      process.exit(1);
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`watcher: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
