/** A seeded pseudo-random generator: reproducible samples (the scale profile's picks, fault trials) and fuzz mutations. */
/** mulberry32: a tiny seeded PRNG (not for secrets), far faster than fast-check's for millions of plain byte mutations. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const between = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { next, int, between, bytes, pick: <T>(items: readonly T[]) => items[int(items.length)]! };
}
export type Rng = ReturnType<typeof prng>;
