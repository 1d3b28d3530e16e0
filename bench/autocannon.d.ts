/** The little of npm `autocannon` (plain JavaScript, no types of its own) that `bench/serve.ts` uses. */
declare module 'autocannon' {
  export interface AutocannonOptions {
    readonly url: string;
    /** Concurrent connections (each keep-alive). */
    readonly connections?: number;
    /** Requests in flight per connection. */
    readonly pipelining?: number;
    /** Seconds. */
    readonly duration?: number;
    /** Requests in all, instead of a duration. */
    readonly amount?: number;
    readonly headers?: Record<string, string>;
  }
  export interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly p50: number;
    readonly p99: number;
    readonly total: number;
  }
  export interface AutocannonResult {
    readonly requests: Histogram;
    readonly latency: Histogram;
    readonly throughput: Histogram;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
    readonly '2xx': number;
  }
  function autocannon(opts: AutocannonOptions): Promise<AutocannonResult>;
  export default autocannon;
}
