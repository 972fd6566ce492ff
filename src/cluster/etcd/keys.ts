import { isValidName, NAME_RULE } from '../../model/names.js';
import { ClusterError, ClusterErrorCode } from './errors.js';

/** Kinds of keys under `/watcher/<cluster>/`. */
export type KeyKind = 'admin' | 'worker' | 'jobset' | 'owner' | 'move' | 'state';

/**
 * The key layout (docs/CLUSTER.md "Key layout"). Keys sort as
 * admin < jobsets/ < moves/ < owners/ < scaling < state/ < workers/, so the coordination keys other than
 * workers/ form one contiguous range that excludes the (possibly large) alert-state keys.
 */
export class Keys {
  readonly prefix: string;

  constructor(readonly cluster: string) {
    if (!isValidName(cluster)) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `invalid cluster name ${JSON.stringify(cluster)}: use ${NAME_RULE}`,
      );
    }
    this.prefix = `/watcher/${cluster}/`;
  }

  static checkWorkerId(id: string): void {
    if (!isValidName(id)) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `invalid worker id ${JSON.stringify(id)}: use ${NAME_RULE}`,
      );
    }
  }

  get admin(): string {
    return `${this.prefix}admin`;
  }
  /** the admin's "scaling limit hit" episode (ScalingValue) */
  get scaling(): string {
    return `${this.prefix}scaling`;
  }
  worker(id: string): string {
    return `${this.prefix}workers/${id}`;
  }
  jobset(id: string): string {
    return `${this.prefix}jobsets/${id}`;
  }
  owner(id: string): string {
    return `${this.prefix}owners/${id}`;
  }
  move(id: string): string {
    return `${this.prefix}moves/${id}`;
  }
  state(endpoint: string): string {
    return `${this.prefix}state/${endpoint}`;
  }
  get statePrefix(): string {
    return `${this.prefix}state/`;
  }
  get workersPrefix(): string {
    return `${this.prefix}workers/`;
  }

  /** [start, end) of admin, jobsets/, moves/, owners/ (everything before state/). */
  get coordinationRange(): [string, string] {
    return [this.prefix, this.statePrefix];
  }

  parse(key: string): { kind: KeyKind; id: string } | null {
    if (!key.startsWith(this.prefix)) return null;
    const rest = key.slice(this.prefix.length);
    if (rest === 'admin') return { kind: 'admin', id: '' };
    const slash = rest.indexOf('/');
    if (slash <= 0) return null;
    const id = rest.slice(slash + 1);
    if (!id) return null;
    switch (rest.slice(0, slash)) {
      case 'workers':
        return { kind: 'worker', id };
      case 'jobsets':
        return { kind: 'jobset', id };
      case 'owners':
        return { kind: 'owner', id };
      case 'moves':
        return { kind: 'move', id };
      case 'state':
        return { kind: 'state', id };
      default:
        return null;
    }
  }
}

/** The range end covering every key that starts with `prefix` (etcd's "prefix" range). */
export function prefixEnd(prefix: string): Buffer {
  const buf = Buffer.from(prefix);
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
