/** Whether larger is better for a log name: accuracies and similar scores; losses and errors are minimised. */
export function higherIsBetter(name: string): boolean {
  const base = name.replace(/^val_/, '');
  return /acc|precision|recall|auc|f1|iou/i.test(base) && !/loss|error|mse|mae/i.test(base);
}

/** The best value of every log series: the maximum for accuracy-like names, the minimum for losses and errors. */
export function bestOf(logs: Readonly<Partial<Record<string, readonly number[]>>>): Record<string, number> {
  const best: Record<string, number> = {};
  for (const [name, series] of Object.entries(logs)) {
    const finite = (series ?? []).filter((v) => Number.isFinite(v));
    if (finite.length === 0) continue;
    // A reduction, not Math.max(...finite): a long series spread into arguments overflows the stack.
    best[name] = finite.reduce((a, b) => (higherIsBetter(name) ? Math.max(a, b) : Math.min(a, b)));
  }
  return best;
}
