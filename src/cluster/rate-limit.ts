/**
 * A token bucket: `burst` requests at once, then `qps` a second, like client-go's default limiter.
 * Each caller reserves its token on arrival, so callers go in the order they came.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Time callers have waited for a token, summed (concurrent waits each count). */
  waitedMs = 0;

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(qps > 0) || !(burst >= 1))
      throw new RangeError(`a rate limit needs qps > 0 and burst >= 1 (got qps ${qps}, burst ${burst})`);
    this.tokens = burst;
    this.last = now();
  }

  /** Reserves a token; returns how many milliseconds the caller must wait before using it (0: at once). */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.qps) / 1000);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  /** Resolves when the caller may send its request. */
  async take(): Promise<void> {
    const ms = this.reserve();
    if (ms <= 0) return;
    this.waitedMs += ms;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/**
 * At most `max` requests at once; the others queue in arrival order. A server that slows down under
 * load then sees a bounded number of requests, and each request's timeout runs only once it is sent.
 */
export class InFlightLimit {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`an in-flight limit needs max >= 1 (got ${max})`);
  }

  /** Resolves with the function that frees the slot, once the caller may send its request. */
  async acquire(): Promise<() => void> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    };
  }
}
