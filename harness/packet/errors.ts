/**
 * The one exception a decoder may throw: it names the layer, the field being read,
 * the absolute byte offset in the frame and the rule the bytes broke.
 */
export class DecodeError extends Error {
  constructor(
    readonly layer: string,
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${layer}.${field} at offset ${offset}: ${reason}`);
    this.name = 'DecodeError';
  }
}

/** Throws a DecodeError unless `length` bytes are available at `offset` of `buf`. */
export function need(buf: Uint8Array, offset: number, length: number, layer: string, field: string, base = 0): void {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    throw new DecodeError(layer, field, base + offset, `needs ${length} bytes, ${Math.max(0, buf.length - offset)} left`);
  }
}
