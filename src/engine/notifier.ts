import pg from 'pg';

/**
 * One LISTEN connection per server process. Wakes the scheduler and the outbox dispatcher as
 * soon as another process commits work; they still poll, so a lost notification only costs latency.
 * The session cache needs more: it is told whenever the connection goes down or comes back up,
 * since notifications sent meanwhile are lost.
 */
export class Notifier {
  private client: pg.Client | undefined;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private readonly stateListeners = new Set<(up: boolean) => void>();
  private up = false;
  private closed = false;

  constructor(private readonly url: string, private readonly onError: (err: Error) => void = () => undefined) {}

  async start(channels: string[]): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'duban-listen' });
    let lost = false;
    const down = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (err) this.onError(err);
      this.setUp(false);
      this.reconnect(channels);
    };
    client.on('error', down);
    client.on('end', () => down());
    client.on('notification', (n) => {
      for (const fn of this.handlers.get(n.channel) ?? []) fn(n.payload ?? '');
    });
    try {
      await client.connect();
      for (const ch of channels) await client.query(`LISTEN ${ch}`);
    } catch (err) {
      lost = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.setUp(true);
  }

  /** Told true once every channel is listened to, false when the connection is lost (or stopped). */
  onState(fn: (up: boolean) => void): void {
    this.stateListeners.add(fn);
    if (this.up) fn(true);
  }

  private setUp(up: boolean): void {
    this.up = up && !this.closed;
    for (const fn of this.stateListeners) fn(this.up);
  }

  on(channel: string, fn: (payload: string) => void): void {
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel)!.add(fn);
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.setUp(false);
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

export interface PollingWorkersOptions {
  concurrency: number;
  pollMs: number;
  /** The NOTIFY channel that wakes the workers early. */
  channel: string;
  /** One unit of work; true when it did something (the worker goes on at once). */
  step: () => Promise<boolean>;
  /** How long to sleep when idle; defaults to the poll interval. */
  idleMs?: () => Promise<number>;
  log: (msg: string, err?: unknown) => void;
  what: string;
}

/**
 * N loops that each repeat a unit of work until there is none, then sleep until the next poll or a
 * notification. The timer scheduler and the outbox dispatcher both run on it.
 */
export class PollingWorkers {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wakeups: Wakeup[] = [];

  constructor(private readonly opts: PollingWorkersOptions) {}

  start(notifier?: Notifier): void {
    if (this.running) return;
    this.running = true;
    notifier?.on(this.opts.channel, () => this.wakeAll());
    for (let i = 0; i < this.opts.concurrency; i++) {
      const wake = new Wakeup();
      this.wakeups.push(wake);
      this.loops.push(this.loop(wake));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeups.forEach((w) => w.poke());
    await Promise.all(this.loops);
  }

  /** Cut every idle loop's sleep short (there is more work than the running loops take). */
  wakeAll(): void {
    this.wakeups.forEach((w) => w.poke());
  }

  /** Run the unit of work until none is left; for tests and the CLI. */
  async drain(): Promise<number> {
    let n = 0;
    while (await this.opts.step()) n++;
    return n;
  }

  private async loop(wake: Wakeup): Promise<void> {
    while (this.running) {
      try {
        if (await this.opts.step()) continue;
        await wake.sleep(this.opts.idleMs ? await this.opts.idleMs() : this.opts.pollMs);
      } catch (err) {
        this.opts.log(`${this.opts.what} failed; retrying`, err);
        await wake.sleep(this.opts.pollMs);
      }
    }
  }
}
