/** One row of a cluster bench table (bench/run-all.mjs): the figure, the reference measured in the same run, their ratio. */
export const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

export function benchRow(figure, value, unit, reference = null, refValue = null, goal = '', note = '') {
  return {
    figure,
    value,
    unit,
    reference,
    refValue,
    ratio:
      Number.isFinite(value) && Number.isFinite(refValue) && refValue
        ? Math.round((value / refValue) * 100) / 100
        : null,
    goal,
    note,
  };
}
