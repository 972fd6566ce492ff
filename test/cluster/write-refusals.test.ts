import { describe, expect, it } from 'vitest';
import type { EtcdWriteState } from '../../src/cluster/coordinator.js';
import { WriteRefusals } from '../../src/cluster/etcd/write-refusals.js';
import { FakeClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';

describe('WriteRefusals', () => {
  const setup = () => {
    const w = new WriteRefusals(new FakeClock(1_000), silentLogger);
    const counted: string[] = [];
    const episodes: EtcdWriteState[] = [];
    w.events.on('counted', (c) => counted.push(c));
    w.events.on('writes', (s) => episodes.push(s));
    return { w, counted, episodes };
  };
  const nospace = new Error('etcdserver: mvcc: database space exceeded');

  it('one episode from the first refused write to the next accepted one; every refusal counted', () => {
    const { w, counted, episodes } = setup();
    expect(w.failed(nospace, 'alert states')?.cause).toBe('nospace');
    w.failed(nospace, 'claim');
    w.failed(nospace, 'worker record');
    expect(counted).toEqual(['nospace', 'nospace', 'nospace']);
    expect(episodes).toHaveLength(1);
    expect(episodes[0]).toMatchObject({
      refused: true,
      cause: 'nospace',
      what: 'alert states',
      since: 1_000,
    });
    expect(episodes[0]!.remedy).toMatch(/alarm disarm/);
    expect(w.state?.refused).toBe(true);
    w.accepted();
    w.accepted();
    expect(episodes.map((e) => e.refused)).toEqual([true, false]);
    expect(w.state).toBeNull();
  });

  it('network errors and lost compares are not refusals', () => {
    const { w, counted, episodes } = setup();
    expect(w.failed(new Error('14 UNAVAILABLE: connection refused'), 'claim')).toBeNull();
    expect(w.failed(new Error('deadline exceeded'), 'alert states')).toBeNull();
    w.accepted();
    expect(counted).toEqual([]);
    expect(episodes).toEqual([]);
  });
});
