/**
 * Time for the DHT, injected so that token rotation, transaction timeouts, rate limits and
 * expiry run under a test's hand instead of sleeps.
 */
export interface DhtClock {
  /** Milliseconds, monotonic enough for intervals. */
  now(): number;
  setTimeout(fn: () => void, ms: number): DhtTimer;
  clearTimeout(timer: DhtTimer): void;
}

export interface DhtTimer {
  readonly id: unknown;
}

export const systemClock: DhtClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // a pending DHT timer never keeps a process alive
    return { id: t };
  },
  clearTimeout: (timer) => clearTimeout(timer.id as NodeJS.Timeout),
};

/** A clock that moves only when told (`advance`): for tests. */
export class ManualClock implements DhtClock {
  private t: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): DhtTimer {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimeout(timer: DhtTimer): void {
    this.timers.delete(timer.id as number);
  }
  /** Moves time forward, firing due timers in order (timers they set fire too if due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.size;
  }
}
