/**
 * What a TAP device and a packet socket share: frames in as batches from the main loop (uv_poll,
 * never the thread pool), non-blocking send, idempotent close, counters. One JS callback call per
 * batch; each frame is a Buffer view into that batch's own fresh copy, so keeping it is safe.
 */
import type { NativePort } from './native.ts';

export interface FrameCounters {
  framesIn: number;
  framesOut: number;
  /** Frames the kernel refused (no room: EAGAIN/ENOBUFS; link down: EIO/ENETDOWN): send() returned false. */
  dropsOut: number;
  /** Frames longer than the addon's MAX_FRAME (64 KiB), delivered cut. */
  truncatedIn: number;
}

export type FramesHandler = (frames: Buffer[]) => void;
export type PortErrorHandler = (error: Error) => void;

export class FramePort {
  readonly name: string;
  readonly ifindex: number;
  #native: NativePort;
  #closed = false;
  #onFrames: FramesHandler | undefined;
  #onError: PortErrorHandler | undefined;
  #counters = { framesIn: 0, framesOut: 0, dropsOut: 0 };

  protected constructor(native: NativePort) {
    this.#native = native;
    this.name = native.name;
    this.ifindex = native.ifindex;
  }

  protected get native(): NativePort {
    return this.#native;
  }

  /** Starts delivering received frames to `handler` (a later call replaces it); frames wait in the kernel until then. */
  onFrames(handler: FramesHandler): this {
    this.#onFrames = handler;
    this.#native.start((buf, lengths, count, error) => this.#deliver(buf, lengths, count, error));
    return this;
  }

  /** Stops delivery (frames wait in the kernel, up to its queue) until onFrames() is called again. */
  pause(): this {
    if (!this.#closed) this.#native.stop();
    return this;
  }

  /** A read failure (e.g. the device was deleted) stops delivery and goes here; without a handler it is thrown. */
  onError(handler: PortErrorHandler): this {
    this.#onError = handler;
    return this;
  }

  /** Writes one whole Ethernet frame without blocking: false (dropsOut counted) when the kernel has no room or the link is down. */
  send(frame: Uint8Array): boolean {
    const ok = this.#native.send(frame);
    if (ok) this.#counters.framesOut++;
    else this.#counters.dropsOut++;
    return ok;
  }

  /** Stops reading and closes the fd (a TAP vanishes with it); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counters since open (a snapshot). */
  get counters(): FrameCounters {
    return { ...this.#counters, truncatedIn: this.#native.truncated() };
  }

  #deliver(buf: Buffer | null, lengths: Uint32Array | null, count: number, error?: string): void {
    if (error !== undefined || !buf || !lengths) {
      const err = new Error(error ?? `${this.name}: delivery without frames`);
      if (this.#onError) this.#onError(err);
      else throw err;
      return;
    }
    // `lengths` is reused by the next batch: read it now.
    const frames = new Array<Buffer>(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      frames[i] = buf.subarray(offset, offset + len);
      offset += len;
    }
    this.#counters.framesIn += count;
    this.#onFrames?.(frames);
  }
}
