/** Shared helpers for benchmarks: medians of repeated runs, progress on stderr, one JSON line on stdout. */

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Runs `fn` repeatedly for about `ms` milliseconds and returns operations per second. */
export function rate(fn: () => unknown, ms = 1000): number {
  for (let i = 0; i < 1000; i++) fn(); // warm up the JIT before timing
  let ops = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return ops / (Number(elapsed) / 1e9);
}

export function emit(result: object): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
