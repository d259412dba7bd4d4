import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Appends text or bytes to one file, buffered in memory until {@link flush}. Loggers call `flush` at epoch and fit ends
 * inside `control.await`, so writes never race with the loop and a slow disk holds training only at those boundaries.
 */
export class BufferedFile {
  private chunks: (string | Uint8Array)[] = [];
  private size = 0;
  private handle: Promise<FileHandle> | undefined;
  private chain: Promise<void> = Promise.resolve();

  /** `ready`: the file is opened only once it settles (a resumed log is first cut back to its checkpoint). */
  constructor(
    readonly path: string,
    private readonly mode: 'truncate' | 'append',
    private readonly ready: Promise<unknown> = Promise.resolve(),
  ) {}

  /** Bytes (roughly: string length) waiting in memory. */
  get buffered(): number {
    return this.size;
  }

  write(chunk: string | Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Writes everything buffered so far; resolves when it is on disk (handed to the OS). Calls are serialised. */
  flush(): Promise<void> {
    const chunks = this.chunks;
    this.chunks = [];
    this.size = 0;
    this.chain = this.chain.then(async () => {
      if (chunks.length === 0 && this.handle) return;
      const handle = await this.open();
      if (chunks.length > 0) await handle.write(Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c))));
    });
    return this.chain;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle).close();
  }

  private open(): Promise<FileHandle> {
    this.handle ??= this.ready.then(() => mkdir(dirname(this.path), { recursive: true })).then(() => open(this.path, this.mode === 'truncate' ? 'w' : 'a'));
    return this.handle;
  }
}
