/**
 * A synthetic instance's port as a FrameLink: a TAP device (harness/io/tap.ts) created in the
 * daemon's own namespace, the hypervisor's. A frame the kernel has no room for is reported as not
 * sent (the host counts it); a read failure (the device deleted under us) is logged once. A filter
 * the kernel refuses is logged and the TAP falls back to every frame: reading too much costs CPU,
 * missing a DAD probe or an RA would break the instance.
 */
import { openTap, type TapDevice } from '../io/tap.ts';
import type { FrameLink } from './link.ts';

/** The link, and its TAP for closing many at once (harness/io/tap-bulk-close.ts). */
export function openTapLink(port: string, log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): FrameLink & { tap: TapDevice } {
  const tap = openTap(port);
  tap.onError((err) => log(`${port}: ${err.message}`));
  return {
    name: port,
    send: (frame) => tap.send(frame),
    onFrame: (handler) => {
      tap.onFrames((frames) => {
        for (const f of frames) handler(f);
      });
    },
    acceptOnly: (macs) => {
      try {
        tap.acceptOnly(macs);
      } catch (err) {
        log(`${port}: ${(err as Error).message}; receiving every frame instead`);
        try {
          if (!tap.closed) tap.acceptOnly(null);
        } catch {
          // Nothing more to do: the previous filter stays, and the read error (if any) is logged.
        }
      }
    },
    close: () => tap.close(),
    tap,
  };
}
