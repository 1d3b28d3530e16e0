import type { PeerEvent, PeerEventHandler } from './peer-link.js';

/**
 * Delivers a link's events in order and never from inside one of the link's methods (the
 * PeerLink rule): everything goes through one queue flushed in a microtask, so a `request` that
 * is rejected at once, a `close`, and a socket chunk's ten `block`s all reach the engine the same
 * way. A socket callback may deliver at once instead (`deliverNow`), for `block.data` views of a
 * read buffer that the next read reuses.
 *
 * After `closed` is queued nothing else is, so "no events after closed" holds by construction.
 */
export class EventQueue {
  private queue: PeerEvent[] = [];
  private scheduled = false;
  private ended = false;

  constructor(private readonly handler: PeerEventHandler) {}

  /** True once `closed` was queued. */
  get isEnded(): boolean {
    return this.ended;
  }

  emit(event: PeerEvent): void {
    if (this.ended) return;
    if (event.type === 'closed') this.ended = true;
    this.queue.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /**
   * Delivers what is queued now. Only from outside the link's methods (a socket callback), so the
   * PeerLink rule holds; the microtask already scheduled then finds nothing.
   */
  deliverNow(): void {
    if (this.queue.length > 0) this.flush();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let failure: { err: unknown } | undefined;
    for (const event of batch) {
      try {
        this.handler(event);
      } catch (err) {
        // A throwing handler is the engine's bug: keep delivering (each request must still end
        // exactly once), then surface the first error as an uncaught exception, like any bug.
        failure ??= { err };
      }
    }
    if (failure !== undefined) {
      const { err } = failure;
      queueMicrotask(() => {
        throw err;
      });
    }
  };
}
