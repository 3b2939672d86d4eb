/**
 * The delegated-prefix allocator: lowest free first, k per instance, quarantine
 * of released prefixes, the exact exhaustion error, and rebuild from the store. The property test
 * runs random deploy/destroy/clock/restart sequences against an in-memory store with the same
 * merge rules as the real ones (the real stores run the same model in their own tests).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Allocator, PoolExhaustedError } from './allocator.ts';
import { MinHeap } from './min-heap.ts';
import { IndexSet } from './index-set.ts';
import { MemoryStore } from './testing/memory-store.ts';
import { runLifecycle, stepArb } from './testing/lifecycle-model.ts';

describe('control/allocator', () => {
  const Q = 4_000_000; // Kea's valid-lifetime, 4000 s

  it('hands out the lowest free /60s of the pool, k at a time, aligned and inside it', () => {
    const a = new Allocator('2001:db8:200::/40', 60, { quarantineMs: Q });
    expect(a.allocate().map(String)).to.deep.equal(['2001:db8:200::/60']);
    expect(a.allocate(2).map(String)).to.deep.equal(['2001:db8:200:10::/60', '2001:db8:200:20::/60']);
  });

  it('exhaustion names the pool, takes nothing, and never hands out a duplicate', () => {
    const a = new Allocator('2001:db8::/62', 64, { quarantineMs: 0 });
    a.allocate(2);
    expect(() => a.allocate(3)).to.throw(PoolExhaustedError, /^pool exhausted: 2001:db8::\/62 has no free \/64$/);
    expect(a.allocate(2).map(String)).to.deep.equal(['2001:db8:0:2::/64', '2001:db8:0:3::/64']);
    let err: Error | undefined;
    try {
      a.allocate();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal('pool exhausted: 2001:db8::/62 has no free /64');
    expect(a.liveCount).to.equal(4);
  });

  it('keeps a released prefix out of use until its quarantine ends, then hands it out lowest first', () => {
    let now = 0;
    const a = new Allocator('2001:db8::/62', 64, { quarantineMs: 1000, now: () => now });
    const [p0] = a.allocate(4);
    a.release([p0!]);
    expect(() => a.allocate()).to.throw('pool exhausted: 2001:db8::/62 has no free /64 (1 released /64s are still in quarantine)');
    now = 999;
    expect(() => a.allocate()).to.throw(PoolExhaustedError);
    now = 1000;
    expect(a.allocate().map(String)).to.deep.equal(['2001:db8::/64']);
  });

  it('refuses to release what it did not hand out, releasing nothing', () => {
    const a = new Allocator('2001:db8::/56', 60, { quarantineMs: 0 });
    const [p] = a.allocate();
    expect(() => a.release([p!, '2001:db8:0:10::/60'])).to.throw('2001:db8:0:10::/60 is not allocated');
    expect(() => a.release(['2001:db9::/60'])).to.throw('is not a /60 inside the pool');
    expect(a.isLive(p!)).to.equal(true);
  });

  it('rebuilds from the store: reservations live, quarantine records kept, other holes free', () => {
    const now = 5000;
    const a = Allocator.fromReserved('2001:db8::/56', 60, ['2001:db8:0:30::/60', '2001:db8::/60'], {
      quarantineMs: 1000,
      now: () => now,
      quarantined: [
        { prefix: '2001:db8:0:10::/60', until: 5500 },
        { prefix: '2001:db8:0:50::/60', until: 5500 },
      ],
    });
    expect(a.livePrefixes().map(String)).to.deep.equal(['2001:db8::/60', '2001:db8:0:30::/60']);
    expect(a.allocate(3).map(String)).to.deep.equal(['2001:db8:0:20::/60', '2001:db8:0:40::/60', '2001:db8:0:60::/60']);
  });

  it('rebuilds without quarantine records by quarantining every hole from now (never early)', () => {
    let now = 0;
    const a = Allocator.fromReserved('2001:db8::/56', 60, ['2001:db8:0:20::/60'], { quarantineMs: 1000, now: () => now });
    expect(a.allocate().map(String)).to.deep.equal(['2001:db8:0:30::/60']);
    now = 1000;
    expect(a.allocate().map(String)).to.deep.equal(['2001:db8::/60']);
  });

  it('refuses a store that reserves a prefix twice or outside the pool', () => {
    const opts = { quarantineMs: 0 };
    expect(() => Allocator.fromReserved('2001:db8::/56', 60, ['2001:db8::/60', '2001:db8::/60'], opts)).to.throw('reserves 2001:db8::/60 twice');
    expect(() => Allocator.fromReserved('2001:db8::/56', 60, ['2001:db8:1::/60'], opts)).to.throw('not a /60 inside the pool');
    expect(() => Allocator.fromReserved('2001:db8::/56', 60, ['2001:db8::/64'], opts)).to.throw('not a /60 inside the pool');
  });

  it('property: random deploy/destroy/clock/restart sequences keep every invariant (in-memory store)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(3, 1000), { maxLength: 60 }), async (steps) => {
        await runLifecycle(new MemoryStore(), steps, { pool: '2001:db8::/60', length: 64, quarantineMs: 1000, macPrefix: '02:00:00:00' });
      }),
      { numRuns: 300 },
    );
  });

  it('min-heap pops in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), (xs) => {
        const h = new MinHeap<number>((a, b) => a - b);
        xs.forEach((x) => h.push(x));
        const out: number[] = [];
        while (h.size) out.push(h.pop()!);
        expect(out).to.deep.equal([...xs].sort((a, b) => a - b));
      }),
    );
  });
});

describe('control/index-set', () => {
  it('behaves like a Set of non-negative integers, iterating in ascending order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(5000))), (ops) => {
        const s = new IndexSet();
        const model = new Set<number>();
        for (const [add, i] of ops) {
          expect(add ? s.add(i) : s.delete(i)).to.equal(add ? !model.has(i) : model.has(i));
          if (add) model.add(i);
          else model.delete(i);
        }
        expect(s.size).to.equal(model.size);
        expect([...s]).to.deep.equal([...model].sort((a, b) => a - b));
        expect(s.has(2 ** 40)).to.equal(false);
      }),
    );
  });
});
