import { createRequire } from 'node:module';
import type { Parser as ParserType } from 'binary-parser';

// binary-parser 2.x ships an ESM file without exports; its CommonJS build is the working one.
const { Parser } = createRequire(import.meta.url)('binary-parser/dist/binary_parser.js') as { Parser: typeof ParserType };
type Parser = ParserType;
import { need } from './errors.ts';

/**
 * A fixed-size header layout described with binary-parser, read with a bounds check first
 * so a short buffer becomes a DecodeError naming the header instead of a RangeError.
 */
export class Struct<T> {
  readonly size: number;

  constructor(
    readonly layer: string,
    readonly name: string,
    private readonly parser: Parser,
  ) {
    this.size = parser.sizeOf();
    // binary-parser reports NaN for layouts with bit fields: the bounds check would silently pass.
    if (!Number.isInteger(this.size)) throw new Error(`${layer}.${name}: a Struct needs a fixed byte size (no bit fields)`);
  }

  read(buf: Buffer, offset: number, base = 0): T {
    need(buf, offset, this.size, this.layer, this.name, base);
    return this.parser.parse(offset === 0 ? buf : buf.subarray(offset)) as T;
  }
}

/** Starts a big-endian binary-parser layout (network byte order). */
export function layout(): Parser {
  return new Parser().endianness('big');
}
