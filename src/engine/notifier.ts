import pg from 'pg';

/**
 * One LISTEN connection per server process. Wakes the scheduler and the outbox dispatcher as
 * soon as another process commits work; they still poll, so a lost notification only costs latency.
 */
export class Notifier {
  private client: pg.Client | undefined;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private closed = false;

  constructor(private readonly url: string, private readonly onError: (err: Error) => void = () => undefined) {}

  async start(channels: string[]): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'duban-listen' });
    client.on('error', (err) => {
      this.onError(err);
      this.reconnect(channels);
    });
    client.on('notification', (n) => {
      for (const fn of this.handlers.get(n.channel) ?? []) fn(n.payload ?? '');
    });
    await client.connect();
    for (const ch of channels) await client.query(`LISTEN ${ch}`);
    this.client = client;
  }

  on(channel: string, fn: (payload: string) => void): void {
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel)!.add(fn);
  }

  async stop(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }

  private reconnect(channels: string[]): void {
    if (this.closed) return;
    setTimeout(() => {
      if (!this.closed) this.start(channels).catch((err) => { this.onError(err); this.reconnect(channels); });
    }, 1000).unref();
  }
}

/** A sleep that a notification can cut short. */
export class Wakeup {
  private wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  poke(): void {
    this.wake?.();
  }
}
