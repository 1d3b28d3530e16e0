/**
 * Events per second over a sliding window of one-second buckets, on an injected clock, so the
 * `/stats` figures are testable and cost one array write per event.
 */
export class RateCounter {
  private readonly counts: Float64Array;
  private readonly seconds: Float64Array;
  total = 0;

  constructor(private readonly windowSec = 10) {
    this.counts = new Float64Array(windowSec);
    this.seconds = new Float64Array(windowSec).fill(-1);
  }

  add(nowMs: number, n = 1): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % this.windowSec;
    if (this.seconds[i] !== sec) {
      this.seconds[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
    this.total += n;
  }

  /** Average over the last full `windowSec` seconds (the current, partial second excluded). */
  perSecond(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < this.windowSec; i++) {
      const s = this.seconds[i]!;
      if (s < sec && s >= sec - this.windowSec) sum += this.counts[i]!;
    }
    return sum / this.windowSec;
  }
}
