import { UsageError } from '../model/errors.js';

/** Placeholder until the config module lands: replaced by the real `watcher validate`. */
export async function runValidate(argv: string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError('expected at least one DIR_OR_FILE');
  return 0;
}
