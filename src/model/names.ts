/**
 * The one rule for worker ids and cluster names (they become etcd key segments):
 * 1-128 of A-Z a-z 0-9 . _ : @ -.
 */
const NAME_RE = /^[A-Za-z0-9._:@-]{1,128}$/;

export const NAME_RULE = '1-128 of A-Z a-z 0-9 . _ : @ -';

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}
