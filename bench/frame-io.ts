/**
 * Frame I/O through a TAP (harness/io, the native addon) on one core's worth of main loop:
 * out = frames/s written with send() (the kernel receives them on the TAP);
 * in  = frames/s delivered by onFrames while a packet socket on the TAP's kernel side sends one
 * read batch (the addon's BATCH, 64) per loop turn — a port reads at most one batch per turn, so a
 * faster sender in the same loop only overflows the TAP's queue (counted as lost);
 * plus the cost of opening and closing 250 TAPs in one namespace (a synthetic-instance host), one
 * close() at a time and with closeTaps (one kernel batch).
 * Runs in a scratch namespace of its own; median of 3 runs.
 */
import { frameIo } from '../harness/io/native.ts';
import { openPacketSocket } from '../harness/io/packet-socket.ts';
import { openTap, type TapDevice } from '../harness/io/tap.ts';
import { closeTaps } from '../harness/io/tap-bulk-close.ts';
import { ScratchNamespace } from '../tests/support/netns.ts';
import { buildFrame } from '../harness/packet/frame.ts';
import { emit, median, progress } from './_stats.ts';

const RUNS = 3;
const WINDOW_MS = 1000;
const BURST = 256;
const frame = buildFrame({ ethernet: { dst: '02:00:5e:40:00:01', src: '02:00:5e:40:00:02', etherType: 0x88b5 }, payload: Buffer.alloc(86) }); // 100 bytes

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

async function outRate(tap: TapDevice): Promise<number> {
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < WINDOW_MS) {
    for (let i = 0; i < BURST; i++) if (tap.send(frame)) sent++;
    await yieldToLoop();
  }
  return sent / ((performance.now() - start) / 1000);
}

async function inRate(ns: ScratchNamespace, tap: TapDevice): Promise<{ perSecond: number; lost: number }> {
  const injector = openPacketSocket(tap.name, { netns: ns.path });
  let received = 0;
  tap.onFrames((frames) => (received += frames.length));
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < WINDOW_MS) {
    for (let i = 0; i < frameIo().BATCH; i++) if (injector.send(frame)) sent++;
    await yieldToLoop();
  }
  const elapsed = (performance.now() - start) / 1000;
  const deadline = Date.now() + 2000; // let the last bursts drain before counting losses
  while (received < sent && Date.now() < deadline) await yieldToLoop();
  injector.close();
  return { perSecond: received / elapsed, lost: sent - received };
}

async function open250(ns: ScratchNamespace): Promise<{ openMs: number; closeMs: number; bulkCloseMs: number }> {
  const openAll = () => Array.from({ length: 250 }, (_, i) => openTap(`fb${i}`, { netns: ns.path }));
  let t = performance.now();
  let taps = openAll();
  const openMs = performance.now() - t;
  t = performance.now();
  for (const tap of taps) tap.close();
  const closeMs = performance.now() - t;
  taps = openAll();
  t = performance.now();
  const { batched } = await closeTaps(taps);
  if (batched !== taps.length) throw new Error(`closeTaps fell back to single closes (${batched}/${taps.length} batched)`);
  return { openMs, closeMs, bulkCloseMs: performance.now() - t };
}

const ns = await ScratchNamespace.create(`bench`, { quiet: true });
try {
  const figures: Record<string, number[]> = { out: [], in: [], lost: [], open: [], close: [], bulkClose: [] };
  for (let run = 1; run <= RUNS; run++) {
    progress(`run ${run}/${RUNS}`);
    const tap = openTap('fiob0', { netns: ns.path });
    await ns.ip('link', 'set', 'fiob0', 'up');
    figures.out!.push(await outRate(tap));
    const got = await inRate(ns, tap);
    figures.in!.push(got.perSecond);
    figures.lost!.push(got.lost);
    tap.close();
    const { openMs, closeMs, bulkCloseMs } = await open250(ns);
    figures.open!.push(openMs);
    figures.close!.push(closeMs);
    figures.bulkClose!.push(bulkCloseMs);
  }
  const m = (k: string) => Math.round(median(figures[k]!));
  emit({
    bench: 'frame-io',
    frame_bytes: frame.length,
    runs: RUNS,
    tap_out_frames_per_s: m('out'),
    tap_in_frames_per_s: m('in'),
    tap_in_lost_per_window: m('lost'),
    open_250_taps_ms: m('open'),
    close_250_taps_one_by_one_ms: m('close'),
    close_250_taps_closeTaps_ms: m('bulkClose'),
  });
} finally {
  await ns.delete();
}
