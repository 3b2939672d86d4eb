/** Progress lines on stderr: overwritten in place on a TTY, plain lines otherwise (CI logs). */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (msg: string) => void {
  const started = Date.now();
  return (msg: string) => {
    const line = `[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`;
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}`);
    else stream.write(`${line}\n`);
  };
}
